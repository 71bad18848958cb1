#!/usr/bin/env bash
# README.md's troubleshooting section quotes what skfastpathd and skfastpathctl print. This test
# makes every quoted situation happen for real and checks the quotes still match, so the README
# cannot drift from the code. Each quote in README.md is a console block right after a marker
#   <!-- check: ID -->
# its lines starting with "# " or "$ " are commands (not checked), "echo $?" is followed by the
# expected exit code, and every other line must appear, in this order, as a whole line of what
# the situation printed. The situations are made in private mount namespaces (cgroup2, bpffs,
# BTF, /run/dbus hidden from the daemon only), on a private bus with a real polkitd.
# The sh -c scripts below expand their own arguments: single quotes on purpose.
# shellcheck disable=SC2016
set -euo pipefail
. "$(dirname "$0")/../lib/daemon.sh"

CTL="$SKFP_BUILD/ctl/skfastpathctl"
D="$SKFP_BUILD/daemon/skfastpathd"
README="$SKFP_TOP/README.md"
PORT=9100
[ -x /usr/lib/polkit-1/polkitd ] || skfp_skip "polkitd is not installed"
command -v setpriv >/dev/null || skfp_skip "setpriv is not installed"

skfp_env_init readme
chmod 0755 "$T"
sed -i 's/^LogLevel=debug/LogLevel=info/' "$T/skfastpathd.conf"  # what a default install prints
mkdir -p "$T/out" "$T/blocks"


# capture ID COMMAND...: what COMMAND prints (stdout and stderr) and its exit code, for block ID
capture() {
        local id=$1 rc=0; shift
        "$@" >"$T/out/$id" 2>&1 </dev/null || rc=$?
        echo "$rc" >"$T/out/$id.rc"
}
daemon_in_ns() { # the daemon as skfp_daemon_start runs it, in the foreground
        nsenter --net="/run/netns/$NS" "$D" "$@"
}
nothing_pinned() { [ ! -e "${1:-$PIN}" ]; }
daemon_up() { busctl --system get-property org.skfastpath1 /org/skfastpath1 org.skfastpath1.Manager Version >/dev/null 2>&1; }

# --- situations without a running daemon -----------------------------------------------------

capture no-btf unshare -m sh -c '
        mount --make-rprivate / && mount -t tmpfs none /sys/kernel/btf || exit 98
        exec nsenter --net="/run/netns/$1" "$2" --config="$3"' sh "$NS" "$D" "$T/skfastpathd.conf"
check "no BTF: nothing pinned" nothing_pinned

grep -v '^CgroupPath=' "$T/skfastpathd.conf" >"$T/no-cgroup-path.conf"
# Without CgroupPath= the daemon looks for the cgroup2 root: it must find none, never the real one.
capture cgroup2-not-mounted unshare -m sh -c '
        mount --make-rprivate / || exit 98
        while m=$(awk "\$9 == \"cgroup2\" { print \$5; exit }" /proc/self/mountinfo); [ -n "$m" ]; do
                umount -l "$m" || exit 98
        done
        ! grep -q " - cgroup2 " /proc/self/mountinfo || exit 99
        exec nsenter --net="/run/netns/$1" "$2" --config="$3"' sh "$NS" "$D" "$T/no-cgroup-path.conf"
check "cgroup2 not mounted: nothing pinned" nothing_pinned

cp "$T/skfastpathd.conf" "$T/cgroup-tmp.conf"
printf '[Fastpath]\nCgroupPath=/tmp\n' >>"$T/cgroup-tmp.conf"
capture cgroup-path-not-cgroup2 daemon_in_ns --config="$T/cgroup-tmp.conf"

capture bpffs-cannot-mount unshare -m sh -c '
        mount --make-rprivate / || exit 98
        while mountpoint -q /sys/fs/bpf; do umount -l /sys/fs/bpf || exit 98; done
        exec nsenter --net="/run/netns/$1" setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin \
                "$2" --config="$3"' sh "$NS" "$D" "$T/skfastpathd.conf"

