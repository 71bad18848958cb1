#!/usr/bin/env bash
# Per-application steering (Cgroups=, AddCgroup/RemoveCgroup, the Cgroups property) with real
# traffic: two processes in two cgroups reach the same world server and only the selected one is
# intercepted (the world sees the relay); with no ports managed that is all its TCP, with ports
# only those; a selected cgroup made after the start is matched within 100 ms, nested cgroups are
# matched, a re-created one (new id) is followed, 100 remove/re-create cycles leak no fd; bad
# paths get InvalidCgroup and change nothing; the selection survives a restart. Only cgroups
# this test makes, removed on every exit path.
set -euo pipefail
. "$(dirname "$0")/../lib/daemon.sh"
. "$SKFP_TOP/tests/lib/lab.sh"

skfp_env_init icgroup
lab_init

CTL="$SKFP_BUILD/ctl/skfastpathctl"
CG2=$(skfp_cgroup2_root)
SELNAME="skfp-cgsel-$$"
SEL="$CG2/$SELNAME"              # the test's own subtree: a (selected), b (not)
A="/$SELNAME/a"
B="/$SELNAME/b"

cg_cleanup() {
        local d p
        [ -d "$SEL" ] || return 0
        while read -r d; do
                while read -r p; do
                        echo "$p" >"$CG2/cgroup.procs" 2>/dev/null || true
                done <"$d/cgroup.procs" 2>/dev/null || true
                rmdir "$d" 2>/dev/null || true
        done < <(find "$SEL" -depth -type d)
}
SKFP_CLEANUP_HOOKS+=("cg_cleanup")
mkdir "$SEL" "$CG2$B"

# The client namespace, in cgroup $LAB_CGROUP (a path below the root) when it is set.
in_client() {
        if [ -n "${LAB_RUN:-}" ]; then
                nsenter --net="/run/netns/$NS" "$CTL" run -- "$@"
        elif [ -n "${LAB_CGROUP:-}" ]; then
                nsenter --net="/run/netns/$NS" sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' \
                        "$CG2$LAB_CGROUP" "$@"
        else
                nsenter --net="/run/netns/$NS" "$@"
        fi
}

in_cg() { # CGROUP CMD...: CMD's client processes run in CGROUP
        local LAB_CGROUP=$1
        shift
        "$@"
}

cgroups() {
        skfp_busctl get-property org.skfastpath1 /org/skfastpath1 org.skfastpath1.Manager Cgroups
}
call() {
        skfp_busctl call org.skfastpath1 /org/skfastpath1 org.skfastpath1.Manager "$@"
}
# Cgroups shows PATH with the id of its directory now, present
shows_present() {
        local id
        id=$(stat -c %i "$CG2$1") || return 1
        cgroups | grep -q "\"$1\" $id true"
}
shows_absent() {
        cgroups | grep -q "\"$1\" 0 false"
}
fail_with() { # ERROR METHOD PATH: the call fails with that D-Bus error name
        local out
        out=$(dbus-send --system --print-reply --dest=org.skfastpath1 /org/skfastpath1 \
                "org.skfastpath1.Manager.$2" "string:$3" 2>&1) && { echo "     succeeded: $out"; return 1; }
        grep -q "^Error $1:" <<<"$out" || { echo "     $out"; return 1; }
}

# A selected cgroup that does not exist yet; interface managed, no ports: all TCP of the selection.
skfp_config <<CONF
[Intercept]
Interfaces=skfp-c0
Cgroups=$A
CONF
skfp_daemon_start

check "Cgroups shows $A absent" shows_absent "$A"

# PropertiesChanged of the daemon, recorded (tests/lib/linkwatch.py: "NS signal PROPERTY" lines)
nsenter --net="/run/netns/$NS" "$LAB_PY" "$SKFP_TOP/tests/lib/linkwatch.py" record "$T/watch" >"$T/watch.out" 2>&1 &
WATCH_PID=$!
watch_stop() { kill "$WATCH_PID" 2>/dev/null; wait "$WATCH_PID" 2>/dev/null; }
SKFP_CLEANUP_HOOKS+=("watch_stop")
lab_wait_for "$T/watch.out" ready
signals() { grep -c " signal Cgroups" "$T/watch" || true; }
check "a process outside the selection goes direct (port 80)" in_cg "$B" lab_http http://198.18.0.10/ 0
check "the test's own cgroup goes direct" lab_http http://198.18.0.10/ 0

