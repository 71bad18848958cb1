#!/bin/bash
# A crash (SIGKILL) is not a stop: Restart=on-failure brings the daemon back, the pinned
# datapath stays attached meanwhile and is adopted rather than attached twice; the pin
# directory survives the crash (ExecStopPost= only removes it when empty); a clean stop
# afterwards still leaves nothing behind.
. "$(dirname "$0")/lib.sh"

CG2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' \
        /proc/self/mountinfo | head -n1)
command -v bpftool >/dev/null || skip "no bpftool in the container"

sockops() {
        bpftool cgroup tree "$CG2" | awk '$2 == "cgroup_sock_ops" || $2 == "sock_ops" { print $1 }' | sort | tr '\n' ' '
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
echo "     pins: $before_pins"
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
check "the same sockops program, adopted not doubled ($(sockops))" test "$(sockops)" = "$before_sockops"

check "clean stop" systemctl stop skfastpathd.service
check "no sockops program left" test -z "$(sockops)"
check "no pins left" test -z "$(pins)"
check "no pin directory left" test ! -e /sys/fs/bpf/skfastpath
finish
