#!/bin/bash
# A crash (SIGKILL) is not a stop: Restart=on-failure brings the daemon back, the pinned
# datapath stays attached meanwhile and is adopted rather than attached twice; the pin
# directory survives the crash (ExecStopPost= only removes it when empty); a clean stop
# afterwards still leaves nothing behind.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

CG2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' \
        /proc/self/mountinfo | head -n1)
command -v bpftool >/dev/null || skip "no bpftool in the container"

sockops() {
        bpftool cgroup tree "$CG2" | awk '$2 == "cgroup_sock_ops" || $2 == "sock_ops" { print $1 }' | sort | tr '\n' ' '
}
# the kernel's IDs of the pinned objects: the same IDs after the crash means adopted
pinned_ids() {
        local p id
        for p in $(pins); do
                id=$(bpftool map show pinned "$p" 2>/dev/null || bpftool link show pinned "$p" 2>/dev/null ||
                        bpftool prog show pinned "$p" 2>/dev/null)
                echo "${p##*/}=${id%%:*}"
        done | tr '\n' ' '
}
pins() {
        find /sys/fs/bpf/skfastpath -mindepth 1 2>/dev/null | sort | tr '\n' ' '
}

check "service started" systemctl start skfastpathd.service
wait_state skfastpathd.service active 100 || die "skfastpathd.service did not start"
[ -n "$(pins)" ] || skip "the daemon pins nothing under /sys/fs/bpf/skfastpath (no datapath in this tree)"
pid=$(main_pid)
before_pins=$(pins)
before_sockops=$(sockops)
before_ids=$(pinned_ids)
echo "     pinned objects: $before_ids"
echo "     sockops programs on the cgroup: $before_sockops"
check "one sockops program attached" test "$(echo "$before_sockops" | wc -w)" = 1

check "SIGKILL" systemctl kill -s KILL skfastpathd.service
for _ in $(seq 100); do
        [ "$(unit_state skfastpathd.service)" = active ] && [ "$(main_pid)" != "$pid" ] && [ "$(main_pid)" != 0 ] && break
        sleep 0.1
done
check "Restart=on-failure brought it back (NRestarts=$(systemctl show -P NRestarts skfastpathd.service))" \
        test "$(systemctl show -P NRestarts skfastpathd.service)" = 1
check "as a new process" test "$(main_pid)" != "$pid"
check "the pins are the same ($(pins))" test "$(pins)" = "$before_pins"
check "the same pinned maps and link, adopted ($(pinned_ids))" test "$(pinned_ids)" = "$before_ids"
check "one sockops program, not a second copy ($(sockops))" test "$(sockops | wc -w)" = 1

check "clean stop" systemctl stop skfastpathd.service
check "no sockops program left" test -z "$(sockops)"
check "no pins left" test -z "$(pins)"
check "no pin directory left" test ! -e /sys/fs/bpf/skfastpath
finish
