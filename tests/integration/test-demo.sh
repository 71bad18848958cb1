#!/usr/bin/env bash
# scripts/demo end to end: a non-interactive run exits 0 with every check of its steps passed,
# and leaves nothing behind (namespaces, cgroup, pins, scratch directory, processes, the host's
# rules, routes and qdiscs); so do runs stopped half-way by SIGINT and SIGTERM, by Ctrl-C at a
# pause on a real terminal (a pty), and a run on a machine without bpffs mounted.
set -euo pipefail
top=${SKFP_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${SKFP_BUILD_ROOT:-$top/build}
demo="$top/scripts/demo"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -e /sys/kernel/btf/vmlinux ] || { echo "SKIP: kernel has no BTF"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 77; }

T=$(mktemp -d /tmp/skfp-test-demo-$$.XXXXXX)
demo_pid=
cleanup() {
        # a demo still running is stopped the way a user would: it removes its own lab
        if [ -n "$demo_pid" ]; then
                kill -TERM "$demo_pid" 2>/dev/null || true
                wait "$demo_pid" 2>/dev/null || true
        fi
        rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=../lib/check.sh
. "$(dirname "$0")/../lib/check.sh"

host_snapshot() {
        ip rule; ip -6 rule; ip route show table main; ip -6 route show table main
        tc qdisc show
        cat /proc/sys/net/ipv4/conf/lo/accept_local /proc/sys/net/ipv4/conf/all/accept_local
}

cg2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)

# Nothing named after the demo's lab (skfp-demo-PID) is left anywhere.
nothing_left() { # OUTPUT_FILE
        local name bad=0 p
        name=$(grep -o 'client namespace skfp-demo-[0-9]*' "$1" | head -1 | cut -d' ' -f3)
        if [ -z "$name" ]; then
                echo "     the demo did not say its lab's name"
                return 1
        fi
        if ip netns list | grep -q "^$name\b"; then echo "     namespace left: $(ip netns list | grep "$name")"; bad=1; fi
        if [ -e "$cg2/$name" ]; then echo "     cgroup $cg2/$name left"; bad=1; fi
        if [ -e "/sys/fs/bpf/skfastpath/$name" ]; then echo "     pins left in /sys/fs/bpf/skfastpath/$name"; bad=1; fi
        if compgen -G "/tmp/$name.*" >/dev/null; then echo "     scratch directory left: $(echo /tmp/"$name".*)"; bad=1; fi
        # processes of the lab: their command lines name its scratch directory or namespaces
        for p in /proc/[0-9]*; do
                [ -r "$p/cmdline" ] || continue
                if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q "${name}[./ -]"; then
                        echo "     process left: ${p#/proc/} $(tr '\0' ' ' <"$p/cmdline")"
                        bad=1
                fi
        done
        return $bad
}

wait_for() { # FILE PATTERN SECONDS
        for _ in $(seq $(($3 * 10))); do
                grep -q "$2" "$1" 2>/dev/null && return 0
                sleep 0.1
        done
        return 1
}

before=$(host_snapshot)

# --- 1. the whole tour, non-interactive ------------------------------------------------------
rc=0
SKFP_BUILD_ROOT=$build timeout -s TERM 180 "$demo" --fast --no-build </dev/null >"$T/full.out" 2>&1 || rc=$?
check "--fast: exit 0 (got $rc)" [ "$rc" = 0 ]
check "--fast: every step's checks passed ($(grep -o '[0-9]* checks passed, [0-9]* failed' "$T/full.out" || echo 'no summary'))" \
        grep -q '^[0-9]* checks passed, 0 failed\.' <(sed 's/\x1b\[[0-9;]*m//g' "$T/full.out")
check "--fast: all 9 steps ran" grep -q '== 9/9  The lab is removed ==' "$T/full.out"
check "--fast: curl was relayed (IPv4 and IPv6)" sh -c "grep -q 'ok   IPv4: .*relayed' '$T/full.out' && grep -q 'ok   IPv6: .*relayed' '$T/full.out'"
check "--fast: the link came back and was followed" grep -q 'ok   Interfaces: skfp-c0 is back and attached' "$T/full.out"
check "--fast: no pause prompt without a terminal" sh -c "! grep -q 'Enter: run it' '$T/full.out'"
check "--fast: nothing left" nothing_left "$T/full.out"
if [ "$rc" != 0 ]; then sed 's/^/     | /' "$T/full.out" | tail -60; fi

