#!/usr/bin/env bash
# The relay's bounds: MaxConnections= (further connections wait in the backlog, then are served)
# and ConnectTimeoutSec= (an upstream that never answers resets the client in time).
set -euo pipefail
. "$(dirname "$0")/../lib/lab.sh"

lab_env iclimits
# an address the world drops silently (no such address there, no forwarding)
ip -n "$NS" route add 198.18.0.99/32 via 198.19.0.2 dev skfp-c0
skfp_config <<CONF
[Intercept]
Interfaces=skfp-c0
Ports=80 7
[Listener]
MaxConnections=2
ConnectTimeoutSec=1
CONF
skfp_daemon_start

accepts7() {
        grep -c '^accept 7 ' "$T/world.log" || true
}

# --- MaxConnections=2: three connections held open at once
before=$(accepts7)
pids=()
for i in 1 2 3; do
        lab_client 1 hold 198.18.0.10 7 2 "conn$i" >"$T/hold$i.out" 2>&1 &
        pids+=($!)
done
sleep 1
lab_stats >/dev/null
check "at most 2 relayed at once (active $(lab_stat relay-active-connections))" \
        test "$(lab_stat relay-active-connections)" -eq 2
check "the world saw 2 connections, not 3" test $(($(accepts7) - before)) -eq 2
for i in 1 2 3; do
        check "held connection $i completed once a slot was free" wait "${pids[$((i - 1))]}"
done
cat "$T"/hold*.out
lab_stats >/dev/null
check "all 3 were relayed in the end" test "$(lab_stat relayed-connections)" -eq 3

# --- ConnectTimeoutSec=1
timed() {
        local out t
        out=$(lab_py expect-reset 198.18.0.99 80) || { echo "     $out"; return 1; }
        t=$(sed -n 's/^ok reset after \([0-9.]*\)s$/\1/p' <<<"$out")
        echo "     $out"
        awk -v t="$t" 'BEGIN { exit !(t >= 0.8 && t < 3) }'
}
check "silent upstream: the client is reset after ConnectTimeoutSec=1" timed
lab_stats >/dev/null
check "relay counted the connect timeout" test "$(lab_stat relay-connect-timeouts)" -eq 1

check "daemon exits 0 on SIGTERM" skfp_daemon_stop
lab_summary