# --- made after the start: matched within 100 ms
mkdir "$CG2$A"
t0=$(date +%s%N)
while ! shows_present "$A" 2>/dev/null; do
        [ $(($(date +%s%N) - t0)) -lt 2000000000 ] || break
done
ms=$((($(date +%s%N) - t0) / 1000000))
echo "     $A present on the bus $ms ms after mkdir (busctl polling included)"
check "Cgroups shows $A present with its id" shows_present "$A"
check "PropertiesChanged announced Cgroups after the mkdir" test "$(signals)" -ge 1
n=$(signals)
rmdir "$CG2$A"
check "Cgroups shows $A absent after rmdir" shows_absent "$A"
sleep 0.05
check "PropertiesChanged announced Cgroups after the rmdir" test "$(signals)" -gt "$n"
mkdir "$CG2$A"
sleep 0.1
check "a connection 100 ms after mkdir is intercepted" in_cg "$A" lab_http http://198.18.0.10/ 1
lab_stats >/dev/null
check "the selected cgroup's SYN was counted as intercepted" test "$(lab_stat intercepted-connections)" -ge 1
check "the others' SYNs were counted as unselected" test "$(lab_stat intercept-cgroup-unselected)" -ge 2

# --- all TCP of the selection, the others untouched
check "selected: port 8080 too (no ports managed)" in_cg "$A" lab_client 1 echo 198.18.0.10 8080 100000
check "selected: IPv6 too" in_cg "$A" lab_http 'http://[2001:db8::10]/' 1
check "unselected: port 8080 direct" in_cg "$B" lab_client 0 echo 198.18.0.10 8080 100000
check "selected, unmanaged interface skfp-c1: direct" in_cg "$A" lab_http http://198.18.0.20/ 0

# --- nested
mkdir -p "$CG2$A/app/worker"
check "a cgroup two levels below the selected one is intercepted" \
        in_cg "$A/app/worker" lab_http http://198.18.0.10/ 1
rmdir "$CG2$A/app/worker" "$CG2$A/app"

# --- re-created: a new id, followed
id1=$(stat -c %i "$CG2$A")
rmdir "$CG2$A"
mkdir "$CG2$A"
id2=$(stat -c %i "$CG2$A")
sleep 0.1
check "re-created $A has a new id ($id1 -> $id2)" test "$id1" != "$id2"
check "Cgroups shows the new id" shows_present "$A"
check "the re-created cgroup is intercepted" in_cg "$A" lab_http http://198.18.0.10/ 1

# --- AddCgroup / RemoveCgroup
check "AddCgroup $B" call AddCgroup s "$B"
check "Cgroups shows $B present" shows_present "$B"
check "after AddCgroup the other process is intercepted" in_cg "$B" lab_http http://198.18.0.10/ 1
check "RemoveCgroup $B" call RemoveCgroup s "$B"
check "after RemoveCgroup it goes direct again" in_cg "$B" lab_http http://198.18.0.10/ 0
check "RemoveCgroup of an unselected cgroup is NotManaged" fail_with org.skfastpath1.Error.NotManaged RemoveCgroup "$B"

# --- bad paths: named error, nothing changed
before=$(cgroups)
long="/$(head -c 1100 /dev/zero | tr '\0' x)"
for bad in "relative/path" "/a/../b" "/a//b" "/a/" "/a/./b" "/a b" "" "$long"; do
        check "AddCgroup '${bad:0:20}' is InvalidCgroup" fail_with org.skfastpath1.Error.InvalidCgroup \
                AddCgroup "$bad"
done
check "RemoveCgroup '/a/../b' is InvalidCgroup" fail_with org.skfastpath1.Error.InvalidCgroup \
        RemoveCgroup "/a/../b"
check "Cgroups unchanged after the refusals" test "$(cgroups)" = "$before"

# --- ports managed: they limit the selection
check "AddPort 80" call AddPort q 80
check "selected, managed port 80: intercepted" in_cg "$A" lab_http http://198.18.0.10/ 1
check "selected, port 8080 not managed: direct" in_cg "$A" lab_client 0 echo 198.18.0.10 8080 100000
check "unselected, managed port 80: direct" in_cg "$B" lab_http http://198.18.0.10/ 0
check "RemovePort 80" call RemovePort q 80
check "selected, no ports again: 8080 intercepted" in_cg "$A" lab_client 1 echo 198.18.0.10 8080 100000

