#!/usr/bin/env bash
# bench/intercept: a direct connection vs an intercepted one (relay) with the fastpath off and on,
# ping-pong (transactions/s) and bulk (MiB/s), interleaved, medians and ratios. With
# BENCH_TPROXY=1 also the usual alternative: the same relay behind an nftables tproxy rule.
#
#   sudo bench/intercept/run.sh            (after scripts/build; ROUNDS=5 SECS=2 by default)
#   sudo BENCH_TPROXY=1 bench/intercept/run.sh
#
# Topology (tests/lib/lab.sh): client namespace --veth--> world namespace, the world server on
# 198.18.0.10 port 5201 (intercepted by skfastpathd), 5202 (direct) and 5203 (nftables tproxy);
# all go over the same veth. The daemon and the client run in the test cgroup (the fastpath's
# sockops sees their sockets); the fastpath switch is the config key Fastpath= (the daemon
# restarts between modes). Modes, each round in a rotated order:
#   direct            no daemon: the client talks to the world server itself
#   intercept-fp-*    skfastpathd: Interfaces=skfp-c0, Ports=5201, Fastpath=no/yes
#   tproxy-fp-*       skfastpathd with no interface (Ports=5203 only, so the fastpath applies to
#                     the client-to-relay hop), Relay=yes; nftables steers to its listener:
#                     output chain (type route): tcp dport 5203 without the relay's bypass mark
#                     -> mark 0x1; "fwmark 0x1 lookup 100" + "local default dev lo table 100"
#                     (IPv4 and IPv6); prerouting on lo: mark 0x1 -> tproxy to :15001;
#                     these rules exist only during the tproxy modes
# Pinning (taskset): client on BENCH_CLIENT_CPU (default 0), daemon (relay) and world server on
# BENCH_RELAY_CPU / BENCH_SERVER_CPU (default: 1 if there are 2 CPUs or more, else 0).
# Targets (issue 4): intercepted+fastpath >= 1.3x intercepted without it (transactions/s), and
# >= 0.6x direct.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
export SKFP_SOURCE_ROOT=$top SKFP_BUILD_ROOT=${SKFP_BUILD_ROOT:-$top/build}
. "$top/tests/lib/daemon.sh"
. "$top/tests/lib/lab.sh"

ROUNDS=${ROUNDS:-5}
SECS=${SECS:-2}
TESTS=${TESTS:-"pingpong:1 pingpong:1024 bulk:16384 bulk:262144"}
OUT=${BENCH_OUT:-/tmp/skfp-bench-intercept.tsv}
MODES="direct intercept-fp-no intercept-fp-yes"
[ "${BENCH_TPROXY:-0}" = 1 ] && MODES="$MODES tproxy-fp-no tproxy-fp-yes"
tool="$SKFP_BUILD/bench/skfp-bench-tcp"
[ -x "$tool" ] || { echo "build first: $tool is missing" >&2; exit 1; }
ncpu=$(nproc)
other=$((ncpu > 1 ? 1 : 0))
CCPU=${BENCH_CLIENT_CPU:-0}
RCPU=${BENCH_RELAY_CPU:-$other}
SCPU=${BENCH_SERVER_CPU:-$other}
BYPASS_MARK=0x1f5a0002  # skfastpathd's default BypassMark=: the relay's upstream connections

skfp_env_init bench
lab_init
skfp_config <<CONF
[Manager]
LogLevel=info
CONF

# "$@" inside the test cgroup, pinned to CPU $1; as a plain command (never a function in the
# background: $! would be a subshell) it execs all the way, so $! is the program itself
in_cg=(bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec taskset -c "$@"' sh "$CG")

server_pids=()
for port in 5201 5202 5203; do
        taskset -c "$SCPU" nsenter --net="/run/netns/$WNS" "$tool" server "$port" 3600 >"$T/server$port.out" 2>&1 &
        server_pids+=($!)
        lab_wait_for "$T/server$port.out" ready
done
SKFP_CLEANUP_HOOKS+=('kill "${server_pids[@]}" 2>/dev/null || true')

# The usual transparent proxy set-up, in the client namespace only, present only during the
# tproxy modes (each mode pays for its own rules only).
tproxy_setup() {
        in_client nft -f - <<NFT
table inet skfp_bench_tproxy {
        chain output {
                type route hook output priority mangle; policy accept;
                meta l4proto tcp tcp dport 5203 meta mark != $BYPASS_MARK meta mark set 0x1
        }
        chain prerouting {
                type filter hook prerouting priority mangle; policy accept;
                iifname "lo" meta mark 0x1 meta l4proto tcp tproxy to :15001
        }
}
NFT
        ip -n "$NS" rule add fwmark 0x1 lookup 100
        ip -n "$NS" route add local 0.0.0.0/0 dev lo table 100
        ip -n "$NS" -6 rule add fwmark 0x1 lookup 100
        ip -n "$NS" -6 route add local ::/0 dev lo table 100
}

tproxy_teardown() {
        in_client nft delete table inet skfp_bench_tproxy
        ip -n "$NS" rule del fwmark 0x1 lookup 100
        ip -n "$NS" route del local 0.0.0.0/0 dev lo table 100
        ip -n "$NS" -6 rule del fwmark 0x1 lookup 100
        ip -n "$NS" -6 route del local ::/0 dev lo table 100
}

port_of() {
        case $1 in
        direct) echo 5202 ;;
        intercept-*) echo 5201 ;;
        tproxy-*) echo 5203 ;;
        esac
}

