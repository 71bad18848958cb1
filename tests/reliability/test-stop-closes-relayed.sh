#!/usr/bin/env bash
# A stop with relayed connections open ends them cleanly: each client reads EOF (read returns 0,
# not ECONNRESET) after every byte the relay had taken from the server, the server sees a FIN
# too, and the daemon exits within StopTimeoutSec=. A peer that never closes is cut off at
# StopTimeoutSec=; a second SIGTERM does not wait at all.
set -euo pipefail
. "$(dirname "$0")/../lib/daemon.sh"
. "$SKFP_TOP/tests/lib/lab.sh"

STREAM="$SKFP_BUILD/tests/reliability/skfp-stream"
skfp_env_init stopclose
lab_init
skfp_config <<CONF
[Intercept]
Interfaces=skfp-c0
Ports=7 80
[Listener]
StopTimeoutSec=3
CONF

ms() { date +%s%3N; }
resets_in_world() { grep -c '^reset 7 ' "$T/world.log" || true; }
wait_files() {
        local f all
        for _ in $(seq 200); do
                all=1
                for f in "$@"; do [ -e "$f" ] || all=0; done
                [ "$all" = 1 ] && return 0
                sleep 0.05
        done
        return 1
}
stop_timed() { # sets rc (the daemon's exit code) and took (how long the stop took, in ms)
        local t0
        t0=$(ms)
        rc=0
        skfp_daemon_stop || rc=$?
        took=$(($(ms) - t0))
}

# --- an idle IPv4 and IPv6 connection, and one streaming both ways
skfp_daemon_start
in_client "$STREAM" wait-eof 198.18.0.10 7 30 "$T/a.ready" >"$T/a.out" 2>&1 &
A=$!
in_client "$STREAM" wait-eof 2001:db8::10 7 30 "$T/b.ready" >"$T/b.out" 2>&1 &
B=$!
in_client "$STREAM" stream 198.18.0.10 7 30 "$T/c.progress" >"$T/c.out" 2>&1 &
C=$!
SKFP_CLEANUP_HOOKS+=("kill $A $B $C 2>/dev/null")
for _ in $(seq 100); do
        [ -e "$T/a.ready" ] && [ -e "$T/b.ready" ] && [ "$(cut -d' ' -f2 "$T/c.progress" 2>/dev/null || echo 0)" -gt 100000 ] && break
        sleep 0.05
done
check "three relayed connections open" test "$(lab_stats >/dev/null; lab_stat relay-active-connections)" = 3
resets_before=$(resets_in_world)

stop_timed
check "SIGTERM: exit 0 (status $rc)" test "$rc" -eq 0
check "SIGTERM: stopped in ${took} ms, within StopTimeoutSec=3" test "$took" -lt 3000
rc=0; wait "$A" || rc=$?
check "idle IPv4 client reads EOF, not a reset ($(cat "$T/a.out"))" test "$rc" -eq 0
rc=0; wait "$B" || rc=$?
check "idle IPv6 client reads EOF, not a reset ($(cat "$T/b.out"))" test "$rc" -eq 0
rc=0; wait "$C" || rc=$?
check "streaming client reads an exact prefix, then EOF ($(cat "$T/c.out"))" test "$rc" -eq 3
sleep 0.2
check "the server saw no reset either ($(resets_in_world) resets)" test "$(resets_in_world)" -eq "$resets_before"
check "the log says it closed them" grep -q 'Closing 3 relayed connection(s)' "$T/daemon.log"
check "nothing left after the stop" lab_check_clean 0

# --- a client that never closes: cut off at StopTimeoutSec=
rm -f "$T"/*.ready
skfp_daemon_start
in_client "$STREAM" hold 198.18.0.10 7 2 "$T/h.ready" "$T/h.go" 30 >"$T/h.out" 2>&1 &
H=$!
SKFP_CLEANUP_HOOKS+=("kill $H 2>/dev/null")
check "two held connections open" wait_files "$T/h.ready"
stop_timed
check "a peer that never closes: exit 0 (status $rc)" test "$rc" -eq 0
check "... after StopTimeoutSec=3, not before and not much later (${took} ms)" \
        test "$took" -ge 2900 -a "$took" -lt 4500
check "... and says so" grep -q 'did not close in time' "$T/daemon.log"
kill "$H" 2>/dev/null || true
wait "$H" 2>/dev/null || true

# --- a second SIGTERM does not wait
sed -i 's/^StopTimeoutSec=3$/StopTimeoutSec=60/' "$T/skfastpathd.conf"
rm -f "$T/h.ready"
skfp_daemon_start
in_client "$STREAM" hold 198.18.0.10 7 1 "$T/h.ready" "$T/h.go" 30 >"$T/h.out" 2>&1 &
H=$!
check "one held connection open" wait_files "$T/h.ready"
t0=$(ms)
kill -TERM "$SKFP_DAEMON_PID"
sleep 0.5
kill -TERM "$SKFP_DAEMON_PID"
rc=0
wait "$SKFP_DAEMON_PID" || rc=$?
SKFP_DAEMON_PID=
took=$(($(ms) - t0))
check "second SIGTERM: exit 0 at once ($rc, ${took} ms)" test "$rc" -eq 0 -a "$took" -lt 2000
kill "$H" 2>/dev/null || true
wait "$H" 2>/dev/null || true
check "nothing left after the last stop" lab_check_clean 0
lab_summary
