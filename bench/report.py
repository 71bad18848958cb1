#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/report's second half: reads what the benchmarks wrote in RESULTS for STAMP and writes
report-STAMP.md, the gnuplot data files and plots-STAMP.gp (which makes latency-STAMP.png and
throughput-STAMP.png). Usage: report.py RESULTS STAMP"""
import json
import os
import statistics
import sys
from collections import defaultdict

R, STAMP = sys.argv[1], sys.argv[2]


def path(name):
    return os.path.join(R, name)


def read_env(p):
    env = {}
    for line in open(p):
        k, _, v = line.rstrip("\n").partition("=")
        env[k] = v
    return env


def size_label(n):
    for unit, div in (("M", 1 << 20), ("K", 1 << 10)):
        if n >= div and n % div == 0:
            return f"{n // div} {unit}iB"
    return f"{n} B"


def spread(samples, m):
    """half the range of the samples, as a share of the median"""
    return (max(samples) - min(samples)) / 2 / m * 100 if m else 0.0


env = read_env(path(f"machine-{STAMP}.env"))
quick = env.get("quick") == "1"
out = []
w = out.append

w("# skfastpath: benchmark report")
w("")
if env.get("note"):
    w(f"**{env['note']}**")
    w("")
w(f"Taken {env['date']} on {env['cpu']}, {env['nproc']} CPUs, {env['memory']}, Linux {env['kernel']} "
  f"(virtualisation: {env['virt']}). Load average at the start {env['loadavg_start']}, at the end "
  f"{env.get('loadavg_end', '?')}. {'A --quick run' if quick else 'A full run'}: "
  f"{env.get('elapsed', '?')} s. Made by `sudo bench/report{' --quick' if quick else ''}`; "
  "every number is a median of 5 interleaved repetitions, with the client pinned to CPU 0 and "
  "the relay and server to CPU 1.")
w("")

# ---- skfastpath vs nftables tproxy --------------------------------------------------------

MODES = [
    ("direct", "no proxy"),
    ("tproxy-fp-no", "nft tproxy"),
    ("tproxy-fp-yes", "nft tproxy + fastpath"),
    ("intercept-fp-no", "skfastpath, fastpath off"),
    ("intercept-fp-yes", "skfastpath"),
]
tsv = path(f"intercept-{STAMP}.tsv")
v = defaultdict(list)
if os.path.exists(tsv):
    for line in open(tsv):
        rnd, mode, test, value = line.rstrip("\n").split("\t")
        kind, size = test.split(":")
        v[(kind, int(size), mode)].append(float(value))

w("## skfastpath against nftables tproxy")
w("")
w("The client in one network namespace talks to a server in another over a veth pair, through "
  "the same relay (skfastpathd's) in five set-ups:")
w("")
w("- **no proxy**: the client connects to the server directly (the reference).")
w("- **nft tproxy**: the usual way to build a transparent proxy today. An nftables `output` chain "
  "(type route) marks the client's packets to the port (not the relay's own, which carry its "
  "bypass mark), `ip rule fwmark 0x1 lookup 100` with `local default dev lo` in table 100 "
  "routes them to `lo`, and a `prerouting` rule on `lo` does `tproxy to :15001`. skfastpathd "
  "runs with `Relay=yes` and no managed interface, so only nftables steers traffic to its "
  "listener. **+ fastpath**: the same, with skfastpathd's sockmap shortcut on the "
  "client-to-relay hop.")
w("- **skfastpath**: skfastpathd intercepts on the client's interface with its TC programs "
  "(egress redirect, lo ingress `bpf_sk_assign`) and the fastpath on; **fastpath off**: the "
  "same with `Fastpath=no`.")
w("")
w("Ping-pong: the client sends a message of the given size and waits for it to come back, "
  "again and again, on one connection; the latency is the mean round trip (1 / transactions "
  "per second). Bulk: the client writes messages of the given size one way as fast as it can. "
  f"Each cell ran {env.get('ic_secs', '?')} s. "
  "± is half the range of the 5 samples, as a share of the median: large ones mean a noisy "
  "machine.")
w("")


def table(kind, unit, fmt, transform, better):
    sizes = sorted({s for k, s, _ in v if k == kind})
    if not sizes:
        w("(no data: bench/intercept did not run; see its log)")
        w("")
        return {}
    cols = " | ".join(name for _, name in MODES)
    w(f"| message | {cols} | skfastpath ÷ nft tproxy | the same, both without fastpath |")
    w("|---:|" + "---:|" * len(MODES) + "---:|---:|")
    series = {}
    for s in sizes:
        cells = []
        meds = {}
        for mode, _ in MODES:
            samples = [transform(x) for x in v.get((kind, s, mode), [])]
            if not samples:
                cells.append("-")
                continue
            m = statistics.median(samples)
            meds[mode] = m
            series.setdefault(mode, []).append((s, m, min(samples), max(samples)))
            cells.append(f"{fmt(m)} <sub>±{spread(samples, m):.0f}%</sub>")

        def ratio(a, b):
            if a not in meds or b not in meds:
                return "-"
            return f"{meds[a] / meds[b]:.2f}x"
        w(f"| {size_label(s)} | " + " | ".join(cells) +
          f" | {ratio('intercept-fp-yes', 'tproxy-fp-no')} | {ratio('intercept-fp-no', 'tproxy-fp-no')} |")
    w("")
    w(f"{unit}; {better}. The last two columns divide skfastpath's figure by nft tproxy's (without "
      "the fastpath): with the fastpath, and both without it (the interception alone).")
    w("")
    return series


w("### Latency (ping-pong)")
w("")
lat = table("pingpong", "Mean round trip in µs", lambda x: f"{x:.1f}", lambda tps: 1e6 / tps,
            "lower is better")
w(f"![Latency by message size](latency-{STAMP}.png)")
w("")
w("### Throughput (bulk)")
w("")
thr = table("bulk", "MiB/s", lambda x: f"{x:.0f}", lambda x: x, "higher is better")
w(f"![Throughput by message size](throughput-{STAMP}.png)")
w("")

# ---- the fastpath alone -------------------------------------------------------------------

w("## The fastpath alone (bench/fastpath)")
w("")
fj = path(f"fastpath-{STAMP}.json")
if os.path.exists(fj):
    d = json.load(open(fj))
    w(f"A client and a server on loopback in one process (threads pinned to CPUs {d['client_cpu']} "
      f"and {d['server_cpu']}), {d['repetitions']} repetitions of {d['seconds_per_cell']} s per "
      "cell: plain TCP, the fastpath, the fastpath with `PassLargeWrites="
      f"{d['pass_large_writes']}` (plw: a connection leaves the fastpath at its first write that "
      "large), and an AF_UNIX socket pair as the floor. Ping-pong in transactions/s with the "
      "p50/p99 round trip in µs, bulk in MB/s.")
    w("")
    w("| workload | tcp | fastpath | plw | unix | fastpath / tcp |")
    w("|---|---:|---:|---:|---:|---:|")
    for wl in d["workloads"]:
        m = wl["modes"]
        pp = wl["unit"] == "transactions_per_second"

        def cell(mode):
            x = m[mode]
            s = spread(x["samples"], x["median"]) if x["median"] else 0
            c = f"{x['median']:.0f} <sub>±{s:.0f}%</sub>"
            if pp:
                c += f"<br><sub>{x['p50_us']:.0f}/{x['p99_us']:.0f} µs</sub>"
            return c
        w(f"| {wl['name']} | " + " | ".join(cell(x) for x in ("tcp", "fastpath", "plw", "unix")) +
          f" | {m['fastpath']['ratio_to_tcp']:.2f}x |")
    w("")
else:
    w("(no data: bench/fastpath did not run; see its log)")
    w("")

# ---- footprint ----------------------------------------------------------------------------

w("## Footprint (bench/footprint)")
w("")
fl = path(f"footprint-{STAMP}.log")
lines = [l.rstrip() for l in open(fl)] if os.path.exists(fl) else []
lines = [l for l in lines if "target" in l or "over" in l or "p90" in l]
if lines:
    w("skfastpathd's start-to-READY time, its resident memory, and the D-Bus round trip of a "
      "change (authorised, applied and saved to the state file with fsync before the reply):")
    w("")
    w("```")
    out.extend(lines)
    w("```")
else:
    w("(no data: bench/footprint did not run; see its log)")
w("")

w("## Reproducing")
w("")
w("`sudo bench/report` (about 10 minutes; `--quick` about 2) runs all of it on a Debian 12 "
  "machine after `scripts/bootstrap`; the benchmarks make their own namespaces, cgroups and "
  "pin directories and remove them. The raw samples stay in `bench/results/` (not in git): "
  f"`intercept-{STAMP}.tsv`, `fastpath-{STAMP}.json`, `footprint-{STAMP}.log`. Each benchmark "
  "also runs alone: `bench/intercept/run.sh` (with `BENCH_TPROXY=1` for the nftables set-up), "
  "`bench/fastpath/run.sh`, `bench/footprint`.")
w("")

open(path(f"report-{STAMP}.md"), "w").write("\n".join(out))
# one line for README.md (bench/report --publish puts it there)
summary = (f"The figures now in it were taken {env['date']} on {env['cpu']}, {env['nproc']} CPUs, "
           f"Linux {env['kernel']}, with `bench/report{' --quick' if quick else ''}`"
           + "." + (f" **{env['note']}**" if env.get("note") else ""))
open(path(f"summary-{STAMP}.txt"), "w").write(summary + "\n")

# ---- plots --------------------------------------------------------------------------------

STYLE = {
    "direct": "lc rgb '#808080' dt 2 pt 1",
    "tproxy-fp-no": "lc rgb '#d95f02' pt 5",
    "tproxy-fp-yes": "lc rgb '#d95f02' dt 3 pt 4",
    "intercept-fp-no": "lc rgb '#1b9e77' dt 3 pt 6",
    "intercept-fp-yes": "lc rgb '#1b9e77' pt 7",
}
gp = []
for name, series, ylabel, title in (
        ("latency", lat, "mean round trip (µs), lower is better", "Ping-pong latency by message size"),
        ("throughput", thr, "MiB/s, higher is better", "Bulk throughput by write size")):
    for mode, pts in series.items():
        with open(path(f"data-{STAMP}-{name}-{mode}.dat"), "w") as f:
            for s, m, lo, hi in pts:
                f.write(f"{s} {m} {lo} {hi}\n")
    gp.append("set terminal pngcairo size 900,540 enhanced font 'sans,11'")
    gp.append(f"set output 'latency-{STAMP}.png'" if name == "latency" else
              f"set output 'throughput-{STAMP}.png'")
    gp.append(f"set title \"{title}\\n{{/*0.8 {env['cpu']}, {env['nproc']} CPUs, Linux {env['kernel']}, "
              f"{env['date']}; medians, bars: min-max of 5}}\"")
    gp.append("set logscale x 2")
    sizes = sorted({p[0] for pts in series.values() for p in pts})
    if sizes:
        gp.append("set xtics (" + ", ".join(f"'{size_label(x)}' {x}" for x in sizes) + ")")
        gp.append(f"set xrange [{sizes[0] / 1.5}:{sizes[-1] * 1.5}]")
    gp.append(f"set xlabel '{'message size' if name == 'latency' else 'write size'}'")
    gp.append(f"set ylabel '{ylabel}'")
    gp.append("set yrange [0:*]")
    gp.append("set grid ytics")
    gp.append("set key below maxrows 2 width 2")
    plots = []
    for i, (mode, label) in enumerate(MODES):
        if mode in series:
            # each mode a little to the side (x is logarithmic), so the bars do not hide each other
            off = (i - 2) * 0.05
            plots.append(f"'data-{STAMP}-{name}-{mode}.dat' using ($1*2**{off}):2:3:4 with yerrorlines "
                         f"{STYLE[mode]} lw 2 title '{label}'")
    if plots:
        gp.append("plot " + ", \\\n     ".join(plots))
    else:
        gp.append("set label 'no data' at graph 0.5, 0.5 center")
        gp.append("plot [1:2] [0:1] NaN notitle")
    gp.append("unset output")
    gp.append("reset")
open(path(f"plots-{STAMP}.gp"), "w").write("\n".join(gp) + "\n")
