#!/usr/bin/env bash
# Socket activation: the listening sockets come from systemd (sd_listen_fds); the daemon makes
# them transparent and relays through them, IPv4 and IPv6. Then one dual-stack [::] socket:
# IPv4 flows arrive as ::ffff:a.b.c.d and are relayed as IPv4.
set -euo pipefail
. "$(dirname "$0")/../lib/lab.sh"

command -v systemd-socket-activate >/dev/null || skfp_skip "no systemd-socket-activate"
lab_env icsockact
skfp_config <<CONF
[Intercept]
Interfaces=skfp-c0
Ports=80
CONF

# systemd-socket-activate listens, and execs the daemon (same pid) at the first connection
activated_start() { # -l ADDR...
        : >"$T/daemon.log"
        nsenter --net="/run/netns/$NS" systemd-socket-activate "$@" -E DBUS_SYSTEM_BUS_ADDRESS \
                "$SKFP_BUILD/daemon/skfastpathd" --config="$T/skfastpathd.conf" >"$T/daemon.log" 2>&1 &
        # shellcheck disable=SC2034 # stopped by skfp_daemon_stop and the EXIT trap (daemon.sh)
        SKFP_DAEMON_PID=$!
        lab_wait_for "$T/daemon.log" "Listening on .*:15001 as $(($# / 2 + 2))\."
        in_client bash -c 'exec 3<>/dev/tcp/127.0.0.1/15001' || true
        for _ in $(seq 250); do
                busctl --system get-property org.skfastpath1 /org/skfastpath1 org.skfastpath1.Manager Version >/dev/null 2>&1 && return 0
                sleep 0.02
        done
        return 1
}

activated_start -l 127.0.0.1:15001 -l '[::1]:15001'
check "the daemon took the passed sockets" grep -q "Using the 2 socket(s) passed by systemd" "$T/daemon.log"
check "it opened no listener of its own" test "$(in_client ss -Hltn 'sport = :15001' | wc -l)" -eq 2
check "the passed sockets are transparent: IPv4 through the relay" lab_http http://198.18.0.10/ 1
check "IPv6 through the relay" lab_http 'http://[2001:db8::10]/' 1
lab_stats >/dev/null
check "the poke that started it was refused, not relayed to itself" test "$(lab_stat relay-rejected)" -eq 1
check "daemon exits 0 on SIGTERM" skfp_daemon_stop
check "nothing left after stop" lab_check_clean

activated_start -l 15001
check "one dual-stack socket passed" grep -q "Using the 1 socket(s) passed by systemd" "$T/daemon.log"
check "dual-stack: IPv4 through the relay (v4-mapped folded)" lab_http http://198.18.0.10/ 1
check "dual-stack: IPv6 through the relay" lab_http 'http://[2001:db8::10]/' 1
check "dual-stack: the relay connected over IPv4" grep -q "Relaying a connection to 198.18.0.10:80" "$T/daemon.log"
lab_stats >/dev/null
check "dual-stack: the poke (::ffff:127.0.0.1) was refused" test "$(lab_stat relay-rejected)" -eq 1
check "daemon exits 0 on SIGTERM" skfp_daemon_stop
check "nothing left after stop" lab_check_clean
lab_summary
