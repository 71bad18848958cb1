#!/bin/bash
# `systemctl enable --now skfastpathd.socket` listens on 127.0.0.1 and [::1] at the default
# port with IP(V6)_TRANSPARENT; the first connection starts skfastpathd.service, which gets
# both listeners passed; after a stop the socket stays and the next connection starts it again.
# Enabling the service enables both.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

skfp_write_config <<CONF
[Manager]
LogLevel=debug
CONF

check "socket unit enabled" systemctl enable --now skfastpathd.socket
check "enabled through sockets.target" test -L /etc/systemd/system/sockets.target.wants/skfastpathd.socket
check "socket is listening" wait_state skfastpathd.socket active 50
check "service not started yet" test "$(unit_state skfastpathd.service)" = inactive
check "Transparent=yes on the socket" test "$(systemctl show -P Transparent skfastpathd.socket)" = yes
listens=$(ss -Hltn 'sport = :15001' | awk '{ print $4 }' | sort | tr '\n' ' ')
check "listening on 127.0.0.1:15001 and [::1]:15001 only (got: $listens)" \
        test "$listens" = "127.0.0.1:15001 [::1]:15001 "

check "connection to 127.0.0.1:15001 accepted by the kernel" tcp_connect 127.0.0.1 15001
wait_state skfastpathd.service active 100 || die "the first connection did not start skfastpathd.service (state $(unit_state skfastpathd.service))"
ok "the first connection started skfastpathd.service"
pid=$(main_pid)
check "Type=notify, NotifyAccess=main" \
        test "$(systemctl show -P Type,NotifyAccess skfastpathd.service | tr '\n' ' ')" = "notify main "
check "the daemon reported its status (\"$(systemctl show -P StatusText skfastpathd.service)\")" \
        test -n "$(systemctl show -P StatusText skfastpathd.service)"
check "the daemon holds the passed 127.0.0.1:15001 listener" holds_listener "$pid" 127.0.0.1:15001
check "the daemon holds the passed [::1]:15001 listener" holds_listener "$pid" '[::1]:15001'
check "connection to [::1]:15001 accepted" tcp_connect ::1 15001
check "the daemon owns org.skfastpath1" busctl --system status "$BUS_DEST" >/dev/null

# Stop both at once: a connection the daemon has not accepted yet would otherwise start it
# again right after a stop of the service alone (that is how Accept=no works).
check "stop socket and service" systemctl stop skfastpathd.socket skfastpathd.service
check "port 15001 closed while the socket unit is stopped" test -z "$(ss -Hltn 'sport = :15001')"
check "socket started again" systemctl start skfastpathd.socket
sleep 0.5
check "service stays stopped without a connection" test "$(unit_state skfastpathd.service)" = inactive
check "connection after the restart of the socket accepted" tcp_connect 127.0.0.1 15001
check "and it started the service again" wait_state skfastpathd.service active 100
check "with a new process" test "$(main_pid)" != "$pid"
check "stopping the service alone" systemctl stop skfastpathd.service
check "leaves the socket listening" test "$(unit_state skfastpathd.socket)" = active
check "on both addresses" test "$(ss -Hltn 'sport = :15001' | wc -l)" = 2
check "stop both" systemctl stop skfastpathd.socket skfastpathd.service

# [Install]: enabling the service (to intercept from boot on) enables its socket too (Also=)
systemctl disable -q skfastpathd.socket
check "systemctl enable skfastpathd.service" systemctl enable -q skfastpathd.service
check "wanted by multi-user.target" test -L /etc/systemd/system/multi-user.target.wants/skfastpathd.service
check "and the socket by sockets.target" test -L /etc/systemd/system/sockets.target.wants/skfastpathd.socket
check "systemctl disable skfastpathd.service" systemctl disable -q skfastpathd.service
check "removes both" test ! -e /etc/systemd/system/multi-user.target.wants/skfastpathd.service -a \
        ! -e /etc/systemd/system/sockets.target.wants/skfastpathd.socket
finish
