#!/usr/bin/env bash
# skfastpathd owns the fastpath: it attaches to its cgroup and pins under its pin directory, a
# daemon killed without a clean stop is adopted by the next one (no second attachment), and a
# clean stop leaves nothing behind.
set -euo pipefail
. "$(dirname "$0")/../lib/daemon.sh"

skfp_env_init fpdaemon
command -v bpftool >/dev/null || skfp_skip "needs bpftool"
passed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; cat "$T/daemon.log"; exit 1; }

sockops_ids() {
        bpftool -j cgroup list "$CG" | /usr/bin/python3 -c '
import json, sys
print(" ".join(str(p["id"]) for p in json.load(sys.stdin) if p["attach_type"] == "cgroup_sock_ops"))'
}
pins() { ls "$PIN" 2>/dev/null | sort | tr '\n' ' '; }
want_pins="conns counters ports queues receivers settings sockhash sockops_link trusted_cgroups "

skfp_daemon_start
[ "$(pins)" = "$want_pins" ] || fail "pins after start: $(pins)"
ids=$(sockops_ids)
[ "$(wc -w <<<"$ids")" -eq 1 ] || fail "sockops programs on $CG after start: '$ids'"
ok "start: sockops attached to $CG, maps and link pinned in $PIN"

# A crash: no clean stop, everything stays pinned and attached.
kill -KILL "$SKFP_DAEMON_PID"
wait "$SKFP_DAEMON_PID" 2>/dev/null || true
SKFP_DAEMON_PID=
[ "$(pins)" = "$want_pins" ] || fail "pins after SIGKILL: $(pins)"
[ "$(sockops_ids)" = "$ids" ] || fail "sockops after SIGKILL: '$(sockops_ids)'"
ok "SIGKILL: pins and attachment survive"

skfp_daemon_start
ids2=$(sockops_ids)
[ "$(wc -w <<<"$ids2")" -eq 1 ] || fail "sockops programs after restart: '$ids2' (stacked?)"
[ "$ids2" != "$ids" ] || fail "the restarted daemon did not replace the program"
grep -q 'adopted from a previous run' "$T/daemon.log" || fail "no adoption message"
ok "restart adopts: one attachment, new program ($ids -> $ids2)"

skfp_daemon_stop || fail "daemon exit code $?"
[ ! -e "$PIN" ] || fail "pin directory left: $(pins)"
[ -z "$(sockops_ids)" ] || fail "sockops still attached after clean stop"
ok "SIGTERM: detached, nothing pinned"

# A config the kernel refuses: the daemon says why and exits 1, nothing pinned.
printf "[Fastpath]\nCgroupPath=%s\n" "$T" >>"$T/skfastpathd.conf"
rc=0
nsenter --net="/run/netns/$NS" "$SKFP_BUILD/daemon/skfastpathd" --config="$T/skfastpathd.conf" \
        >"$T/bad.log" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "exit code $rc with a bad CgroupPath"
grep -q "is not a cgroup2 directory" "$T/bad.log" || { cat "$T/bad.log"; fail "message"; }
[ ! -e "$PIN" ] || fail "pins left after a failed start"
ok "bad CgroupPath=: exit 1, clear message, nothing pinned"
echo "$passed passed, 0 failed"
