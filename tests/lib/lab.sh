# shellcheck shell=bash
# The interception lab, on top of daemon.sh: the daemon's namespace $NS is the client; a "world"
# namespace $WNS serves HTTP (80), echo (7, 8080) and digest (9) on every address below
# (tests/lib/labnet.py). Each path has a real peer, so neighbour resolution never fails.
#
#   path       client dev  link net                         world addresses
#   managed    skfp-c0     198.19.0.0/24  2001:db8:1::/64   198.18.0.10  2001:db8::10   (veth)
#   unmanaged  skfp-c1     198.19.1.0/24  2001:db8:2::/64   198.18.0.20  2001:db8::20   (veth)
#   layer 3    skfp-t0     198.19.2.0/24  2001:db8:3::/64   198.18.0.30  2001:db8::30   (tun, lab_tun)
#
#   . tests/lib/lab.sh                # (sources daemon.sh)
#   lab_env NAME                      # skfp_env_init NAME and lab_init: namespaces, links,
#                                     # routes, world servers ($T/world.log); LAB_ACCEPT_LOCAL
#                                     # is the client's accept_local before the daemon
#   lab_tun                           # adds the layer-3 path
#   in_client CMD..., in_world CMD...
#   lab_py ARGS...                    # labnet.py in the client namespace
#   lab_py_bg ARGS... >LOG; PID=$!    # ... in the background (never background a function: $!
#                                     # would be a subshell and kill would miss python)
#   lab_stats                         # GetStatistics over D-Bus, printed as "NAME VALUE" lines
#   lab_stat NAME                     # one counter of what lab_stats fetched last, e.g.
#                                     # relayed-connections (names: org.skfastpath1(5))

