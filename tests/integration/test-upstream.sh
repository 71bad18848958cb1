#!/usr/bin/env bash
# Upstream= through real proxies from Debian, run in the world namespace on the managed link:
# microsocks (SOCKS5, with and without RFC 1929 authentication) and tinyproxy (HTTP CONNECT, with
# and without Basic authentication), reached over IPv4 and IPv6. For each, to IPv4 and IPv6
# destinations: curl, 64 MiB down (GET) and 64 MiB up (POST) byte-exact by sha256, a 1 MiB echo
# both ways at once; the world sees the proxy's address, not the client's. No transfer relies on
# a half-close: both proxies end the whole connection at the client's FIN (tinyproxy drops what
# the world still sends, microsocks never passes the FIN on), and microsocks' blocking copy loop
# deadlocks on large echoes both ways at once (64 MiB, also without skfastpath): proxy limits the
# relay cannot change. Each failure class ends in a prompt reset of the client and
# its counter; SetUpstream() at run time applies to new connections and leaves open ones alone;
# the state file (0600) keeps it over a restart; a malformed URL is InvalidUpstream and never
# echoed; UpstreamFallback=direct goes direct when the proxy is down.
set -euo pipefail
. "$(dirname "$0")/../lib/daemon.sh"
. "$SKFP_TOP/tests/lib/lab.sh"

command -v microsocks >/dev/null || skfp_skip "no microsocks (scripts/bootstrap installs it)"
command -v tinyproxy >/dev/null || skfp_skip "no tinyproxy (scripts/bootstrap installs tinyproxy-bin)"

skfp_env_init upstream
lab_init

# the proxies live in the world namespace, on the world's end of the managed link
P4=198.19.0.2
P6=2001:db8:1::2
CLIENT4=198.19.0.1
CLIENT6=2001:db8:1::1
PROXY_PIDS=()
stop_proxies() {
        local p
        for p in "${PROXY_PIDS[@]}"; do
                kill "$p" 2>/dev/null || true
                wait "$p" 2>/dev/null || true
        done
        PROXY_PIDS=()
}
SKFP_CLEANUP_HOOKS+=("stop_proxies")

in_world_bg() { # LOG CMD...: $! is the command itself (nsenter execs it)
        local log=$1
        shift
        nsenter --net="/run/netns/$WNS" "$@" >"$log" 2>&1 &
}

in_world_bg "$T/socks.log" microsocks -i "$P4" -p 1080
PROXY_PIDS+=($!)
in_world_bg "$T/socks-auth.log" microsocks -i "$P6" -p 1081 -u alice -P s3cret
PROXY_PIDS+=($!)
for port in 8888 8889; do
        {
                echo "User nobody"
                echo "Group nogroup"
                echo "Port $port"
                echo "Timeout 60"
                echo "LogLevel Info"
                echo "MaxClients 200"
                [ "$port" = 8888 ] || echo "BasicAuth alice s3cret"
        } >"$T/tinyproxy-$port.conf"
        in_world_bg "$T/tinyproxy-$port.log" tinyproxy -d -c "$T/tinyproxy-$port.conf"
        PROXY_PIDS+=($!)
done
# 64 MiB down and up (tests/lib/blobserver.py)
BLOB="$SKFP_TOP/tests/lib/blobserver.py"
in_world_bg "$T/blob.log" "$LAB_PY" "$BLOB" serve 8000
PROXY_PIDS+=($!)
lab_wait_for "$T/blob.log" ready
"$LAB_PY" "$BLOB" write "$T/blob"
SHA=$("$LAB_PY" "$BLOB" sha256)
# a proxy that accepts and never answers (the handshake stalls)
in_world_bg "$T/stall.log" "$LAB_PY" -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.19.0.2", 1998))
s.listen(16)
print("ready", flush=True)
conns = []
end = time.monotonic() + 600
while time.monotonic() < end:
    c, _ = s.accept()
    conns.append(c)
'
PROXY_PIDS+=($!)
lab_wait_for "$T/stall.log" ready
for _ in $(seq 50); do
        n=$(in_world ss -Hltn "( sport = :1080 or sport = :1081 or sport = :8888 or sport = :8889 )" | wc -l)
        [ "$n" -ge 5 ] && break     # tinyproxy listens on 0.0.0.0 and [::] each
        sleep 0.1
done

skfp_config <<CONF
[Intercept]
Interfaces=skfp-c0
Ports=80 7 81 8000
[Listener]
ConnectTimeoutSec=2s
Upstream=socks5://$P4:1080
CONF
skfp_daemon_start

