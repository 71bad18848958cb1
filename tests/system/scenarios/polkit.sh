#!/bin/bash
# shellcheck disable=SC2317 # helpers are called through check()
# Changes need polkit's org.skfastpath1.manage: a plain user is refused and the state does not
# move; a user granted by a polkit rule is accepted; reading needs nothing.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

require_members AddPort RemovePort AddInterface SetFastpath GetStatistics Ports

action_known() {
        pkaction --action-id org.skfastpath1.manage >/dev/null 2>&1
}
check "polkitd knows the action org.skfastpath1.manage" action_known
groupadd -f sknet
useradd -M -N -s /bin/bash skplain
useradd -M -N -G sknet -s /bin/bash skgranted
useradd -M -N -s /bin/bash skdenied
mkdir -p /etc/polkit-1/rules.d
cat >/etc/polkit-1/rules.d/50-skfp-test.rules <<'RULES'
polkit.addRule(function(action, subject) {
        if (action.id != "org.skfastpath1.manage")
                return polkit.Result.NOT_HANDLED;
        if (subject.isInGroup("sknet"))
                return polkit.Result.YES;
        if (subject.user == "skdenied")
                return polkit.Result.NO;
        return polkit.Result.NOT_HANDLED;
});
RULES
# polkitd picks new rules up by itself; restarting it makes the test independent of the delay
systemctl restart polkit.service

before=$(get_property Ports)
check "a plain user may read Ports ($before)" runuser -u skplain -- busctl --system get-property "$BUS_DEST" "$BUS_PATH" "$BUS_IFACE" Ports

# dbus-send prints the error's name (busctl only its message) and does not allow interaction
call_as() {
        local user=$1 method=$2
        shift 2
        runuser -u "$user" -- dbus-send --system --print-reply --dest="$BUS_DEST" "$BUS_PATH" "$BUS_IFACE.$method" "$@" 2>&1
}
refused() {
        echo "$1" | grep -qE '^Error org\.freedesktop\.DBus\.Error\.(AccessDenied|InteractiveAuthorizationRequired):'
}
replied() {
        echo "$1" | grep -q '^method return'
}
out=$(call_as skplain AddPort uint16:18080)
check "AddPort by a plain user refused ($out)" refused "$out"
check "and Ports unchanged" test "$(get_property Ports)" = "$before"
out=$(call_as skdenied AddPort uint16:18080)
check "AddPort by a user a rule denies: AccessDenied ($out)" \
        grep -q '^Error org.freedesktop.DBus.Error.AccessDenied:' <<<"$out"
out=$(runuser -u skplain -- busctl --system call "$BUS_DEST" "$BUS_PATH" "$BUS_IFACE" AddPort q 18080 2>&1)
check "also when interaction is allowed (busctl: $out)" test -n "$out"
check "Ports still unchanged" test "$(get_property Ports)" = "$before"

out=$(runuser -u skgranted -- busctl --system call "$BUS_DEST" "$BUS_PATH" "$BUS_IFACE" AddPort q 18080 2>&1)
check "AddPort by a polkit-granted user accepted ($out)" test -z "$out"
check "Ports now has 18080 ($(get_property Ports))" sh -c "busctl --system get-property $BUS_DEST $BUS_PATH $BUS_IFACE Ports | grep -qw 18080"

out=$(call_as skplain RemovePort uint16:18080)
check "RemovePort by a plain user refused too ($out)" refused "$out"
out=$(call_as skplain SetFastpath boolean:false)
check "SetFastpath by a plain user refused" refused "$out"
out=$(call_as skplain AddInterface string:skfp9)
check "AddInterface by a plain user refused" refused "$out"
out=$(call_as skplain GetStatistics)
check "GetStatistics open to a plain user" replied "$out"
check "root may always" busctl --system call "$BUS_DEST" "$BUS_PATH" "$BUS_IFACE" RemovePort q 18080
check "Ports back to where it was" test "$(get_property Ports)" = "$before"
finish
