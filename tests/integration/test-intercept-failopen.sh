#!/usr/bin/env bash
# Relay=no: the daemon only steers, the listener belongs to another program. Without a listener
# traffic flows directly (fail open); when one appears, new flows are steered to it while flows
# that began directly keep their path; when it goes, new flows are direct again.
set -euo pipefail
. "$(dirname "$0")/../lib/lab.sh"

lab_env icfailopen
skfp_config <<CONF
[Intercept]
Interfaces=skfp-c0
Ports=80 7
[Listener]
Relay=no
CONF
skfp_daemon_start
check "attached with ${SKFP_ATTACH_MODE:-${SKFP_EXPECT_ATTACH_MODE:-tcx}}" lab_check_attach_mode skfp-c0

tproxy_start() {
        lab_py_bg tproxy >"$T/tproxy.out" 2>&1
        TPROXY_PID=$!
        lab_wait_for "$T/tproxy.out" ready
}
tproxy_stop() {
        kill "$TPROXY_PID" 2>/dev/null || true
        wait "$TPROXY_PID" 2>/dev/null || true
        TPROXY_PID=
}
SKFP_CLEANUP_HOOKS+=('[ -z "${TPROXY_PID:-}" ] || tproxy_stop')

steered() { # URL DST_IP: the other program's listener answered with the original destination
        local out
        out=$(in_client curl -sS -m 5 --http0.9 "$1" 2>&1) || true
        [ "$out" = "tproxy $2 80" ] || { echo "     answer: $out"; return 1; }
}

lab_no_listener() {
        [ -z "$(in_client ss -Hltn 'sport = :15001')" ]
}
check "no listener of ours with Relay=no" lab_no_listener
check "no listener: IPv4 goes direct" lab_http http://198.18.0.10/ 0
check "no listener: IPv6 goes direct" lab_http 'http://[2001:db8::10]/' 0
lab_stats >/dev/null
check "egress counted the fail-open SYNs" test "$(lab_stat intercept-fail-open)" -ge 2

# a flow that began direct stays direct when the listener appears in the middle of it
lab_client 0 hold 198.18.0.10 7 1.5 still-direct >"$T/held.out" 2>&1 &
held=$!
sleep 0.5
tproxy_start
check "another program's listener gets new IPv4 flows" steered http://198.18.0.10/ 198.18.0.10
check "another program's listener gets new IPv6 flows" steered 'http://[2001:db8::10]/' 2001:db8::10
check "a flow that began direct finished direct" wait "$held"
cat "$T/held.out"
lab_stats >/dev/null
check "egress counted the direct flow's packets as passed" test "$(lab_stat intercept-passed-direct)" -gt 0

tproxy_stop
check "listener gone: IPv4 goes direct again" lab_http http://198.18.0.10/ 0
check "listener gone: IPv6 goes direct again" lab_http 'http://[2001:db8::10]/' 0

check "daemon exits 0 on SIGTERM" skfp_daemon_stop
check "nothing left after stop" lab_check_clean
lab_summary
