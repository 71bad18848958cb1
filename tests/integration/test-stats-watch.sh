#!/usr/bin/env bash
# skfastpathctl stats --watch against the real daemon with real fastpath traffic: the shape of
# each refresh, per-second rates that match the counters, ANSI clearing only on a terminal,
# Ctrl-C exits 0, a daemon or bus that goes away exits 9, bad options exit 2.
set -euo pipefail
. "$(dirname "$0")/../lib/daemon.sh"

CTL="$SKFP_BUILD/ctl/skfastpathctl"
PORT=9000

skfp_env_init watch
skfp_config <<CONF
[Intercept]
# trusted: the local ping-pong's server is a declared receiver, so its traffic is redirected
TrustedPorts=$PORT
CONF

counter() { # counter NAME: its value now
        "$CTL" stats | awk -v n="$1" '$1 == n { print $2 }'
}

# --- before the daemon: bad options are refused without a call, no daemon is exit 9 -----------
usage() { local rc=0; "$CTL" "$@" >/dev/null 2>&1 || rc=$?; [ "$rc" = 2 ]; }
check "--interval below 0.1 s: exit 2" usage stats --watch --interval=0.05
check "--interval=abc: exit 2" usage stats --watch --interval=abc
check "--count=0: exit 2" usage stats --watch --count=0
check "--count without --watch: exit 2" usage stats --count=3
check "--watch on status: exit 2" usage status --watch
check "--watch --json: exit 2" usage stats --watch --json
check "--help documents --watch, --interval and --count" \
        grep -q -- "--watch.*--interval=SEC.*--count=N" <("$CTL" --help | tr '\n' ' ')
rc=0; "$CTL" stats --watch --count=2 --interval=0.2 >/dev/null 2>"$T/ctl.err" || rc=$?
check "no daemon at the start: exit 9 ($(head -n 1 "$T/ctl.err"))" [ "$rc" = 9 ]

skfp_daemon_start

