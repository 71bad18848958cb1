# shellcheck shell=bash
# A private system bus for tests, scripts/run and the demo (see TESTING.md).
#   skfp_bus_start DIR   writes DIR/system.conf, starts dbus-daemon, exports
#                        DBUS_SYSTEM_BUS_ADDRESS and SKFP_BUS_PID
#   skfp_bus_stop        stops it
# The project's own policy is included by name, so a broken policy file fails loudly.
# Also the two helpers every started process uses:
#   skfp_wait_ready PID LOG WHAT CMD...   polls CMD (quiet) for up to 5 s while PID lives; when
#                                         it does not succeed, says so with LOG and fails
#   skfp_stop_pid VAR                     stops the process whose pid VAR holds, waits for it
#                                         and empties VAR

skfp_wait_ready() {
        local pid=$1 log=$2 what=$3 _
        shift 3
        for _ in $(seq 250); do
                "$@" >/dev/null 2>&1 && return 0
                if ! kill -0 "$pid" 2>/dev/null; then
                        echo "$what exited during start:" >&2
                        cat "$log" >&2
                        return 1
                fi
                sleep 0.02
        done
        echo "$what did not take its bus name within 5 s:" >&2
        cat "$log" >&2
        return 1
}

skfp_stop_pid() {
        local pid=${!1:-}
        if [ -n "$pid" ]; then
                kill "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
        fi
        printf -v "$1" '%s' ""
}

skfp_bus_start() {
        local dir=$1 top
        top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
        mkdir -p "$dir/services"
        cat >"$dir/system.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <keep_umask/>
  <listen>unix:path=$dir/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$dir/services</servicedir>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Peer"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus" send_member="UpdateActivationEnvironment"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Debug.Stats"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.systemd1.Activator"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.systemd1.Activator"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  <include>$top/dbus/org.skfastpath1.conf</include>
  <include ignore_missing="yes">/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf</include>
</busconfig>
CONF
        rm -f "$dir/system_bus_socket"
        dbus-daemon --config-file="$dir/system.conf" --nofork --nopidfile --print-address=3 \
                3>"$dir/address" >"$dir/dbus.log" 2>&1 &
        SKFP_BUS_PID=$!
        local i
        for i in $(seq 100); do
                [ -S "$dir/system_bus_socket" ] && [ -s "$dir/address" ] && break
                kill -0 "$SKFP_BUS_PID" 2>/dev/null || { cat "$dir/dbus.log" >&2; return 1; }
                sleep 0.02
        done
        export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$dir/system_bus_socket"
        export SKFP_BUS_PID
}

skfp_bus_stop() {
        skfp_stop_pid SKFP_BUS_PID
}

# A real polkitd on the private bus (TESTING.md). polkitd reads fixed directories, so it runs in
# a private mount namespace with DIR/actions over its actions directory, DIR/rules.d over
# /etc/polkit-1/rules.d and an empty directory over /usr/share/polkit-1/rules.d.
#   skfp_polkit_start DIR   fill DIR/actions and DIR/rules.d first (rules are re-read by polkitd
#                           within about a second after a change); exports SKFP_POLKIT_PID.
#                           polkitd drops to its own user: DIR and its parents must be searchable.
#   skfp_polkit_stop        stops it
skfp_polkit_start() {
        local dir=$1
        [ -x /usr/lib/polkit-1/polkitd ] || { echo "no /usr/lib/polkit-1/polkitd" >&2; return 1; }
        [ -n "${DBUS_SYSTEM_BUS_ADDRESS:-}" ] || { echo "skfp_polkit_start: no private bus" >&2; return 1; }
        mkdir -p "$dir/actions" "$dir/rules.d" "$dir/empty"
        chmod 0755 "$dir" "$dir/actions" "$dir/rules.d" "$dir/empty"
        # shellcheck disable=SC2016
        unshare --mount sh -c '
                set -e
                mount --make-rprivate /
                mount --bind "$1/actions" /usr/share/polkit-1/actions
                mount --bind "$1/rules.d" /etc/polkit-1/rules.d
                mount --bind "$1/empty" /usr/share/polkit-1/rules.d
                exec /usr/lib/polkit-1/polkitd --no-debug' sh "$dir" >"$dir/polkitd.log" 2>&1 &
        SKFP_POLKIT_PID=$!
        if ! skfp_wait_ready "$SKFP_POLKIT_PID" "$dir/polkitd.log" polkitd \
                busctl --system status org.freedesktop.PolicyKit1; then
                kill -0 "$SKFP_POLKIT_PID" 2>/dev/null || SKFP_POLKIT_PID=
                return 1
        fi
        export SKFP_POLKIT_PID
}

skfp_polkit_stop() {
        skfp_stop_pid SKFP_POLKIT_PID
}
