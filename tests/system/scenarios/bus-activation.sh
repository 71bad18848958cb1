#!/bin/bash
# The first D-Bus call to org.skfastpath1 starts skfastpathd.service through systemd
# (dbus/org.skfastpath1.service: SystemdService=skfastpathd.service), not by the bus's Exec=.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

check "service not running before the call" test "$(unit_state skfastpathd.service)" = inactive
check "the name is activatable" sh -c "busctl --system list --activatable --no-legend | grep -q '^$BUS_DEST '"
v=$(busctl --system --timeout=20 get-property "$BUS_DEST" "$BUS_PATH" "$BUS_IFACE" Version 2>&1)
check "Version read through activation: $v" test "$v" = "s \"$SKFP_VERSION\""
check "skfastpathd.service is active" test "$(unit_state skfastpathd.service)" = active
check "its main process owns the name" \
        test "$(busctl --system status "$BUS_DEST" 2>/dev/null | sed -n 's/^PID=//p')" = "$(main_pid)"
check "started by systemd on the bus's request" sh -c \
        "journalctl -b -u dbus.service --no-pager | grep -q \"Activating via systemd: service name='$BUS_DEST' unit='skfastpathd.service'\""
check "the socket unit was started with it (Wants=)" test "$(unit_state skfastpathd.socket)" = active
check "and the daemon holds its listeners" holds_listener "$(main_pid)" 127.0.0.1:15001
check "a second call does not start another" sh -c \
        "pid=$(main_pid); busctl --system get-property $BUS_DEST $BUS_PATH $BUS_IFACE Version >/dev/null && test \$(systemctl show -P MainPID skfastpathd.service) = \$pid"
check "systemctl stop" systemctl stop skfastpathd.service
check "a call after the stop activates it again" busctl --system get-property "$BUS_DEST" "$BUS_PATH" "$BUS_IFACE" Version
check "active again" test "$(unit_state skfastpathd.service)" = active
finish