B="skfp_busctl call org.skfastpath1 /org/skfastpath1 org.skfastpath1.Manager"
prop() {
        skfp_busctl get-property org.skfastpath1 /org/skfastpath1 org.skfastpath1.Manager "$1"
}
ustat() { # NAME: one counter of GetStatistics
        $B GetStatistics | tr ' ' '\n' | grep -A1 "^\"$1\"$" | tail -1
}
set_upstream() {
        $B SetUpstream s "$1"
}

# curl URL: the world answers "you are IP port N"; the proxy's connection, not the client's
curl_via_proxy() { # URL
        local out ip
        out=$(in_client curl -sS -m 10 "$1") || return 1
        ip=$(sed -n 's/^hello from the world; you are \(.*\) port [0-9]*$/\1/p' <<<"$out")
        if [ -z "$ip" ]; then echo "     unexpected answer: $out"; return 1; fi
        if [ "$ip" = "$CLIENT4" ] || [ "$ip" = "$CLIENT6" ]; then
                echo "     the world saw the client's address $ip: not through the proxy"
                return 1
        fi
}

get_blob() { # HOST: 64 MiB down, sha256 equal
        local got
        got=$(in_client curl -sS -m 60 "http://$1:8000/blob" | sha256sum | cut -d' ' -f1)
        [ "$got" = "$SHA" ] || { echo "     sha256 $got, expected $SHA"; return 1; }
}
post_blob() { # HOST: 64 MiB up, the world's sha256 equal, and it saw the proxy's address
        local out
        out=$(in_client curl -sS -m 60 -H 'Expect:' --data-binary @"$T/blob" "http://$1:8000/up") || return 1
        [ "${out%% *}" = "$SHA" ] || { echo "     world's sha256 ${out%% *}, expected $SHA"; return 1; }
        case "${out#* }" in
        "$CLIENT4" | "$CLIENT6" | "::ffff:$CLIENT4") echo "     the world saw the client's address"; return 1 ;;
        esac
}

through() { # NAME: curl, 64 MiB down and up, 1 MiB echoes, IPv4 and IPv6 destinations
        local t0
        t0=$(ustat upstream-tunnels)
        check "$1: curl http://198.18.0.10/, the world sees the proxy" curl_via_proxy http://198.18.0.10/
        check "$1: curl http://[2001:db8::10]/, the world sees the proxy" curl_via_proxy 'http://[2001:db8::10]/'
        check "$1: 64 MiB GET from 198.18.0.10, byte-exact" get_blob 198.18.0.10
        check "$1: 64 MiB GET from [2001:db8::10], byte-exact" get_blob '[2001:db8::10]'
        check "$1: 64 MiB POST to 198.18.0.10, byte-exact" post_blob 198.18.0.10
        check "$1: 64 MiB POST to [2001:db8::10], byte-exact" post_blob '[2001:db8::10]'
        check "$1: 1 MiB echo to 198.18.0.10, both ways at once" lab_client 1 echo-full 198.18.0.10 7 1048576
        check "$1: 1 MiB echo to [2001:db8::10], both ways at once" lab_client 1 echo-full 2001:db8::10 7 1048576
        check "$1: eight tunnels counted" test "$(ustat upstream-tunnels)" -eq $((t0 + 8))
}

# expect_failure NAME COUNTER [MAX_SECONDS]: a connection is reset within MAX_SECONDS (1 s) and
# COUNTER grows by one; relay-errors too
expect_failure() {
        local c0 e0 out dt
        c0=$(ustat "$2")
        e0=$(ustat relay-errors)
        out=$(lab_py expect-reset 198.18.0.10 "${4:-80}") || { echo "     $out"; fail "$1: reset"; return; }
        dt=$(sed -n 's/^ok reset after \([0-9.]*\)s$/\1/p' <<<"$out")
        check "$1: the client is reset (after ${dt}s)" awk -v d="$dt" -v m="${3:-1}" 'BEGIN { exit !(d <= m) }'
        check "$1: $2 counted" test "$(ustat "$2")" -eq $((c0 + 1))
        check "$1: relay-errors counted" test "$(ustat relay-errors)" -eq $((e0 + 1))
}

# --- the config's upstream
check "Upstream property shows the config's proxy" [ "$(prop Upstream)" = "s \"socks5://$P4:1080\"" ]
through "SOCKS5 over IPv4, no authentication"

# --- SetUpstream at run time, each proxy in turn
set_upstream "socks5://alice:s3cret@[$P6]:1081"
check "Upstream property hides the password" [ "$(prop Upstream)" = "s \"socks5://alice:***@[$P6]:1081\"" ]
check "the state file is 0600" [ "$(stat -c %a "$T/state/state")" = 600 ]
check "the state file keeps the password" grep -qx "Upstream=socks5://alice:s3cret@\[$P6\]:1081" "$T/state/state"
check "the daemon's log never shows the password" bash -c "! grep -q s3cret '$T/daemon.log'"
through "SOCKS5 over IPv6, user/password"
set_upstream "http://$P4:8888"
through "HTTP CONNECT over IPv4, no authentication"
set_upstream "http://alice:s3cret@[$P6]:8889"
through "HTTP CONNECT over IPv6, Basic authentication"