daemon_start() { # MODE: its own config file, the base one plus the mode's keys
        local conf="$T/$1.conf"
        cp "$T/skfastpathd.conf" "$conf"
        case $1 in
        intercept-*) printf '[Intercept]\nInterfaces=skfp-c0\nPorts=5201\n' >>"$conf" ;;
        tproxy-*) printf '[Intercept]\nPorts=5203\n[Listener]\nRelay=yes\n' >>"$conf" ;;
        esac
        printf '[Fastpath]\nFastpath=%s\n' "${1##*-fp-}" >>"$conf"
        "${in_cg[@]}" "$RCPU" nsenter --net="/run/netns/$NS" "$SKFP_BUILD/daemon/skfastpathd" \
                --config="$conf" >>"$T/daemon.log" 2>&1 &
        SKFP_DAEMON_PID=$!
        for _ in $(seq 250); do
                busctl --system get-property org.skfastpath1 /org/skfastpath1 org.skfastpath1.Manager Version >/dev/null 2>&1 && return 0
                kill -0 "$SKFP_DAEMON_PID" 2>/dev/null || { cat "$T/daemon.log" >&2; return 1; }
                sleep 0.02
        done
        echo "daemon did not start" >&2
        return 1
}

run_one() { # MODE PORT TEST SIZE ROUND
        local v
        v=$("${in_cg[@]}" "$CCPU" nsenter --net="/run/netns/$NS" "$tool" "$3" 198.18.0.10 "$2" "$4" "$SECS")
        printf '%s\t%s\t%s:%s\t%s\n' "$5" "$1" "$3" "$4" "$v" >>"$OUT"
        printf '  round %s %-16s %-16s %s\n' "$5" "$1" "$3:$4" "$v"
}

read -ra modes <<<"$MODES"
: >"$OUT"
echo "bench/intercept: $ROUNDS rounds x ${SECS}s; modes: $MODES"
echo "client CPU $CCPU, relay CPU $RCPU, server CPU $SCPU"
for round in $(seq "$ROUNDS"); do
        # every round starts with another mode, so drift does not favour one
        for i in $(seq 0 $((${#modes[@]} - 1))); do
                mode=${modes[$(((i + round - 1) % ${#modes[@]}))]}
                case $mode in tproxy-*) tproxy_setup ;; esac
                [ "$mode" = direct ] || daemon_start "$mode"
                for t in $TESTS; do
                        run_one "$mode" "$(port_of "$mode")" "${t%%:*}" "${t#*:}" "$round"
                done
                if [ "$mode" != direct ]; then
                        skfp_busctl call org.skfastpath1 /org/skfastpath1 org.skfastpath1.Manager GetStatistics |
                                tr -d '"' | awk '{ for (i = 3; i < NF; i += 2) print $i, $(i + 1) }' >"$T/stats"
                        skfp_daemon_stop
                        # each test was one connection: all of them must have gone through the relay
                        n=$(awk '$1 == "relayed-connections" { print $2 }' "$T/stats")
                        if [ "${n:-0}" -ne "$(wc -w <<<"$TESTS")" ]; then
                                echo "bench/intercept: mode $mode relayed ${n:-0} connections, not $(wc -w <<<"$TESTS")" >&2
                                exit 1
                        fi
                fi
                case $mode in tproxy-*) tproxy_teardown ;; esac
        done
done
grep '^relay' "$T/stats" 2>/dev/null | tr '\n' ' ' || true
echo

/usr/bin/python3 - "$OUT" <<'PY'
import statistics, sys
from collections import defaultdict
v = defaultdict(list)
for line in open(sys.argv[1]):
    rnd, mode, test, value = line.rstrip("\n").split("\t")
    v[(test, mode)].append(float(value))
tests = sorted({t for t, _ in v}, key=lambda t: (t.split(":")[0], int(t.split(":")[1])))
tproxy = any(m.startswith("tproxy") for _, m in v)
med = lambda t, m: statistics.median(v[(t, m)])
head = f"\n{'test':<16} {'direct':>10} {'fp=no':>10} {'fp=yes':>10} {'no/direct':>10} {'yes/direct':>10} {'yes/no':>8}"
if tproxy:
    head += f" {'tp-no':>10} {'tp-yes':>10} {'yes/tp-no':>10} {'yes/tp-yes':>10}"
print(head)
for t in tests:
    d, n, y = med(t, "direct"), med(t, "intercept-fp-no"), med(t, "intercept-fp-yes")
    unit = "tps" if t.startswith("pingpong") else "MiB/s"
    row = f"{t:<16} {d:>10.1f} {n:>10.1f} {y:>10.1f} {n/d:>10.2f} {y/d:>10.2f} {y/n:>8.2f}"
    if tproxy:
        tn, ty = med(t, "tproxy-fp-no"), med(t, "tproxy-fp-yes")
        row += f" {tn:>10.1f} {ty:>10.1f} {y/tn:>10.2f} {y/ty:>10.2f}"
    print(row + f"   ({unit}, medians)")
print("fp = skfastpathd intercepting (fastpath off/on); tp = the same relay behind nftables tproxy")
print("targets: pingpong yes/no >= 1.30 and yes/direct >= 0.60")
PY
echo "raw samples: $OUT"
