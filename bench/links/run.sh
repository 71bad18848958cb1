#!/usr/bin/env bash
# bench/links: the time from RTM_NEWLINK to "attached", as a D-Bus client sees it.
#
#   sudo bench/links/run.sh            (after scripts/build; ROUNDS=100 by default)
#
# The daemon manages skfp-b0 in a namespace of its own (tests/lib/daemon.sh, private bus).
# tests/lib/linkwatch.py, in that namespace, ROUNDS times: creates the veth skfp-b0 with `ip link
# add` (not waited for), stamps the RTM_NEWLINK it receives on its own rtnetlink socket, waits for
# the PropertiesChanged on Interfaces that shows skfp-b0 attached on that ifindex, stamps it,
# deletes the link and waits for the signal that shows it absent. Both stamps are CLOCK_MONOTONIC
# in one process, which wakes up for the kernel's event when the daemon does: the latency includes
# the daemon's work (mostly the kernel's tcx attach) and the bus hop to the client.
# Prints every round, then n, median, p90, min, max; also written to $BENCH_OUT. Then the part of
# it the kernel's tcx attach took inside the daemon (from its log: "attached (in X ms)").
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
export SKFP_SOURCE_ROOT=$top SKFP_BUILD_ROOT=${SKFP_BUILD_ROOT:-$top/build}
. "$top/tests/lib/daemon.sh"

ROUNDS=${ROUNDS:-100}
OUT=${BENCH_OUT:-/tmp/skfp-bench-links.txt}
[ -x "$SKFP_BUILD/daemon/skfastpathd" ] || { echo "build first: $SKFP_BUILD/daemon/skfastpathd is missing" >&2; exit 1; }

skfp_env_init benchlinks
skfp_config <<CONF
[Intercept]
Interfaces=skfp-b0
Ports=80
[Manager]
LogLevel=info
CONF
skfp_daemon_start

echo "RTM_NEWLINK -> attached (PropertiesChanged received), $ROUNDS rounds, $(nproc) CPUs, kernel $(uname -r)"
nsenter --net="/run/netns/$NS" /usr/bin/python3 "$top/tests/lib/linkwatch.py" bench skfp-b0 "$ROUNDS" | tee "$OUT"
skfp_daemon_stop
sed -n 's/.*skfp-b0: link ifindex .* attached (in \([0-9.]*\) ms)\./\1/p' "$T/daemon.log" | sort -n |
        awk '{ v[NR] = $1 } END { if (NR) printf "of which the attach call in the daemon: n=%d median=%.3f ms p90=%.3f ms\n",
                NR, (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[int(0.9 * NR + 0.5)] }' | tee -a "$OUT"