# Fastpath traffic for the rates: a local ping-pong on a managed port inside the test's cgroup
# and namespace, bounded to 60 s, stopped by the cleanup.
# shellcheck disable=SC2016
nsenter --net="/run/netns/$NS" sh -c 'echo $$ >"$1/cgroup.procs" && exec /usr/bin/python3 -c "
import socket, time
l = socket.socket(); l.bind((\"127.0.0.1\", $2)); l.listen()
c = socket.create_connection((\"127.0.0.1\", $2)); s, _ = l.accept()
end = time.time() + 60
while time.time() < end:
        c.sendall(b\"x\" * 1000)
        n = 0
        while n < 1000:
                n += len(s.recv(65536))
        time.sleep(0.0005)
"' sh "$CG" "$PORT" &
TRAFFIC_PID=$!
SKFP_CLEANUP_HOOKS+=("kill $TRAFFIC_PID 2>/dev/null; wait $TRAFFIC_PID 2>/dev/null")
for _ in $(seq 250); do
        [ "$(counter fastpath-redirects)" -gt 0 ] 2>/dev/null && break
        sleep 0.02
done
check "the traffic is redirected by the fastpath" [ "$(counter fastpath-redirects)" -gt 0 ]

# --- three refreshes into a pipe -----------------------------------------------------------------
start=$(date +%s%N)
rc=0; "$CTL" stats --watch --count=3 --interval=0.2 >"$T/watch.out" 2>"$T/watch.err" || rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
cat "$T/watch.out"
check "--count=3 exits 0" [ "$rc" = 0 ]
check "nothing on stderr" [ ! -s "$T/watch.err" ]
check "--count=3 --interval=0.2 took two intervals ($elapsed_ms ms)" [ "$elapsed_ms" -ge 400 -a "$elapsed_ms" -lt 5000 ]
headers=$(grep -c '^Every 0.2s: skfastpathd statistics at [0-9:]* (refresh [123] of 3)$' "$T/watch.out" || true)
check "three refreshes, each with its header ($headers)" [ "$headers" = 3 ]
check "the refreshes are numbered 1, 2, 3" \
        [ "$(sed -n 's/.*(refresh \([0-9]\) of 3)$/\1/p' "$T/watch.out" | tr -d '\n')" = 123 ]
check "a pipe gets no ANSI sequences" [ "$(grep -c $'\033' "$T/watch.out" || true)" = 0 ]

# Split into blocks: block N is the lines after header N.
awk '/^Every /{ n++ } { print > (dir "/block" n) }' dir="$T" "$T/watch.out"
names=$("$CTL" stats | awk '{ print $1 }' | sort | tr '\n' ' ')
for b in 1 2 3; do
        got=$(awk 'f && NF { print $1 } /^COUNTER +VALUE +RATE$/ { f = 1 }' "$T/block$b" | sort | tr '\n' ' ')
        check "block $b lists every counter of stats" [ "$got" = "$names" ]
done
check "refresh 1: no rates yet" grep -q '^Rates from the next refresh on\.$' "$T/block1"
check "refresh 1: every running total shows '-'" \
        [ "$(awk '$1 == "fastpath-redirects" || $1 == "fastpath-bytes" { print $3 }' "$T/block1" | tr -d '\n')" = "--" ]
check "gauges get no rate" [ "$(awk '$1 == "tracked-sockets" || $1 == "managed-ports" { print NF }' "$T/block3" | tr -d '\n')" = 22 ]

# The rate of refresh 3 is the change since refresh 2 per second: the interval is 0.2 s, so it is
# about five times the difference (within a factor of two: scheduling on a busy machine).
v2=$(awk '$1 == "fastpath-redirects" { print $2 }' "$T/block2")
v3=$(awk '$1 == "fastpath-redirects" { print $2 }' "$T/block3")
r3=$(awk '$1 == "fastpath-redirects" { sub("/s$", "", $3); print $3 }' "$T/block3")
check "refresh 3: redirects/s is a number ($r3)" grep -qE '^[0-9]+(\.[0-9])?$' <<<"$r3"
check "refresh 3: redirects/s $r3 matches ($v3 - $v2) / 0.2 s" \
        awk -v d=$((v3 - v2)) -v r="$r3" 'BEGIN { e = d / 0.2; exit !(d > 0 && r >= e / 2 && r <= e * 2) }'
check "refresh 3: bytes/s with a unit" grep -qE '^fastpath-bytes +[0-9]+ +[0-9.]+ (B|KiB|MiB|GiB)/s$' "$T/block3"
check "refresh 2: the summary shows the fastpath's bytes/s and redirects/s" \
        grep -qE '^Fastpath: [0-9.]+ (B|KiB|MiB|GiB)/s, [1-9][0-9.]* redirects/s\. Relay: ' "$T/block2"

# --- a terminal: the screen is cleared and redrawn ----------------------------------------------
script -qec "$CTL stats --watch --count=2 --interval=0.2" /dev/null >"$T/tty.out" 2>&1 </dev/null || true
check "a terminal gets the screen cleared on each refresh" \
        [ "$(grep -o $'\033\\[H\033\\[2J' "$T/tty.out" | wc -l)" = 2 ]

# --- Ctrl-C: exit 0 --------------------------------------------------------------------------------
# A script's background jobs ignore SIGINT; give the watch back the default, as a terminal's
# foreground job has it.
/usr/bin/python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
        "$CTL" stats --watch --interval=0.2 >"$T/int.out" 2>&1 &
W=$!
for _ in $(seq 100); do grep -q '^COUNTER' "$T/int.out" && break; sleep 0.02; done
kill -INT "$W"
rc=0; wait "$W" || rc=$?
check "SIGINT (Ctrl-C) ends the watch with exit 0 (got $rc)" [ "$rc" = 0 ]

# watch_stopped NAME WHAT STOP...: a watch runs (output in $T/NAME.out and .err), then STOP... takes
# WHAT away; the watch must end within 5 s; its exit code is in $rc
watch_stopped() {
        local name=$1 what=$2 w
        shift 2
        "$CTL" stats --watch --interval=0.2 >"$T/$name.out" 2>"$T/$name.err" &
        w=$!
        for _ in $(seq 100); do grep -q '^COUNTER' "$T/$name.out" && break; sleep 0.02; done
        "$@"
        rc=0
        for _ in $(seq 250); do kill -0 "$w" 2>/dev/null || break; sleep 0.02; done
        kill "$w" 2>/dev/null && echo "the watch was still running 5 s after $what stopped"
        wait "$w" || rc=$?
}

# --- the daemon goes away: a clear message, exit 9 -------------------------------------------------
watch_stopped gone "the daemon" skfp_daemon_stop
check "daemon stopped: exit 9 (got $rc)" [ "$rc" = 9 ]
check "daemon stopped: says so ($(head -n 1 "$T/gone.err"))" grep -q '^skfastpathd went away (.*); stopped watching\.$' "$T/gone.err"

# --- the bus goes away: exit 9 ---------------------------------------------------------------------
skfp_daemon_start
watch_stopped bus "the bus" skfp_bus_stop
check "bus stopped: exit 9 (got $rc: $(head -n 1 "$T/bus.err"))" [ "$rc" = 9 ]

checks_summary
