#!/bin/bash
# With the socket unit masked the daemon opens its listener itself: a restart hands that
# listening socket over too (the same socket, so nothing queued in it is lost), along with the
# relayed connections; a stop closes it.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

STREAM=/skfp-bin/skfp-stream
D=/run/skfp-test
world_up
intercept_config skfp-c0 "7"

listener_inode() { # the socket inode of the IPv4 listener on 15001
        ss -Hltne 'sport = :15001' | grep -o 'ino:[0-9]*' | head -n1
}

check "mask the socket unit" systemctl mask skfastpathd.socket
check "service started" systemctl start skfastpathd.service
wait_state skfastpathd.service active 100 || die "skfastpathd.service did not start"
sleep 0.5
ino=$(listener_inode)
check "the daemon's own listener ($ino)" test -n "$ino"
"$STREAM" hold 198.18.0.10 7 5 "$D/held.ready" "$D/held.go" 60 >"$D/held.out" 2>&1 &
HELD=$!
for _ in $(seq 200); do [ -e "$D/held.ready" ] && break; sleep 0.05; done
check "5 relayed connections open" test -e "$D/held.ready"

check "systemctl restart" systemctl restart skfastpathd.service
log=$(journalctl -u skfastpathd.service -o cat --no-pager | tail -n 80)
check "the same listening socket, handed over ($(listener_inode))" test "$(listener_inode)" = "$ino"
check "the relayed connections taken over" grep -q '^Took over 5 relayed connection' <<<"$log"
touch "$D/held.go"
wait "$HELD"
check "all kept ($(cat "$D/held.out"))" grep -q '^ok kept=5 ' "$D/held.out"
"$STREAM" stream 198.18.0.10 7 1 >"$D/new.out" 2>&1
check "a new connection after the restart is relayed byte-exact ($(cat "$D/new.out"))" grep -q '^ok sent=' "$D/new.out"
check "systemctl stop" systemctl stop skfastpathd.service
check "the listener is gone with the daemon" test -z "$(listener_inode)"
systemctl unmask skfastpathd.socket
world_down
finish
