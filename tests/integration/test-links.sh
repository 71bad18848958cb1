#!/usr/bin/env bash
# Link tracking over rtnetlink: a managed name that does not exist yet is attached when it appears
# (and intercepts at once), follows 200 deletions and re-creations without leaking descriptors,
# memory or tcx links, is detached when renamed away (or moved to another namespace) and attached
# when renamed back, survives down and up, a reused ifindex, forged rtnetlink messages and lost
# events (ENOBUFS: a full resynchronisation, including a link re-created with the same name and
# ifindex); two links at once; RemoveInterface detaches; and every change the kernel drives is
# announced with PropertiesChanged on Interfaces (recorded by tests/lib/linkwatch.py).
set -euo pipefail
. "$(dirname "$0")/../lib/daemon.sh"
. "$SKFP_TOP/tests/lib/lab.sh"

/usr/bin/python3 -c 'import dbus, dbus.mainloop.glib, gi' 2>/dev/null ||
        { echo "SKIP: needs python3-dbus and python3-gi (scripts/bootstrap)"; exit 77; }
skfp_env_init links
lab_init
# the test makes and breaks skfp-c0 itself; the world keeps its addresses on lo
ip -n "$NS" link del skfp-c0
skfp_config <<CONF
[Intercept]
Ports=7 80
CONF
skfp_daemon_start
PID=$SKFP_DAEMON_PID
B=(busctl --system call org.skfastpath1 /org/skfastpath1 org.skfastpath1.Manager)

# Kernel link events and the daemon's PropertiesChanged, on one clock (tests/lib/linkwatch.py).
WATCH="$T/watch.log"
nsenter --net="/run/netns/$NS" "$LAB_PY" "$SKFP_TOP/tests/lib/linkwatch.py" record "$WATCH" >"$T/watch.out" 2>&1 &
WATCH_PID=$!
SKFP_CLEANUP_HOOKS+=('kill "$WATCH_PID" 2>/dev/null || true')
lab_wait_for "$T/watch.out" ready