# --- failures: each a prompt reset with its counter
set_upstream "socks5://$P4:1999"
expect_failure "SOCKS5 proxy down" upstream-unreachable
set_upstream "socks5://alice:wrong@[$P6]:1081"
expect_failure "SOCKS5 password refused" upstream-auth-failed
set_upstream "socks5://[$P6]:1081"
expect_failure "SOCKS5 proxy accepts none of our methods" upstream-auth-failed
set_upstream "socks5://$P4:1080"
expect_failure "SOCKS5 proxy refused by the destination" upstream-refused 1 81
set_upstream "socks5://198.18.0.10:7"
expect_failure "SOCKS5 to an echo server: not the protocol" upstream-protocol-errors
set_upstream "socks5://$P4:1998"
expect_failure "SOCKS5 handshake stalls past ConnectTimeoutSec=2s" upstream-timeouts 3
set_upstream "http://alice:wrong@[$P6]:8889"
expect_failure "HTTP proxy refuses the password" upstream-auth-failed
set_upstream "http://$P4:8888"
expect_failure "HTTP proxy cannot reach the destination" upstream-refused 1 81
set_upstream "http://$P4:1080"
expect_failure "HTTP to a SOCKS5 proxy: garbage" upstream-protocol-errors
set_upstream "http://$P4:1998"
expect_failure "HTTP handshake stalls past ConnectTimeoutSec=2s" upstream-timeouts 3
check "one warning per cause at most (rate limited)" \
        test "$(grep -c 'upstream auth-failed.*at most once a minute' "$T/daemon.log")" -eq 1
check "nothing went direct around the proxy" test "$(ustat upstream-fallbacks)" -eq 0

# --- malformed URLs: InvalidUpstream, the URL never echoed, nothing changed
set_upstream "socks5://$P4:1080"
err=$(set_upstream "socks5://alice:hunter2@proxy.example:1080" 2>&1 || true)
check "a host name is InvalidUpstream (${err})" grep -q "host names are not resolved" <<<"$err"
check "the error does not repeat the password" bash -c "! grep -q hunter2 <<<'$err'"
err=$(dbus-send --system --print-reply --dest=org.skfastpath1 /org/skfastpath1 \
        org.skfastpath1.Manager.SetUpstream string:"ftp://$P4:21" 2>&1 || true)
check "the error name is org.skfastpath1.Error.InvalidUpstream" grep -q "org.skfastpath1.Error.InvalidUpstream" <<<"$err"
check "a refused SetUpstream changes nothing" [ "$(prop Upstream)" = "s \"socks5://$P4:1080\"" ]

# --- SetUpstream applies to new connections; an open one keeps its tunnel
lab_py_bg echo-full 198.18.0.10 7 1048576 2 >"$T/hold.out" 2>&1
hold_pid=$!
t0=$(ustat upstream-tunnels)
for _ in $(seq 50); do
        [ "$(ustat upstream-tunnels)" -gt "$t0" ] && break
        sleep 0.05
done
check "the held connection went through the old proxy" test "$(ustat upstream-tunnels)" -gt "$t0"
set_upstream "socks5://$P4:1999"
expect_failure "after SetUpstream a new connection uses the new (down) proxy" upstream-unreachable
check "the open connection kept the old proxy and finished" wait "$hold_pid"
check "... byte-exact (1 MiB echoed after the switch)" grep -q "^ok echo-full 1048576" "$T/hold.out"

# --- restart keeps the upstream
set_upstream "http://alice:s3cret@[$P6]:8889"
check "daemon exits 0 on SIGTERM" skfp_daemon_stop
skfp_daemon_start
check "the upstream survived the restart" [ "$(prop Upstream)" = "s \"http://alice:***@[$P6]:8889\"" ]
check "curl through it after the restart" curl_via_proxy http://198.18.0.10/
check "daemon exits 0 on SIGTERM" skfp_daemon_stop

# --- UpstreamFallback=direct: a proxy that is down sends the connection direct
rm -f "$T/state/state"
skfp_config <<CONF
Upstream=socks5://$P4:1999
UpstreamFallback=direct
CONF
skfp_daemon_start
check "fallback: curl works while the proxy is down" lab_http http://198.18.0.10/ 1
check "fallback: counted" test "$(ustat upstream-fallbacks)" -eq 1
check "fallback: the proxy's failure counted" test "$(ustat upstream-unreachable)" -eq 1
check "daemon exits 0 on SIGTERM" skfp_daemon_stop

lab_summary