# shellcheck source-path=SCRIPTDIR source=daemon.sh
[ -n "${SKFP_TOP:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/daemon.sh"

LAB_PY=/usr/bin/python3
LAB_NET="$SKFP_TOP/tests/lib/labnet.py"

in_client() {
        nsenter --net="/run/netns/$NS" "$@"
}

in_world() {
        nsenter --net="/run/netns/$WNS" "$@"
}

lab_py() {
        in_client "$LAB_PY" "$LAB_NET" "$@"
}

# labnet.py in the background in the client namespace; $! is python itself (kill it by that pid)
lab_py_bg() {
        nsenter --net="/run/netns/$NS" "$LAB_PY" "$LAB_NET" "$@" &
}

lab_wait_for() { # FILE PATTERN [tenths of a second]
        local i
        for i in $(seq "${3:-100}"); do
                grep -q "$2" "$1" 2>/dev/null && return 0
                sleep 0.1
        done
        echo "timed out waiting for '$2' in $1:" >&2
        cat "$1" >&2 2>/dev/null || true
        return 1
}

lab_cleanup() {
        skfp_stop_pid LAB_TUN_PID
        skfp_stop_pid LAB_WORLD_PID
        if [ -n "${WNS:-}" ]; then
                ip netns del "$WNS" 2>/dev/null || true
                WNS=
        fi
}

lab_link() { # CLIENT_DEV WORLD_DEV NET4_PREFIX NET6_PREFIX WORLD_SUFFIX
        local c=$1 w=$2 n4=$3 n6=$4 x=$5
        ip -n "$NS" link add "$c" type veth peer name "$w" netns "$WNS"
        ip -n "$NS" addr add "$n4.1/24" dev "$c"
        ip -n "$NS" addr add "$n6::1/64" dev "$c" nodad
        ip -n "$WNS" addr add "$n4.2/24" dev "$w"
        ip -n "$WNS" addr add "$n6::2/64" dev "$w" nodad
        ip -n "$NS" link set "$c" up
        ip -n "$WNS" link set "$w" up
        ip -n "$WNS" addr add "198.18.0.$x/32" dev lo
        ip -n "$WNS" addr add "2001:db8::$x/128" dev lo
        ip -n "$NS" route add "198.18.0.$x/32" via "$n4.2" dev "$c"
        ip -n "$NS" -6 route add "2001:db8::$x/128" via "$n6::2" dev "$c"
}

lab_init() {
        WNS="$SKFP_NAME-w"
        SKFP_CLEANUP_HOOKS+=("lab_cleanup")
        ip netns add "$WNS"
        ip -n "$WNS" link set lo up
        lab_link skfp-c0 skfp-w0 198.19.0 2001:db8:1 10
        lab_link skfp-c1 skfp-w1 198.19.1 2001:db8:2 20
        # 1000 connections relayed at once: 2000 sockets in the daemon, 1000 in each endpoint
        ulimit -n "$(ulimit -Hn)"
        # nsenter execs python: $! is the server itself, not a subshell around it
        nsenter --net="/run/netns/$WNS" "$LAB_PY" "$LAB_NET" serve "$T/world.log" >"$T/world.out" 2>&1 &
        # shellcheck disable=SC2034 # stopped by lab_cleanup (skfp_stop_pid)
        LAB_WORLD_PID=$!
        lab_wait_for "$T/world.out" ready
        LAB_ACCEPT_LOCAL=$(in_client cat /proc/sys/net/ipv4/conf/lo/accept_local)
}

lab_env() { # NAME
        skfp_env_init "$1"
        lab_init
}

lab_tun() {
        local tp="$SKFP_BUILD/tests/integration/skfp-tunpair"
        [ -c /dev/net/tun ] || skfp_skip "no /dev/net/tun"
        "$tp" "$NS" skfp-t0 "$WNS" skfp-t1 600 >"$T/tun.out" 2>&1 &
        # shellcheck disable=SC2034 # stopped by lab_cleanup (skfp_stop_pid)
        LAB_TUN_PID=$!
        lab_wait_for "$T/tun.out" ready
        ip -n "$NS" addr add 198.19.2.1/24 dev skfp-t0
        ip -n "$NS" addr add 2001:db8:3::1/64 dev skfp-t0 nodad
        ip -n "$WNS" addr add 198.19.2.2/24 dev skfp-t1
        ip -n "$WNS" addr add 2001:db8:3::2/64 dev skfp-t1 nodad
        ip -n "$NS" link set skfp-t0 up
        ip -n "$WNS" link set skfp-t1 up
        ip -n "$WNS" addr add 198.18.0.30/32 dev lo
        ip -n "$WNS" addr add 2001:db8::30/128 dev lo
        ip -n "$NS" route add 198.18.0.30/32 dev skfp-t0
        ip -n "$NS" -6 route add 2001:db8::30/128 dev skfp-t0
}

lab_stats() { # GetStatistics over D-Bus into $T/stats, printed as "NAME VALUE" lines
        skfp_busctl call org.skfastpath1 /org/skfastpath1 org.skfastpath1.Manager GetStatistics |
                tr -d '"' | awk '{ for (i = 3; i < NF; i += 2) print $i, $(i + 1) }' >"$T/stats"
        cat "$T/stats"
}

lab_stat() { # NAME: one counter (org.skfastpath1(5)) of the statistics lab_stats fetched last
        awk -v n="$1" '$1 == n { print $2 }' "$T/stats" 2>/dev/null || true
}

# Every tcx link and program the daemon attached: "LINK PROG" lines from its debug log.
lab_daemon_links() {
        sed -n 's/.*(tcx link \([0-9]*\), program \([0-9]*\)).*/\1 \2/p' "$T/daemon.log"
}

# The world's view of a connection from client local port $2 to port $1: prints the peer port.
lab_world_peer() { # PORT PEER_IP
        grep "^accept $1 $2 " "$T/world.log" | tail -1 | cut -d' ' -f4
}

# Checks: check DESCRIPTION CMD... (tests/lib/check.sh, sourced by daemon.sh); lab_summary prints
# the counts and, when any check failed, the tail of the daemon's log, and fails.
lab_summary() {
        if ! checks_summary; then
                echo "--- daemon log (tail):"
                tail -40 "$T/daemon.log" 2>/dev/null || true
                return 1
        fi
}

# curl URL from the client; succeeds when the world saw the connection from another port than
# curl's own, i.e. through the relay (RELAYED=1) or from curl's own port (RELAYED=0).
lab_http() { # URL RELAYED
        local out lport wport
        out=$(in_client curl -sS -m 10 -w '\nlocal_port=%{local_port}\n' "$1") || return 1
        lport=$(sed -n 's/^local_port=//p' <<<"$out")
        wport=$(sed -n 's/^hello from the world; you are .* port \([0-9]*\)$/\1/p' <<<"$out")
        if [ -z "$wport" ] || [ -z "$lport" ]; then
                echo "     unexpected answer: $out"
                return 1
        fi
        if [ "$2" = 1 ] && [ "$wport" = "$lport" ]; then
                echo "     world saw curl's own port $lport: not relayed"
                return 1
        fi
        if [ "$2" = 0 ] && [ "$wport" != "$lport" ]; then
                echo "     world saw port $wport, curl used $lport: intercepted"
                return 1
        fi
}

# labnet.py client in the client namespace; with RELAYED=0/1 the world log must show the client's
# own local port (direct) or another one (relayed) for the last connection to PORT.
lab_client() { # RELAYED MODE HOST PORT ARGS...
        local relayed=$1 out lport port=$4 wport before
        shift
        before=$(wc -l <"$T/world.log")
        out=$(lab_py "$@") || { echo "     $out"; return 1; }
        [ "$relayed" = - ] && return 0
        lport=$(sed -n 's/.*local_port \([0-9]*\)$/\1/p' <<<"$out")
        sleep 0.05
        wport=$(tail -n +"$((before + 1))" "$T/world.log" |
                awk -v p="$port" -v l="$lport" '$1 == "accept" && $2 == p && $4 == l { print $4 }')
        if [ "$relayed" = 1 ] && [ -n "$wport" ]; then
                echo "     world saw the client's own port $lport: not relayed"
                return 1
        fi
        if [ "$relayed" = 0 ] && [ "$wport" != "$lport" ]; then
                echo "     world did not see the client's port $lport: intercepted"
                return 1
        fi
}

# After the daemon stopped: nothing of it is left in the client namespace or the kernel.
lab_check_clean() { # [ACCEPT_LOCAL_BEFORE, default LAB_ACCEPT_LOCAL]
        local link prog bad=0 accept_local=${1:-$LAB_ACCEPT_LOCAL}
        if ip -n "$NS" rule | grep -q "lookup $LAB_TABLE"; then echo "     IPv4 rule left"; bad=1; fi
        if ip -n "$NS" -6 rule | grep -q "lookup $LAB_TABLE"; then echo "     IPv6 rule left"; bad=1; fi
        if [ -n "$(ip -n "$NS" route show table "$LAB_TABLE" 2>/dev/null)" ]; then echo "     IPv4 route left"; bad=1; fi
        if [ -n "$(ip -n "$NS" -6 route show table "$LAB_TABLE" 2>/dev/null)" ]; then echo "     IPv6 route left"; bad=1; fi
        if [ "$(in_client cat /proc/sys/net/ipv4/conf/lo/accept_local)" != "$accept_local" ]; then
                echo "     accept_local not restored to $accept_local"; bad=1
        fi
        if tc -n "$NS" qdisc show | grep -q clsact; then echo "     clsact qdisc left"; bad=1; fi
        if tc -n "$NS" filter show dev lo ingress 2>/dev/null | grep -q .; then echo "     tc filter left"; bad=1; fi
        while read -r link prog; do
                if bpftool link show id "$link" >/dev/null 2>&1; then echo "     tcx link $link left"; bad=1; fi
                if bpftool prog show id "$prog" >/dev/null 2>&1; then echo "     program $prog left"; bad=1; fi
        done < <(lab_daemon_links)
        [ "$(lab_daemon_links | wc -l)" -gt 0 ] || { echo "     no links in the daemon log"; bad=1; }
        return $bad
}
LAB_TABLE=15001