# --- helpers
# "IFINDEX ATTACHED" of a managed name in the Interfaces property, nothing when not managed
iface() {
        busctl --system get-property org.skfastpath1 /org/skfastpath1 org.skfastpath1.Manager Interfaces |
                tr -d '"' | awk -v n="$1" '{ for (i = 3; i + 2 <= NF; i += 3) if ($i == n) print $(i + 1), $(i + 2) }'
}
ifindex_of() {
        ip -n "$NS" -o link show "$1" 2>/dev/null | cut -d: -f1
}
# the daemon's tcx egress links (open link fds), all of them or on one ifindex
egress_links() {
        local f n=0 idx dev
        if [ "${SKFP_ATTACH_MODE:-${SKFP_EXPECT_ATTACH_MODE:-tcx}}" = clsact ]; then   # our TC filters instead
                while read -r idx dev; do
                        [ -n "${1:-}" ] && [ "$idx" != "$1" ] && continue
                        n=$((n + $(tc -n "$NS" filter show dev "$dev" egress 2>/dev/null |
                                grep -c 'pref 21318 bpf.*handle 0x5346 skfp_egress' || true)))
                done < <(ip -n "$NS" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $1, $2 }')
                echo "$n"
                return
        fi
        for f in /proc/"$PID"/fdinfo/*; do
                awk -v want="${1:-any}" '
                        /^link_type:/ { tcx = ($2 == "tcx") } /^ifindex:/ { idx = $2 } /^attach_type:/ { at = $2 }
                        END { exit !(tcx && at == 47 && (want == "any" || idx == want)) }' "$f" 2>/dev/null &&
                        n=$((n + 1))
        done
        echo "$n"
}
egress_link_ids() {
        if [ "${SKFP_ATTACH_MODE:-${SKFP_EXPECT_ATTACH_MODE:-tcx}}" = clsact ]; then   # the programs of our TC filters
                ip -n "$NS" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | while read -r dev; do
                        tc -n "$NS" filter show dev "$dev" egress 2>/dev/null |
                                sed -n 's/.*handle 0x5346 skfp_egress.* id \([0-9]*\) .*/\1/p'
                done | sort
                return
        fi
        grep -l '^attach_type:.47' /proc/"$PID"/fdinfo/* 2>/dev/null | xargs -r grep -h '^link_id:' | awk '{ print $2 }' | sort
}
n_fds() {
        ls /proc/"$PID"/fd | wc -l
}
rss() {
        awk '/^VmRSS:/ { print $2 }' /proc/"$PID"/status
}
stat_of() { # GetStatistics counter
        "${B[@]}" GetStatistics | tr -d '"' | awk -v n="$1" '{ for (i = 3; i < NF; i += 2) if ($i == n) print $(i + 1) }'
}
# the veth skfp-c0 <-> world skfp-w0 with its addresses and routes; optional: a fixed ifindex
mk_c0() {
        ip -n "$NS" link add skfp-c0 ${1:+index "$1"} type veth peer name skfp-w0 netns "$WNS"
        ip -n "$WNS" -batch - <<EOF
addr add 198.19.0.2/24 dev skfp-w0
addr add 2001:db8:1::2/64 dev skfp-w0 nodad
link set skfp-w0 up
EOF
        ip -n "$NS" -batch - <<EOF
addr add 198.19.0.1/24 dev skfp-c0
addr add 2001:db8:1::1/64 dev skfp-c0 nodad
link set skfp-c0 up
route add 198.18.0.10/32 via 198.19.0.2 dev skfp-c0
route add 2001:db8::10/128 via 2001:db8:1::2 dev skfp-c0
EOF
}
routes_c0() { # after the link was down: the kernel flushed the routes through it, and IPv6 addresses
        ip -n "$NS" -6 addr replace 2001:db8:1::1/64 dev "$1" nodad
        ip -n "$NS" route replace 198.18.0.10/32 via 198.19.0.2 dev "$1"
        ip -n "$NS" -6 route replace 2001:db8::10/128 via 2001:db8:1::2 dev "$1"
}
# a connection to a managed port: relayed (the world sees the relay) and counted; or direct
intercepting() { # HOST
        local before after
        before=$(stat_of relayed-connections)
        lab_client 1 echo "$1" 7 1000 || return 1
        after=$(stat_of relayed-connections)
        [ "$after" -gt "$before" ] || { echo "     relayed-connections $before -> $after"; return 1; }
}
direct() { # HOST
        lab_client 0 echo "$1" 7 1000
}
# Waits for a PropertiesChanged on Interfaces that contains every word given (NAME,IFINDEX,ATTACHED
# or a bare NAME for "any"), among the lines of the watch log after line $MARK. 2 s at most.
MARK=0
mark() {
        MARK=$(wc -l <"$WATCH")
}
signal_lines() {
        tail -n +"$((MARK + 1))" "$WATCH" | grep ' signal Interfaces ' || true
}
saw_signal() {
        local i w ok
        for i in $(seq 200); do
                while read -r line; do
                        ok=1
                        for w in "$@"; do
                                case " $line " in *" $w "*) ;; *) ok=0 ;; esac
                        done
                        [ $ok = 1 ] && return 0
                done < <(signal_lines)
                sleep 0.01
        done
        echo "     no PropertiesChanged on Interfaces with: $*; since the mark:"
        tail -n +"$((MARK + 1))" "$WATCH" | sed 's/^/     /' | tail -n 10
        return 1
}
wait_iface() { # NAME "IFINDEX ATTACHED": the property, 2 s at most
        local i
        for i in $(seq 100); do
                [ "$(iface "$1")" = "$2" ] && return 0
                sleep 0.02
        done
        echo "     Interfaces shows $1 as '$(iface "$1")', expected '$2'"
        return 1
}
no_signal_for() { # NAME SECONDS: no PropertiesChanged mentioning NAME since the mark
        sleep "$2"
        if signal_lines | grep -q " $1,"; then
                echo "     unexpected: $(signal_lines | grep " $1," | head -3)"
                return 1
        fi
}
log_wait() { # PATTERN in the daemon's log, 5 s at most
        local i
        for i in $(seq 250); do
                grep -q "$1" "$T/daemon.log" && return 0
                sleep 0.02
        done
        echo "     '$1' not in the daemon's log"
        return 1
}
log_wait_count() { # PATTERN N: N lines with PATTERN in the daemon's log, 5 s at most
        local i
        for i in $(seq 250); do
                [ "$(grep -c "$1" "$T/daemon.log")" -ge "$2" ] && return 0
                sleep 0.02
        done
        echo "     '$1' not $2 times in the daemon's log"
        return 1
}
tcx_link_live() { # IFINDEX: the kernel has one egress tcx link of the daemon on IFINDEX
        local i
        for i in $(seq 100); do
                [ "$(egress_links "$1")" -eq 1 ] && return 0
                sleep 0.02
        done
        echo "     egress tcx links: $(egress_links) in all, $(egress_links "$1") on ifindex $1"
        return 1
}
lat_below() { # SUMMARY FIELD MS N: linkwatch's summary has n=N, lost=0 and FIELD below MS
        local v
        v=$(sed -n "s/.* $2=\([0-9.]*\) ms.*/\1/p" <<<"$1")
        case "$1" in "n=$4 "*" lost=0") ;; *) echo "     $1"; return 1 ;; esac
        awk -v v="$v" -v max="$3" 'BEGIN { exit !(v != "" && v + 0 < max) }'
}
latencies() { # NAME: ms from RTM_NEWLINK to the attached signal, for each new link since the mark
        tail -n +"$((MARK + 1))" "$WATCH" | "$LAB_PY" "$SKFP_TOP/tests/lib/linkwatch.py" latency /dev/stdin "$1"
}

