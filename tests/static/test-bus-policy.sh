#!/usr/bin/env bash
# dbus-daemon loads the bus policy through an <include> by name (a broken file makes it exit),
# and the policy does what it says: root may own org.skfastpath1, nobody else may.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
. "$SKFP_TOP/tests/lib/private-bus.sh"

command -v dbus-daemon >/dev/null || skip "dbus-daemon is not installed"
T=$(mktemp -d /tmp/skfp-static-bus.XXXXXX)
chmod 755 "$T"    # other users connect too
trap 'skfp_bus_stop; rm -rf "$T"' EXIT

if skfp_bus_start "$T"; then
        ok "dbus-daemon started with dbus/org.skfastpath1.conf included"
else
        fail "dbus-daemon refused the configuration including dbus/org.skfastpath1.conf"
        finish
fi
check "included by name, not through <includedir>" \
        grep -qF "<include>$SKFP_TOP/dbus/org.skfastpath1.conf</include>" "$T/system.conf"

request_name() {
        dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
                org.freedesktop.DBus.RequestName string:org.skfastpath1 uint32:0 2>&1
}
out=$(request_name)
check "root may own org.skfastpath1 (${out##*$'\n'})" grep -q 'uint32 1' <<<"$out"
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
        out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups bash -c "$(declare -f request_name); request_name")
        check "nobody may not own org.skfastpath1 ($out)" grep -q 'AccessDenied' <<<"$out"
else
        echo "     (not root: the non-root ownership check is left out)"
fi
# Everything we name in the policy is ours.
others=$(grep -oE '(own|own_prefix|send_destination|receive_sender)="[^"]*"' "$SKFP_TOP/dbus/org.skfastpath1.conf" |
        sed 's/.*="\(.*\)"/\1/' | grep -vx 'org\.skfastpath1' | sort -u)
check "the policy names only org.skfastpath1${others:+ (also: $others)}" test -z "$others"
finish
