#!/usr/bin/env bash
# Transparent interception through the built-in relay, IPv4 and IPv6, on an Ethernet (veth) link:
# curl and byte-exact echoes of 1 B to 64 MiB reach the world through the relay, half-close and
# resets pass through, 1000 connections at once, unmanaged ports and interfaces are untouched,
# and a stopped daemon leaves nothing behind.
set -euo pipefail
. "$(dirname "$0")/../lib/lab.sh"

lab_env icrelay
skfp_config <<CONF
[Intercept]
Interfaces=skfp-c0
Ports=80 7 9 10 81
CONF
skfp_daemon_start
check "attached with ${SKFP_ATTACH_MODE:-${SKFP_EXPECT_ATTACH_MODE:-tcx}}" lab_check_attach_mode skfp-c0

relay_stat() {
        lab_stats >/dev/null
        lab_stat "$1"
}

# --- curl through the relay: the world sees the relay's connection, the relay counts it
total0=$(relay_stat relayed-connections)
check "curl http://198.18.0.10/ through the relay" lab_http http://198.18.0.10/ 1
check "curl http://[2001:db8::10]/ through the relay" lab_http 'http://[2001:db8::10]/' 1
total1=$(relay_stat relayed-connections)
check "relay counted both connections ($total0 -> $total1)" test "$total1" -eq $((total0 + 2))
check "relay counted bytes both ways" test "$(lab_stat relayed-bytes-to-upstream)" -gt 0 -a \
        "$(lab_stat relayed-bytes-to-client)" -gt 0
check "egress counted the new flows" test "$(lab_stat intercepted-connections)" -ge 2
check "the relay's own connections carried the bypass mark" test "$(lab_stat intercept-bypassed)" -gt 0

# --- idle relayed connections cost the daemon little memory (target: 10,000 in 200 MiB)
rss() {
        awk '/^VmRSS:/ { print $2 }' "/proc/$SKFP_DAEMON_PID/status"
}
rss0=$(rss)
lab_py_bg idle 198.18.0.10 7 1000 3 >"$T/idle.out" 2>&1
idle_pid=$!
lab_wait_for "$T/idle.out" '^idle$' 200
rss1=$(rss)
echo "     daemon RSS ${rss0} KiB -> ${rss1} KiB with 1000 idle relayed connections"
check "1000 idle relayed connections add at most 20 MiB to the daemon" test $((rss1 - rss0)) -le 20480
check "the idle connections closed cleanly" wait "$idle_pid"

# --- byte-exact echo, both directions at once, 1 B to 64 MiB
up0=$(relay_stat relayed-bytes-to-upstream)
for size in 1 1448 65537 1048576 67108864; do
        check "echo $size bytes over IPv4, byte-exact" lab_client 1 echo 198.18.0.10 7 "$size"
        check "echo $size bytes over IPv6, byte-exact" lab_client 1 echo 2001:db8::10 7 "$size"
done
up1=$(relay_stat relayed-bytes-to-upstream)
check "relay counted the echoed bytes" test $((up1 - up0)) -ge $((2 * (1 + 1448 + 65537 + 1048576 + 67108864)))

# --- half-close: the server answers only after the client's FIN reached it
check "half-close over IPv4 (answer after EOF)" lab_client 1 digest 198.18.0.10 9 100000
check "half-close over IPv6 (answer after EOF)" lab_client 1 digest 2001:db8::10 9 3000000

# --- resets pass through both ways; a refused upstream resets the client
check "world resets -> the client sees a reset" lab_client - expect-reset 198.18.0.10 10
check "client resets -> the world sees a reset" lab_client 1 send-reset 2001:db8::10 7
sleep 0.3
check "world logged the reset" grep -q '^reset 7 2001:db8:1::1 ' "$T/world.log"
failed0=$(relay_stat relay-connect-failures)
check "upstream refused -> the client sees a reset" lab_client - expect-reset 198.18.0.10 81
check "relay counted the refused connect" test "$(relay_stat relay-connect-failures)" -eq $((failed0 + 1))

# --- many at once
check "1000 concurrent relayed connections (IPv4)" lab_client - many 198.18.0.10 7 1000 2000
check "relay has no connection left open" test "$(relay_stat relay-active-connections)" -eq 0

# --- what is not managed passes untouched
total2=$(relay_stat relayed-connections)
check "unmanaged port 8080 goes direct" lab_client 0 echo 198.18.0.10 8080 100000
check "unmanaged port 8080 goes direct (IPv6)" lab_client 0 echo 2001:db8::10 8080 100000
check "unmanaged interface skfp-c1 goes direct" lab_http http://198.18.0.20/ 0
check "unmanaged interface skfp-c1 goes direct (IPv6)" lab_http 'http://[2001:db8::20]/' 0
check "relay saw none of them" test "$(relay_stat relayed-connections)" -eq "$total2"

# --- a direct connection to the listener is refused, not relayed to itself
check "a connection straight to the listener is reset" lab_client - expect-reset 127.0.0.1 15001
check "relay counted it as rejected" test "$(relay_stat relay-rejected)" -eq 1

# --- stop: nothing left
check "daemon exits 0 on SIGTERM" skfp_daemon_stop
check "no rule, route, changed sysctl, qdisc, filter, tcx link or program left" \
        lab_check_clean
check "direct traffic flows after stop" lab_http http://198.18.0.10/ 0

lab_summary