# No system bus: the default address, with /run/dbus hidden (this machine may have a bus).
no_bus() {
        env -u DBUS_SYSTEM_BUS_ADDRESS unshare -m sh -c '
                mount --make-rprivate / || exit 98
                if [ -d /run/dbus ]; then mount -t tmpfs none /run/dbus || exit 98; fi
                exec "$@"' sh "$@"
}
capture ctl-no-bus no_bus "$CTL" status
capture daemon-no-bus no_bus nsenter --net="/run/netns/$NS" "$D" --config="$T/skfastpathd.conf"
check "no bus: nothing pinned" nothing_pinned

capture ctl-not-running "$CTL" status

# A bus without our policy: nobody may own org.skfastpath1.
mkdir -p "$T/bus2"
grep -v 'org.skfastpath1.conf' "$T/bus/system.conf" | sed "s|$T/bus/|$T/bus2/|g" >"$T/bus2/system.conf"
dbus-daemon --config-file="$T/bus2/system.conf" --nofork --nopidfile >"$T/bus2/log" 2>&1 &
BUS2_PID=$!
SKFP_CLEANUP_HOOKS+=("kill $BUS2_PID 2>/dev/null; wait $BUS2_PID 2>/dev/null")
for _ in $(seq 100); do [ -S "$T/bus2/system_bus_socket" ] && break; sleep 0.02; done
capture daemon-no-policy env DBUS_SYSTEM_BUS_ADDRESS="unix:path=$T/bus2/system_bus_socket" \
        nsenter --net="/run/netns/$NS" "$D" --config="$T/skfastpathd.conf"
check "bus name forbidden: nothing pinned, nothing attached" \
        sh -c "[ ! -e '$PIN' ] && [ -z \"\$(bpftool cgroup list '$CG' 2>/dev/null | grep sock_ops)\" ]"
kill "$BUS2_PID"; wait "$BUS2_PID" 2>/dev/null || true

# bpffs unmounted (in the daemon's mount namespace only): the daemon mounts it and runs.
capture bpffs-mounted unshare -m sh -c '
        mount --make-rprivate / || exit 98
        while mountpoint -q /sys/fs/bpf; do umount -l /sys/fs/bpf || exit 98; done
        nsenter --net="/run/netns/$1" "$2" --config="$3" & p=$!
        i=0
        while [ $i -lt 250 ] && ! busctl --system get-property org.skfastpath1 /org/skfastpath1 org.skfastpath1.Manager Version >/dev/null 2>&1; do
                kill -0 $p || break; sleep 0.02; i=$((i + 1))
        done
        kill -TERM $p; wait $p' sh "$NS" "$D" "$T/skfastpathd.conf"

# --- situations with a running daemon --------------------------------------------------------

# polkit: U_N has no rule (the action's default asks for a password), U_D is refused by a rule.
U_N="skfprn$$" U_D="skfprd$$"
SKFP_CLEANUP_HOOKS+=("skfp_polkit_stop" "userdel $U_N; userdel $U_D")
useradd -M -N "$U_N"
useradd -M -N "$U_D"
mkdir -p "$T/polkit/actions" "$T/polkit/rules.d"
cp "$SKFP_TOP/dbus/org.skfastpath1.policy" "$T/polkit/actions/"
cat >"$T/polkit/rules.d/50-readme.rules" <<RULES
polkit.addRule(function(action, subject) {
        if (action.id == "org.skfastpath1.manage" && subject.user == "$U_D")
                return polkit.Result.NO;
        return polkit.Result.NOT_HANDLED;
});
RULES
skfp_polkit_start "$T/polkit"

cp "$T/skfastpathd.conf" "$T/base.conf"
printf '[Intercept]\nPorts=%s\n' "$PORT" >>"$T/skfastpathd.conf"
skfp_daemon_start

capture polkit-no-agent runuser -u "$U_N" -- "$CTL" add-port 80
capture polkit-no-ask-password runuser -u "$U_N" -- "$CTL" --no-ask-password add-port 80
capture polkit-denied runuser -u "$U_D" -- "$CTL" add-port 80
skfp_polkit_stop
capture polkit-not-running runuser -u "$U_N" -- "$CTL" add-port 80

# A second daemon (its own pin directory and state) while the first owns the name.
mkdir -p "$T/state2"
sed "s|^PinDirectory=.*|PinDirectory=$PIN-2|; s|^StateDirectory=.*|StateDirectory=$T/state2|" \
        "$T/skfastpathd.conf" >"$T/second.conf"
