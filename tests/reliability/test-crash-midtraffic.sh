#!/usr/bin/env bash
# kill -9 of the daemon while a fastpath connection and a relayed connection stream data, twice.
# The fastpath connection keeps flowing byte-exact through both crashes and restarts (the pinned
# datapath stays attached and the restarted daemon adopts it: the same maps, one sockops
# program); each restart finds what the dead one left and keeps exactly one fwmark rule and one
# local route per family; the final clean stop restores accept_local to its value before the
# test (it was saved before the first run overwrote it) and leaves nothing behind.
set -euo pipefail
. "$(dirname "$0")/../lib/daemon.sh"
. "$SKFP_TOP/tests/lib/lab.sh"

STREAM="$SKFP_BUILD/tests/reliability/skfp-stream"
skfp_env_init crashmt
command -v bpftool >/dev/null || skfp_skip "needs bpftool"
lab_init
skfp_config <<CONF
[Intercept]
Interfaces=skfp-c0
Ports=7 80
# trusted: the local stream's server is a declared receiver, so the stream is redirected
TrustedPorts=18080
CONF

# In the client namespace and in the daemon's cgroup (its sockops sees the sockets there).
in_cg() {
        bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec nsenter --net="/run/netns/$1" "${@:2}"' \
                in_cg "$CG" "$NS" "$@"
}
# shellcheck source=../lib/stream.sh
. "$SKFP_TOP/tests/lib/stream.sh"
stat() { # NAME: one GetStatistics counter
        skfp_busctl call org.skfastpath1 /org/skfastpath1 org.skfastpath1.Manager GetStatistics |
                tr ' ' '\n' | grep -A1 -x "\"$1\"" | tail -1
}
rules() { # FAMILY: fwmark rules of ours
        ip -n "$NS" "$1" rule | grep -c "fwmark 0x1f5a0001 lookup $LAB_TABLE" || true
}
routes() { # FAMILY: routes in our table
        ip -n "$NS" "$1" route show table "$LAB_TABLE" | grep -c . || true
}
sockops() {
        # bpftool prints nothing at all (not "[]") for a cgroup without programs
        bpftool -j cgroup list "$CG" | /usr/bin/python3 -c '
import json, sys
text = sys.stdin.read().strip()
print(" ".join(str(p["id"]) for p in (json.loads(text) if text else []) if p["attach_type"] == "cgroup_sock_ops"))'
}
pinned_ids() {
        local p id
        for p in "$PIN"/*; do
                id=$(bpftool map show pinned "$p" 2>/dev/null || bpftool link show pinned "$p" 2>/dev/null)
                echo "${p##*/}=${id%%:*}"
        done | tr '\n' ' '
}
crash() {
        kill -KILL "$SKFP_DAEMON_PID"
        wait "$SKFP_DAEMON_PID" 2>/dev/null || true
        SKFP_DAEMON_PID=
        cat "$T/daemon.log" >>"$T/daemon-all.log"
}
after_restart_checks() { # ROUND
        check "$1: exactly one IPv4 fwmark rule ($(rules -4))" test "$(rules -4)" -eq 1
        check "$1: exactly one IPv6 fwmark rule ($(rules -6))" test "$(rules -6)" -eq 1
        check "$1: exactly one IPv4 local route ($(routes -4))" test "$(routes -4)" -eq 1
        check "$1: exactly one IPv6 local route ($(routes -6))" test "$(routes -6)" -eq 1
        check "$1: accept_local is 1 while running" test "$(in_client cat /proc/sys/net/ipv4/conf/lo/accept_local)" = 1
        check "$1: pins adopted, not duplicated ($(pinned_ids))" test "$(pinned_ids)" = "$ids"
        check "$1: one sockops program on the cgroup ($(sockops))" test "$(wc -w <<<"$(sockops)")" -eq 1
        check "$1: adoption logged" grep -q 'adopted from a previous run' "$T/daemon.log"
}

accept_local_before=$(in_client cat /proc/sys/net/ipv4/conf/lo/accept_local)
echo "     accept_local before the test: $accept_local_before"

in_cg "$STREAM" serve 18080 >"$T/fp-server.out" 2>&1 &
FP_SERVER=$!
SKFP_CLEANUP_HOOKS+=("kill $FP_SERVER 2>/dev/null; wait $FP_SERVER 2>/dev/null")
lab_wait_for "$T/fp-server.out" ready

skfp_daemon_start
ids=$(pinned_ids)
echo "     pinned: $ids"

in_cg "$STREAM" stream 127.0.0.1 18080 60 "$T/fp.progress" "$T/stop" >"$T/fp.out" 2>&1 &
FP_CLIENT=$!
in_client "$STREAM" stream 198.18.0.10 7 60 "$T/relay.progress" "$T/stop" >"$T/relay.out" 2>&1 &
RELAY_CLIENT=$!
SKFP_CLEANUP_HOOKS+=("kill $FP_CLIENT $RELAY_CLIENT 2>/dev/null")
check "fastpath stream flowing" stream_moving "$T/fp.progress"
check "relayed stream flowing" stream_moving "$T/relay.progress"
r0=$(stat fastpath-redirects)
sleep 0.3
r1=$(stat fastpath-redirects)
check "the fastpath stream is redirected ($r0 -> $r1 fastpath-redirects)" test "$r1" -gt "$r0"

for round in 1 2; do
        crash
        check "crash $round: the fastpath stream flows with the daemon dead" stream_moving "$T/fp.progress"
        check "crash $round: rules and routes left for the restart ($(rules -4)/$(rules -6) rules)" \
                test "$(rules -4)" -eq 1 -a "$(rules -6)" -eq 1
        check "crash $round: restart" skfp_daemon_start
        after_restart_checks "restart $round"
        check "restart $round: the fastpath stream still flows" stream_moving "$T/fp.progress"
        a=$(stat fastpath-redirects)
        sleep 0.3
        b=$(stat fastpath-redirects)
        check "restart $round: still on the fastpath, counters adopted and moving ($r1 .. $a -> $b)" \
                test "$a" -ge "$r1" -a "$b" -gt "$a"
        r1=$b
done

touch "$T/stop"
fp_rc=0
wait "$FP_CLIENT" || fp_rc=$?
echo "     fastpath stream: $(cat "$T/fp.out")"
check "the fastpath stream is byte-exact end to end, through two crashes" test "$fp_rc" -eq 0
relay_rc=0
wait "$RELAY_CLIENT" || relay_rc=$?
# The relay's state (its sockets) dies with its process: the relayed stream ends, cleanly or not.
echo "     relayed stream (ended by the first crash, as documented): $(cat "$T/relay.out")"
check "the relayed stream saw no corrupt byte (it ended: exit $relay_rc)" test "$relay_rc" -ne 1
check "new connections are relayed after the restarts" lab_http http://198.18.0.10/ 1

check "final clean stop exits 0" skfp_daemon_stop
cat "$T/daemon.log" >>"$T/daemon-all.log"
check "nothing left, accept_local back to $accept_local_before (not the crashed runs' 1)" \
        lab_check_clean "$accept_local_before"
check "no pins left" test ! -e "$PIN"
check "no sockops program left" test -z "$(sockops)"
check "the saved value of accept_local is removed" \
        test -z "$(find "$T/state" -name 'accept_local.*' 2>/dev/null)"
lab_summary