# --- 2. and 3. stopped half-way by a signal --------------------------------------------------
# Job control: a background job of a script ignores SIGINT otherwise (and could not trap it).
interrupted() { # SIGNAL STEP_PATTERN NAME
        local sig=$1 pattern=$2 out="$T/$3.out" rc=0
        set -m
        SKFP_BUILD_ROOT=$build "$demo" --fast --no-build </dev/null >"$out" 2>&1 &
        demo_pid=$!
        set +m
        if ! wait_for "$out" "$pattern" 60; then
                echo "     never reached '$pattern'"
        fi
        kill -"$sig" "$demo_pid" 2>/dev/null || true
        wait "$demo_pid" || rc=$?
        demo_pid=
        check "SIG$sig at '$pattern': exit 130 (got $rc)" [ "$rc" = 130 ]
        check "SIG$sig at '$pattern': says it is removing the lab" grep -q 'stopped (exit 130); removing the lab' "$out"
        check "SIG$sig at '$pattern': nothing left" nothing_left "$out"
}
interrupted INT '== 6/9' sigint
interrupted TERM '== 4/9' sigterm

# --- 4. Ctrl-C on a terminal, at a pause -------------------------------------------------------
# The demo in a pty: Enter at the first two pauses, then Ctrl-C (the terminal sends SIGINT to
# the foreground process group, as for a user).
rc=0
SKFP_BUILD_ROOT=$build /usr/bin/python3 - "$demo" "$T/pty.out" <<'PY' || rc=$?
import os, pty, select, sys, time
demo, log = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(demo, [demo, "--no-build"])
out = open(log, "wb")
buf = b""
def read_until(pattern, seconds):
    global buf
    end = time.time() + seconds
    while pattern not in buf:
        left = end - time.time()
        if left <= 0:
            return False
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return False
            if not data:
                return False
            out.write(data); out.flush()
            buf += data
    return True
prompts = 0
for _ in range(2):
    if not read_until(b"Enter: run it", 60):
        sys.exit(90)
    buf = buf.split(b"Enter: run it", 1)[1]
    time.sleep(0.2)
    os.write(fd, b"\r")
if not read_until(b"Enter: run it", 60):
    sys.exit(91)
time.sleep(0.2)
os.write(fd, b"\x03")
read_until(b"\xff", 60)  # to EOF: the demo cleans up and exits
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
PY
check "Ctrl-C at the third pause on a terminal: exit 130 (got $rc)" [ "$rc" = 130 ]
check "Ctrl-C on a terminal: steps 1 and 2 ran, step 3 did not" \
        sh -c "grep -q '2/9  skfastpathd starts' '$T/pty.out' && grep -q 'without a managed port the world sees curl' '$T/pty.out' && ! grep -q 'skfastpathctl add-interface' '$T/pty.out'"
check "Ctrl-C on a terminal: nothing left" nothing_left "$T/pty.out"

# --- 5. a machine without bpffs: the demo mounts one and unmounts it again ---------------------
# In a private mount namespace with /sys/fs/bpf unmounted there (the host's stays as it is).
rc=0
# shellcheck disable=SC2016
SKFP_BUILD_ROOT=$build timeout -s TERM 180 unshare -m --propagation private sh -c '
        umount -l /sys/fs/bpf 2>/dev/null
        ! mountpoint -q /sys/fs/bpf || exit 98
        "$1" --fast --no-build </dev/null >"$2" 2>&1 || exit
        ! mountpoint -q /sys/fs/bpf || exit 99' sh "$demo" "$T/nobpffs.out" || rc=$?
check "no bpffs: exit 0, and /sys/fs/bpf unmounted again (got $rc)" [ "$rc" = 0 ]
check "no bpffs: the demo checked it" grep -q 'ok   bpffs, mounted for the lab, unmounted again' "$T/nobpffs.out"
check "no bpffs: nothing left" nothing_left "$T/nobpffs.out"
check "the host's bpffs is still mounted" mountpoint -q /sys/fs/bpf

after=$(host_snapshot)
check "the host's rules, routes, qdiscs and accept_local are as before" [ "$before" = "$after" ]

checks_summary