# --- 100 remove/re-create cycles: followed, no fd growth
fds() { find "/proc/$SKFP_DAEMON_PID/fd" -mindepth 1 | wc -l; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$SKFP_DAEMON_PID/status"; }
fd0=$(fds) rss0=$(rss)
for _ in $(seq 100); do
        rmdir "$CG2$A"
        mkdir "$CG2$A"
done
sleep 0.2
fd1=$(fds) rss1=$(rss)
echo "     daemon fds $fd0 -> $fd1, RSS $rss0 -> $rss1 KiB over 100 cycles"
check "100 cycles: Cgroups shows the last id" shows_present "$A"
check "100 cycles: still intercepted" in_cg "$A" lab_http http://198.18.0.10/ 1
check "100 cycles: no fd growth" test "$fd1" -le "$fd0"
check "100 cycles: RSS grew at most 1 MiB" test $((rss1 - rss0)) -le 1024

# --- skfastpathctl
no_run_cgroup_left() { ! find "$CG2" -maxdepth 1 -name 'skfastpathctl-run-*' | grep -q .; }
status_shows() { # PATTERN: skfastpathctl status has a line matching it
        "$CTL" status >"$T/status.out" 2>&1
        grep -q "$1" "$T/status.out" || { sed 's/^/     /' "$T/status.out"; return 1; }
}
in_run() { # CMD...: CMD's client processes run under skfastpathctl run
        local LAB_RUN=1
        "$@"
}
check "skfastpathctl run -- curl: intercepted" in_run lab_http http://198.18.0.10/ 1
check "... its cgroup was removed after" no_run_cgroup_left
check "... and is no longer selected" sh -c "! busctl --system get-property org.skfastpath1 /org/skfastpath1 \
org.skfastpath1.Manager Cgroups | grep -q skfastpathctl-run"
check "skfastpathctl run passes the command's exit status" sh -c "'$CTL' run -- sh -c 'exit 7'; [ \$? = 7 ]"
check "... and removes its cgroup then too" no_run_cgroup_left
check "skfastpathctl add-cgroup $B" "$CTL" add-cgroup "$B"
check "... status shows it under Cgroups" status_shows "^ *\(Cgroups: \)\?$B (id "
check "... it is intercepted" in_cg "$B" lab_http http://198.18.0.10/ 1
check "skfastpathctl remove-cgroup $B" "$CTL" remove-cgroup "$B"
check "... it goes direct" in_cg "$B" lab_http http://198.18.0.10/ 0
check "skfastpathctl add-cgroup /a/../b exits 10 (InvalidCgroup)" sh -c "'$CTL' add-cgroup /a/../b 2>/dev/null; [ \$? = 10 ]"
check "skfastpathctl add-unit without systemd: exit 1, says so" sh -c "! '$CTL' add-unit foo.service 2>'$T/unit.err' && \
grep -q 'systemd is not running' '$T/unit.err'"
check "... and selected nothing" sh -c "! busctl --system get-property org.skfastpath1 /org/skfastpath1 \
org.skfastpath1.Manager Cgroups | grep -q foo.service"

# --- persisted: AddCgroup survives a restart, RuntimeChanges says so
check "AddCgroup $B again" call AddCgroup s "$B"
check "the state file lists the cgroups" grep -q "^Cgroups=.*$B" "$T/state/state"
check "RuntimeChanges shows $B added" sh -c "busctl --system get-property org.skfastpath1 /org/skfastpath1 \
org.skfastpath1.Manager RuntimeChanges | grep -q '\"Cgroups\" \"$B\" \"added\"'"
check "daemon stops" skfp_daemon_stop
skfp_daemon_start
check "after a restart Cgroups shows $A and $B present" sh -c "$(declare -f cgroups shows_present skfp_busctl); \
CG2='$CG2'; shows_present '$A' && shows_present '$B'"
check "after a restart $B is intercepted" in_cg "$B" lab_http http://198.18.0.10/ 1
check "Revert drops $B" call Revert
check "after Revert $B goes direct" in_cg "$B" lab_http http://198.18.0.10/ 0
check "after Revert $A is still selected (the config file's)" in_cg "$A" lab_http http://198.18.0.10/ 1

check "daemon exits 0 on SIGTERM" skfp_daemon_stop
lab_summary
