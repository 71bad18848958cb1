#!/usr/bin/env bash
# bench/intercept: a direct connection vs an intercepted one (relay) with the fastpath off and on,
# ping-pong (transactions/s) and bulk (MiB/s), interleaved, medians and ratios.
#
#   sudo bench/intercept/run.sh            (after scripts/build; ROUNDS=5 SECS=2 by default)
#
# Topology (tests/lib/lab.sh): client namespace --veth--> world namespace, the world server on
# 198.18.0.10 port 5201 (managed: intercepted) and 5202 (unmanaged: direct); both go over the same
# veth. The daemon and the client run in the test cgroup (the fastpath's sockops sees their
# sockets); the fastpath switch is the config key Fastpath= (the daemon restarts between modes).
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
tool="$SKFP_BUILD/bench/skfp-bench-tcp"
[ -x "$tool" ] || { echo "build first: $tool is missing" >&2; exit 1; }
ncpu=$(nproc)
other=$((ncpu > 1 ? 1 : 0))
CCPU=${BENCH_CLIENT_CPU:-0}
RCPU=${BENCH_RELAY_CPU:-$other}
SCPU=${BENCH_SERVER_CPU:-$other}

skfp_env_init bench
lab_init
skfp_config <<CONF
[Intercept]
Interfaces=skfp-c0
Ports=5201
[Manager]
LogLevel=info
CONF

# "$@" inside the test cgroup, pinned to CPU $1; as a plain command (never a function in the
# background: $! would be a subshell) it execs all the way, so $! is the program itself
in_cg=(bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec taskset -c "$@"' sh "$CG")

server_pids=()
for port in 5201 5202; do
        taskset -c "$SCPU" nsenter --net="/run/netns/$WNS" "$tool" server "$port" 3600 >"$T/server$port.out" 2>&1 &
        server_pids+=($!)
        lab_wait_for "$T/server$port.out" ready
done
SKFP_CLEANUP_HOOKS+=('kill "${server_pids[@]}" 2>/dev/null || true')

daemon_start() { # FASTPATH(yes|no)
        printf '[Fastpath]\nFastpath=%s\n' "$1" >>"$T/skfastpathd.conf"
        "${in_cg[@]}" "$RCPU" nsenter --net="/run/netns/$NS" "$SKFP_BUILD/daemon/skfastpathd" \
                --config="$T/skfastpathd.conf" >>"$T/daemon.log" 2>&1 &
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

: >"$OUT"
echo "bench/intercept: $ROUNDS rounds x ${SECS}s; client CPU $CCPU, relay CPU $RCPU, server CPU $SCPU"
for round in $(seq "$ROUNDS"); do
        for fp in no yes; do
                daemon_start "$fp"
                mode=intercept-fp-$fp
                for t in $TESTS; do
                        # alternate the order so drift does not favour one mode
                        if [ $(((round + ${#fp}) % 2)) -eq 0 ]; then
                                run_one direct 5202 "${t%%:*}" "${t#*:}" "$round"
                                run_one "$mode" 5201 "${t%%:*}" "${t#*:}" "$round"
                        else
                                run_one "$mode" 5201 "${t%%:*}" "${t#*:}" "$round"
                                run_one direct 5202 "${t%%:*}" "${t#*:}" "$round"
                        fi
                done
                kill -USR1 "$SKFP_DAEMON_PID"
                sleep 0.1
                skfp_daemon_stop
        done
done
grep -o 'Relay statistics.*' "$T/daemon.log" | tail -1 || true

/usr/bin/python3 - "$OUT" <<'PY'
import statistics, sys
from collections import defaultdict
v = defaultdict(list)
for line in open(sys.argv[1]):
    rnd, mode, test, value = line.rstrip("\n").split("\t")
    v[(test, mode)].append(float(value))
tests = sorted({t for t, _ in v}, key=lambda t: (t.split(":")[0], int(t.split(":")[1])))
print(f"\n{'test':<16} {'direct':>10} {'fp=no':>10} {'fp=yes':>10} {'no/direct':>10} {'yes/direct':>10} {'yes/no':>8}")
for t in tests:
    d = statistics.median(v[(t, "direct")])
    n = statistics.median(v[(t, "intercept-fp-no")])
    y = statistics.median(v[(t, "intercept-fp-yes")])
    unit = "tps" if t.startswith("pingpong") else "MiB/s"
    print(f"{t:<16} {d:>10.1f} {n:>10.1f} {y:>10.1f} {n/d:>10.2f} {y/d:>10.2f} {y/n:>8.2f}   ({unit}, medians)")
print("targets: pingpong yes/no >= 1.30 and yes/direct >= 0.60")
PY
echo "raw samples: $OUT"