SKFP_CLEANUP_HOOKS+=("rm -rf '$PIN-2'")
capture daemon-name-taken daemon_in_ns --config="$T/second.conf"
check "name taken: the second daemon left nothing pinned" nothing_pinned "$PIN-2"
check "name taken: one sockops program on the cgroup" \
        [ "$(bpftool cgroup list "$CG" | grep -c sock_ops)" = 1 ]
check "name taken: the first daemon still runs" daemon_up

in_cgroup() { # the command in the test's netns and cgroup, where the fastpath applies
        nsenter --net="/run/netns/$NS" sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" "$@"
}
HAZARDS="$SKFP_TOP/tests/integration/fastpath-hazards.py"
capture fastpath-hazards in_cgroup /usr/bin/python3 "$HAZARDS" "$PORT"

skfp_daemon_stop
capture ctl-not-running-after-stop "$CTL" status
rm -f "$T/state/state"
cp "$T/base.conf" "$T/skfastpathd.conf"
# the test's cgroup declared a receiver: both ends of the script's connections are receivers
printf '[Intercept]\nPorts=%s\n[Fastpath]\nTrustedCgroups=%s\n' "$PORT" "${CG#"$(skfp_cgroup2_root)"}" \
        >>"$T/skfastpathd.conf"
skfp_daemon_start
capture fastpath-hazards-trusted in_cgroup /usr/bin/python3 "$HAZARDS" "$PORT"
skfp_daemon_stop

# --- compare with README.md -------------------------------------------------------------------

awk -v dir="$T/blocks" '
        match($0, /^<!-- check: [a-z0-9-]+ -->$/) { id = substr($0, 13, length($0) - 16); want = 1; next }
        want && /^```/ { if (f) close(f); f = dir "/" id; printf "" > f; inblock = 1; want = 0; next }
        inblock && /^```$/ { inblock = 0; next }
        inblock { print > f }
        want && NF { want = 0 }
' "$README"

compare() { # compare ID: README's block ID against what the situation printed
        /usr/bin/python3 - "$T/blocks/$1" "$T/out/$1" "$T/out/$1.rc" <<'PY'
import sys
block = open(sys.argv[1]).read().splitlines()
out = open(sys.argv[2], errors="replace").read().splitlines()
rc = open(sys.argv[3]).read().strip()
want, want_rc, i = [], None, 0
while i < len(block):
        line = block[i]
        if line.startswith(("# ", "$ ")):
                if line[2:].strip() == "echo $?" and i + 1 < len(block):
                        want_rc = block[i + 1].strip()
                        i += 1
        else:
                want.append(line)
        i += 1
problems, pos = [], 0
for w in want:
        try:
                pos = out.index(w, pos) + 1
        except ValueError:
                problems.append(f"README line not printed (in this order): {w}")
if want_rc is not None and want_rc != rc:
        problems.append(f"exit code {rc}, README says {want_rc}")
if not want:
        problems.append("README block has no output lines")
for p in problems:
        print("     " + p)
if problems:
        print("     what was printed:")
        for line in out:
                print("       | " + line)
sys.exit(1 if problems else 0)
PY
}

scenarios=(no-btf cgroup2-not-mounted cgroup-path-not-cgroup2 bpffs-mounted bpffs-cannot-mount
        polkit-no-agent polkit-no-ask-password polkit-denied polkit-not-running fastpath-hazards
        fastpath-hazards-trusted ctl-no-bus ctl-not-running daemon-no-bus daemon-name-taken
        daemon-no-policy)
for id in "${scenarios[@]}"; do
        if [ ! -e "$T/blocks/$id" ]; then
                fail "README.md has no block <!-- check: $id -->"
        else
                check "README block $id matches what is printed" compare "$id"
        fi
done
for b in "$T"/blocks/*; do
        id=$(basename "$b")
        case " ${scenarios[*]} " in
        *" $id "*) ;;
        *) fail "README.md block <!-- check: $id --> is not made to happen by this test" ;;
        esac
done
# The same message before and after a daemon ran: not a leftover of the start.
check "ctl-not-running is the same after a daemon stopped" cmp -s "$T/out/ctl-not-running" "$T/out/ctl-not-running-after-stop"

checks_summary