# --- 1. managed before it exists, then it appears
mark
check "AddInterface skfp-c0 while it does not exist" "${B[@]}" AddInterface s skfp-c0
check "Interfaces shows skfp-c0 absent: ifindex 0, not attached" test "$(iface skfp-c0)" = "0 false"
check "no egress tcx link yet" test "$(egress_links)" -eq 0

mark
mk_c0
IDX=$(ifindex_of skfp-c0)
check "created: a connection to a managed port is relayed at once" intercepting 198.18.0.10
check "Interfaces shows skfp-c0 present ($IDX) and attached" test "$(iface skfp-c0)" = "$IDX true"
check "PropertiesChanged: skfp-c0,$IDX,true" saw_signal "skfp-c0,$IDX,true"
lat=$(latencies skfp-c0 | tail -1)
echo "     RTM_NEWLINK -> attached signal: $lat"
check "attached within 100 ms of RTM_NEWLINK" lat_below "$lat" max 100 1
check "one egress tcx link, on ifindex $IDX" test "$(egress_links)" -eq 1 -a "$(egress_links "$IDX")" -eq 1

# --- 2. deleted and created again, 200 times, each time waiting for the daemon's answer
# a few rounds first so that the allocator and the bus connection reach their steady state
churn() { # ROUNDS: delete and re-create (without addresses), wait for attached and for detached
        local i idx
        for i in $(seq "$1"); do
                ip -n "$NS" link del skfp-c0
                wait_signal_quiet "skfp-c0,0,false" || return 1
                ip -n "$NS" link add skfp-c0 type veth peer name skfp-w0 netns "$WNS"
                idx=$(ifindex_of skfp-c0)
                wait_signal_quiet "skfp-c0,$idx,true" || { echo "     round $i: no attach of ifindex $idx"; return 1; }
        done
}
wait_signal_quiet() { # like saw_signal, only on lines not seen by an earlier call
        local i
        for i in $(seq 400); do
                if tail -n +"$((SEEN + 1))" "$WATCH" | grep -q " signal Interfaces .*\b$1\b"; then
                        SEEN=$(wc -l <"$WATCH")
                        return 0
                fi
                sleep 0.005
        done
        echo "     no PropertiesChanged with $1 within 2 s"
        return 1
}
SEEN=$(wc -l <"$WATCH")
check "warm-up: 10 deletions and re-creations" churn 10
fds0=$(n_fds) rss0=$(rss)
mark
t0=$(date +%s%N)
check "200 deletions and re-creations, each attached and detached in turn" churn 200
t1=$(date +%s%N)
echo "     $(((t1 - t0) / 1000000)) ms for 200 rounds; $(latencies skfp-c0 | tail -1)"
lat=$(latencies skfp-c0 | tail -1)
check "every one of the 200 was attached, p90 within 100 ms of RTM_NEWLINK" lat_below "$lat" p90 100 200
ip -n "$NS" link del skfp-c0 2>/dev/null || true    # (absent only when the loop failed)
mk_c0
IDX=$(ifindex_of skfp-c0)
check "ends attached on the last link ($IDX)" wait_iface skfp-c0 "$IDX true"
check "and intercepting" intercepting 198.18.0.10
fds1=$(n_fds) rss1=$(rss)
echo "     daemon fds $fds0 -> $fds1, RSS $rss0 -> $rss1 KiB"
check "no file descriptor leaked" test "$fds1" -le "$fds0"
# ASan's quarantine keeps freed memory (LeakSanitizer checks leaks at exit instead)
rss_bound=512
[ -n "${SKFP_SANITIZE:-}" ] && rss_bound=8192
check "RSS grew by at most $rss_bound KiB" test $((rss1 - rss0)) -le "$rss_bound"
check "one egress tcx link, on ifindex $IDX" test "$(egress_links)" -eq 1 -a "$(egress_links "$IDX")" -eq 1

