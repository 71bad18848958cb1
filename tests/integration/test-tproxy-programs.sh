#!/usr/bin/env bash
# Relay=no with two real transparent proxies from Debian, set up as README.md's worked examples
# say ("Relay=no with squid" and "Relay=no with shadowsocks-libev"):
# - squid (http_port ... tproxy on 127.0.0.1 and [::1] at ListenPort, tcp_outgoing_mark =
#   BypassMark): curl, and 64 MiB byte-exact down (GET) and up (POST, the world answers its
#   sha256) to IPv4 and IPv6 destinations; squid reports no forwarding loop;
# - ss-redir -T (shadowsocks-libev) in the client namespace, ss-server in the world: echoes up to
#   64 MiB, byte-exact, both directions at once, to IPv4 and IPv6 destinations (without a
#   half-close: ss-redir ends both directions at the client's FIN).
# The world sees the proxy's connection, never the client's own.
set -euo pipefail
. "$(dirname "$0")/../lib/daemon.sh"
. "$SKFP_TOP/tests/lib/lab.sh"

command -v squid >/dev/null || skfp_skip "no squid (scripts/bootstrap installs it)"
command -v ss-redir >/dev/null || skfp_skip "no ss-redir (scripts/bootstrap installs shadowsocks-libev)"

skfp_env_init tproxyprog
lab_init

PIDS=()
stop_all() {
        local p
        for p in "${PIDS[@]}"; do
                kill "$p" 2>/dev/null || true
                wait "$p" 2>/dev/null || true
        done
        PIDS=()
}
SKFP_CLEANUP_HOOKS+=("stop_all")

# A world server on port 8000: GET /blob sends 64 MiB of a known pattern, POST answers the sha256
# of the body (the world's own labnet.py servers have no large HTTP bodies).
BLOB="$SKFP_TOP/tests/lib/blobserver.py"
nsenter --net="/run/netns/$WNS" "$LAB_PY" "$BLOB" serve 8000 >"$T/blob.log" 2>&1 &
PIDS+=($!)
lab_wait_for "$T/blob.log" ready
"$LAB_PY" "$BLOB" write "$T/blob"
SHA=$("$LAB_PY" "$BLOB" sha256)

skfp_config <<CONF
[Intercept]
Interfaces=skfp-c0
Ports=8000 7
[Listener]
Relay=no
CONF
skfp_daemon_start

# --- squid, as README.md's "Relay=no with squid"
mkdir -p "$T/squid"
chown proxy:proxy "$T/squid"
chmod 711 "$T"
cat >"$T/squid.conf" <<CONF
http_port 127.0.0.1:3128
http_port 127.0.0.1:15001 tproxy
http_port [::1]:15001 tproxy
tcp_outgoing_mark 0x1f5a0002
http_access allow all
cache deny all
cache_mem 8 MB
pid_filename $T/squid/squid.pid
cache_log $T/squid/cache.log
access_log stdio:$T/squid/access.log
coredump_dir $T/squid
shutdown_lifetime 1 seconds
CONF
nsenter --net="/run/netns/$NS" squid -N -f "$T/squid.conf" >"$T/squid.out" 2>&1 &
SQUID_PID=$!
PIDS+=("$SQUID_PID")
for _ in $(seq 100); do
        [ -n "$(in_client ss -Hltn 'sport = :15001')" ] && [ "$(in_client ss -Hltn 'sport = :15001' | wc -l)" -ge 2 ] && break
        sleep 0.1
done
check "squid listens on 127.0.0.1 and [::1] at 15001" test "$(in_client ss -Hltn 'sport = :15001' | wc -l)" -ge 2

squid_get() { # HOST: 64 MiB down, sha256 equal
        local got
        got=$(in_client curl -sS -m 60 "http://$1:8000/blob" | sha256sum | cut -d' ' -f1)
        [ "$got" = "$SHA" ] || { echo "     sha256 $got, expected $SHA"; return 1; }
}
squid_post() { # HOST: 64 MiB up, the world's sha256 equal
        local out
        out=$(in_client curl -sS -m 60 -H 'Expect:' --data-binary @"$T/blob" "http://$1:8000/up") || return 1
        [ "${out%% *}" = "$SHA" ] || { echo "     world's sha256 ${out%% *}, expected $SHA"; return 1; }
}
check "squid: 64 MiB GET from 198.18.0.10, byte-exact" squid_get 198.18.0.10
check "squid: 64 MiB GET from [2001:db8::10], byte-exact" squid_get '[2001:db8::10]'
check "squid: 64 MiB POST to 198.18.0.10, byte-exact" squid_post 198.18.0.10
check "squid: 64 MiB POST to [2001:db8::10], byte-exact" squid_post '[2001:db8::10]'
check "squid handled the requests (its access log)" test "$(grep -c ':8000/' "$T/squid/access.log" 2>/dev/null || echo 0)" -ge 4
check "squid saw no forwarding loop" bash -c "! grep -qi 'forwarding loop' '$T/squid/cache.log'"
if [ "$SKFP_FAILED" -ne 0 ]; then
        echo "--- squid's cache.log (tail), access.log, and a GET's answer:"
        tail -20 "$T/squid/cache.log" 2>/dev/null || true
        cat "$T/squid/access.log" 2>/dev/null || true
        in_client curl -sS -m 10 -D - -o /dev/null "http://198.18.0.10:8000/blob" 2>&1 || true
fi
kill "$SQUID_PID" 2>/dev/null || true
wait "$SQUID_PID" 2>/dev/null || true
for _ in $(seq 50); do
        [ -z "$(in_client ss -Hltn 'sport = :15001')" ] && break
        sleep 0.1
done

# --- shadowsocks-libev, as README.md's "Relay=no with shadowsocks-libev"
nsenter --net="/run/netns/$WNS" ss-server -s 198.19.0.2 -s 2001:db8:1::2 -p 8388 -k lab-secret \
        -m chacha20-ietf-poly1305 >"$T/ss-server.log" 2>&1 &
PIDS+=($!)
for b in 127.0.0.1 ::1; do
        nsenter --net="/run/netns/$NS" ss-redir -T -b "$b" -l 15001 -s 198.19.0.2 -p 8388 -k lab-secret \
                -m chacha20-ietf-poly1305 >"$T/ss-redir-$b.log" 2>&1 &
        PIDS+=($!)
done
for _ in $(seq 100); do
        [ "$(in_client ss -Hltn 'sport = :15001' | wc -l)" -ge 2 ] && break
        sleep 0.1
done
check "ss-redir listens on 127.0.0.1 and [::1] at 15001" test "$(in_client ss -Hltn 'sport = :15001' | wc -l)" -ge 2
for size in 1 65537 67108864; do
        check "ss-redir: echo $size bytes to 198.18.0.10, byte-exact" lab_client 1 echo-full 198.18.0.10 7 "$size"
        check "ss-redir: echo $size bytes to 2001:db8::10, byte-exact" lab_client 1 echo-full 2001:db8::10 7 "$size"
done
check "the world saw ss-server, not the client" \
        bash -c "! grep -q '^accept 7 198.19.0.1 ' '$T/world.log' && ! grep -q '^accept 7 2001:db8:1::1 ' '$T/world.log'"

stop_all
check "daemon exits 0 on SIGTERM" skfp_daemon_stop
lab_summary
