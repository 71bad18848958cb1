#!/bin/bash
# Runtime changes made over D-Bus survive `systemctl restart` (persisted under
# /var/lib/skfastpath, StateDirectory=), the listener socket stays open throughout, and the
# restart is a real one (a new process).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_members AddPort AddInterface Ports Interfaces Fastpath

ip link add skfp0 type dummy && ip link set skfp0 up
check "socket started" systemctl start skfastpathd.socket
check "service started" systemctl start skfastpathd.service
check "AddPort 18080" busctl --system call "$BUS_DEST" "$BUS_PATH" "$BUS_IFACE" AddPort q 18080
check "AddInterface skfp0" busctl --system call "$BUS_DEST" "$BUS_PATH" "$BUS_IFACE" AddInterface s skfp0
if has_member SetFastpath; then
        check "SetFastpath false" busctl --system call "$BUS_DEST" "$BUS_PATH" "$BUS_IFACE" SetFastpath b false
fi
ports=$(get_property Ports)
ifaces=$(get_property Interfaces)
fastpath=$(get_property Fastpath)
echo "     before: Ports=$ports Interfaces=$ifaces Fastpath=$fastpath"
check "state directory holds something" test -n "$(ls -A /var/lib/skfastpath 2>/dev/null)"
pid=$(main_pid)
listener=$(ss -Hltn 'sport = :15001' | wc -l)

check "systemctl restart" systemctl restart skfastpathd.service
check "active after the restart" wait_state skfastpathd.service active 100
check "a new process" test "$(main_pid)" != "$pid"
check "the socket unit stayed active" test "$(unit_state skfastpathd.socket)" = active
check "the listeners are still there" test "$(ss -Hltn 'sport = :15001' | wc -l)" = "$listener"
check "Ports kept ($(get_property Ports))" test "$(get_property Ports)" = "$ports"
check "Interfaces kept ($(get_property Interfaces))" test "$(get_property Interfaces)" = "$ifaces"
check "Fastpath kept ($(get_property Fastpath))" test "$(get_property Fastpath)" = "$fastpath"
check "still answers: RemovePort 18080" busctl --system call "$BUS_DEST" "$BUS_PATH" "$BUS_IFACE" RemovePort q 18080
ip link del skfp0
finish