# --- 3. a burst without waiting: events arrive for links already gone
ip -n "$NS" -batch - <<EOF
$(for i in $(seq 100); do echo "link del skfp-c0"; echo "link add skfp-c0 type veth peer name skfp-w0"; done)
EOF
ip -n "$NS" link del skfp-c0
mk_c0
IDX=$(ifindex_of skfp-c0)
check "after a burst of 100 without waiting: attached on the last link" wait_iface skfp-c0 "$IDX true"
check "and intercepting" intercepting 198.18.0.10
check "one egress tcx link after the burst" test "$(egress_links)" -eq 1 -a "$(egress_links "$IDX")" -eq 1
check "no file descriptor leaked by the burst" test "$(n_fds)" -le "$fds0"

# --- 4. renamed away and back
mark
ip -n "$NS" link set skfp-c0 down
ip -n "$NS" link set skfp-c0 name skfp-x0
check "renamed away: Interfaces shows skfp-c0 absent" wait_iface skfp-c0 "0 false"
check "PropertiesChanged: skfp-c0,0,false" saw_signal "skfp-c0,0,false"
check "no egress tcx link on the renamed link" test "$(egress_links "$IDX")" -eq 0
ip -n "$NS" link set skfp-x0 up
routes_c0 skfp-x0
check "traffic over the renamed link goes direct" direct 198.18.0.10
mark
ip -n "$NS" link set skfp-x0 down
ip -n "$NS" link set skfp-x0 name skfp-c0
ip -n "$NS" link set skfp-c0 up
routes_c0 skfp-c0
check "renamed back: attached again on the same ifindex $IDX" wait_iface skfp-c0 "$IDX true"
check "PropertiesChanged: skfp-c0,$IDX,true" saw_signal "skfp-c0,$IDX,true"
check "and intercepting" intercepting 2001:db8::10

# --- 5. down and up: nothing changes
ids0=$(egress_link_ids)
mark
ip -n "$NS" link set skfp-c0 down
ip -n "$NS" link set skfp-c0 up
routes_c0 skfp-c0
check "down and up: still attached" wait_iface skfp-c0 "$IDX true"
check "the same tcx link" test "$(egress_link_ids)" = "$ids0"
check "no PropertiesChanged for skfp-c0 (nothing changed)" no_signal_for skfp-c0 0.3
check "still intercepting" intercepting 198.18.0.10

# --- 6. two managed links at once
IDX1=$(ifindex_of skfp-c1)
mark
check "AddInterface skfp-c1 (present)" "${B[@]}" AddInterface s skfp-c1
check "both attached" test "$(iface skfp-c0) $(iface skfp-c1)" = "$IDX true $IDX1 true"
check "two egress tcx links" test "$(egress_links "$IDX")" -eq 1 -a "$(egress_links "$IDX1")" -eq 1 -a \
        "$(egress_links)" -eq 2
check "skfp-c0 intercepting" intercepting 198.18.0.10
check "skfp-c1 intercepting" intercepting 198.18.0.20
mark
ip -n "$NS" link del skfp-c0
check "skfp-c0 deleted: absent" wait_iface skfp-c0 "0 false"
check "PropertiesChanged: skfp-c0,0,false" saw_signal "skfp-c0,0,false" "skfp-c1,$IDX1,true"
check "skfp-c1 untouched" test "$(iface skfp-c1)" = "$IDX1 true" -a "$(egress_links "$IDX1")" -eq 1
check "skfp-c1 still intercepting" intercepting 2001:db8::20
mk_c0
IDX=$(ifindex_of skfp-c0)
check "skfp-c0 back: both attached" wait_iface skfp-c0 "$IDX true"
check "two egress tcx links" test "$(egress_links)" -eq 2

# --- 7. an ifindex reused by another link while the daemon was not looking
kill -STOP "$PID"
ip -n "$NS" link del skfp-c0
ip -n "$NS" link add skfp-o0 index "$IDX" type veth peer name skfp-o1
kill -CONT "$PID"
check "the ifindex $IDX went to skfp-o0" test "$(ifindex_of skfp-o0)" = "$IDX"
check "skfp-c0 absent" wait_iface skfp-c0 "0 false"
check "no egress tcx link on the reused ifindex" test "$(egress_links "$IDX")" -eq 0
ip -n "$NS" link del skfp-o0
mk_c0
IDX=$(ifindex_of skfp-c0)
check "skfp-c0 back" wait_iface skfp-c0 "$IDX true"

# --- 8. lost events (ENOBUFS): a full resynchronisation finds the truth
# The daemon is stopped while thousands of link events overflow its socket; the last ones are among
# the lost: skfp-c0 deleted, its ifindex reused by another link, skfp-c0 created again; skfp-c1
# renamed away; skfp-c2 deleted (only the end of the dump can tell that it is gone).
ip -n "$NS" link add skfp-c2 type veth peer name skfp-c2p
"${B[@]}" AddInterface s skfp-c2
IDX2=$(ifindex_of skfp-c2)
check "skfp-c2 attached" wait_iface skfp-c2 "$IDX2 true"
ip -n "$NS" link add skfp-n0 type veth peer name skfp-m0
ip -n "$NS" link set skfp-n0 up     # a link that is down announces no alias change
OLD=$IDX
kill -STOP "$PID"
{
        # each alias change is one RTM_NEWLINK of ~1.5 KB: far more than the daemon's 8 MiB queue
        for i in $(seq 8000); do
                echo "link set skfp-n0 alias churn-$i"
        done
        echo "link del skfp-n0"
        echo "link del skfp-c0"
        echo "link add skfp-o0 index $OLD type veth peer name skfp-o1"
        echo "link del skfp-c2"
        echo "link set skfp-c1 down"
        echo "link set skfp-c1 name skfp-y1"
} >"$T/burst"
ip -n "$NS" -batch "$T/burst"
mk_c0
IDX=$(ifindex_of skfp-c0)
mark
kill -CONT "$PID"
check "the daemon noticed the lost events" log_wait "receive queue overflowed"
check "and resynchronised" log_wait "Resynchronising links"
check "after resync: skfp-c0 attached on its new ifindex $IDX" wait_iface skfp-c0 "$IDX true"
check "after resync: skfp-c1 (renamed away) absent" wait_iface skfp-c1 "0 false"
check "after resync: skfp-c2 (deleted) absent" wait_iface skfp-c2 "0 false"
check "PropertiesChanged: skfp-c0,$IDX,true skfp-c1,0,false skfp-c2,0,false" \
        saw_signal "skfp-c0,$IDX,true" "skfp-c1,0,false" "skfp-c2,0,false"
check "no egress tcx link on the reused ifindex $OLD (now skfp-o0)" test "$(egress_links "$OLD")" -eq 0
check "one egress tcx link, on ifindex $IDX" test "$(egress_links)" -eq 1 -a "$(egress_links "$IDX")" -eq 1
check "intercepting on skfp-c0" intercepting 198.18.0.10
check "no file descriptor leaked" test "$(n_fds)" -le "$fds0"
ip -n "$NS" link del skfp-o0
ip -n "$NS" link set skfp-y1 name skfp-c1
ip -n "$NS" link set skfp-c1 up
ip -n "$NS" route replace 198.18.0.20/32 via 198.19.1.2 dev skfp-c1
check "skfp-c1 renamed back: attached" wait_iface skfp-c1 "$IDX1 true"
"${B[@]}" RemoveInterface s skfp-c2

# --- 8b. lost events again: skfp-c0 deleted and created anew with the same name AND ifindex. The
# dump shows what the daemon believed, but the program went with the old link.
burst() { # LINES...: 8000 alias changes that overflow the daemon's queue, then LINES
        ip -n "$NS" link add skfp-n0 type veth peer name skfp-m0
        ip -n "$NS" link set skfp-n0 up
        {
                for i in $(seq 8000); do
                        echo "link set skfp-n0 alias churn-$i"
                done
                echo "link del skfp-n0"
                printf '%s\n' "$@"
        } >"$T/burst"
        ip -n "$NS" -batch "$T/burst"
}
n_overflows=$(grep -c "receive queue overflowed" "$T/daemon.log")
kill -STOP "$PID"
burst "link del skfp-c0"
mk_c0 "$IDX"
kill -CONT "$PID"
check "the daemon noticed the lost events" log_wait_count "receive queue overflowed" $((n_overflows + 1))
check "skfp-c0 came back with the same ifindex $IDX" test "$(ifindex_of skfp-c0)" = "$IDX"
check "after resync: attached on $IDX" wait_iface skfp-c0 "$IDX true"
check "after resync: the tcx link is on the new link" tcx_link_live "$IDX"
check "and intercepting" intercepting 198.18.0.10

# --- 9. only the kernel speaks for links: forged messages from a process are ignored
"${B[@]}" AddInterface s skfp-f0
ip -n "$NS" link add skfp-u0 type veth peer name skfp-u1
U0=$(ifindex_of skfp-u0)
mark
check "a forged RTM_NEWLINK naming skfp-u0 (ifindex $U0) skfp-f0 is sent" \
        in_client "$LAB_PY" "$SKFP_TOP/tests/lib/linkwatch.py" fake new "$U0" skfp-f0 "$PID"
check "a forged RTM_DELLINK for skfp-c1 (ifindex $IDX1) is sent" \
        in_client "$LAB_PY" "$SKFP_TOP/tests/lib/linkwatch.py" fake del "$IDX1" skfp-c1 "$PID"
check "no PropertiesChanged after them" no_signal_for skfp-f0 0.3
check "skfp-f0 still absent, skfp-c1 still attached" test "$(iface skfp-f0) $(iface skfp-c1)" = "0 false $IDX1 true"
check "no egress tcx link on skfp-u0" test "$(egress_links "$U0")" -eq 0
"${B[@]}" RemoveInterface s skfp-f0
ip -n "$NS" link del skfp-u0

# --- 9b. a link moved to another namespace is gone from ours (and our program must not follow it)
ip -n "$NS" link add skfp-v0 type veth peer name skfp-v1
"${B[@]}" AddInterface s skfp-v0
IDXV=$(ifindex_of skfp-v0)
check "skfp-v0 attached" wait_iface skfp-v0 "$IDXV true"
mark
ip -n "$NS" link set skfp-v0 netns "$WNS"
check "moved to the world namespace: skfp-v0 absent" wait_iface skfp-v0 "0 false"
check "PropertiesChanged: skfp-v0,0,false" saw_signal "skfp-v0,0,false"
check "the daemon let go of its tcx link" test "$(egress_links "$IDXV")" -eq 0
ip -n "$WNS" link set skfp-v0 netns "$NS"
IDXV=$(ifindex_of skfp-v0)
check "moved back: attached on ifindex $IDXV" wait_iface skfp-v0 "$IDXV true"
"${B[@]}" RemoveInterface s skfp-v0
ip -n "$NS" link del skfp-v0

# --- 10. RemoveInterface detaches
mark
check "RemoveInterface skfp-c0" "${B[@]}" RemoveInterface s skfp-c0
check "skfp-c0 no longer in Interfaces" test -z "$(iface skfp-c0)"
check "no egress tcx link on $IDX" test "$(egress_links "$IDX")" -eq 0
check "traffic over skfp-c0 goes direct" direct 198.18.0.10
check "skfp-c1 still attached" test "$(iface skfp-c1)" = "$IDX1 true" -a "$(egress_links)" -eq 1
ip -n "$NS" link del skfp-c0
mk_c0
check "a removed name is not attached when it appears again" no_signal_for skfp-c0 0.3
check "... and has no egress tcx link" test "$(egress_links)" -eq 1

check "no warning or error about links in the log" \
        bash -c "! grep -E '^<[0-4]>' '$T/daemon.log' | grep -v 'file descriptor limit\|overflowed' | grep ."
# a link on its way out (its RTM_NEWLINK going down, before RTM_DELLINK) is removed, never first
# called "a new link" and attached again
check "no link was called new just before it was removed" \
        bash -c "! grep -A1 'is a new link' '$T/daemon.log' | grep -q 'link removed'"
check "daemon exits 0 on SIGTERM" skfp_daemon_stop
lab_summary
