#!/usr/bin/env bash
# Fastpath receivers through the daemon: with the shipped defaults the intercepted
# application-to-relay hop is redirected (the relay's accepted sockets are receivers), byte-exact;
# port modes and trusted cgroups over D-Bus (errors, properties, state file across a restart);
# a splice-based transparent proxy behind Relay=no delivers every byte.
set -euo pipefail
. "$(dirname "$0")/../lib/daemon.sh"
. "$SKFP_TOP/tests/lib/lab.sh"

DEST=org.skfastpath1
OBJ=/org/skfastpath1
IFACE=org.skfastpath1.Manager
command -v dbus-send >/dev/null || skfp_skip "dbus-send is not installed"
skfp_env_init fprecv
lab_init
skfp_config <<CONF
[Intercept]
Interfaces=skfp-c0
Ports=7
CONF

passed=0 failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
check() { # check DESCRIPTION COMMAND...
        local d=$1
        shift
        if "$@"; then ok "$d"; else fail "$d"; fi
}
counter() { # NAME: one GetStatistics counter
        skfp_busctl call $DEST $OBJ $IFACE GetStatistics | tr ' ' '\n' | grep -A1 -x "\"$1\"" | tail -1
}
prop() { skfp_busctl get-property $DEST $OBJ $IFACE "$1"; }
error_of() { # the D-Bus error name of a call
        dbus-send --system --print-reply --dest=$DEST $OBJ "$IFACE.$1" "${@:2}" 2>&1 >/dev/null |
                sed -n 's/^Error \([^:]*\).*/\1/p'
}

# The daemon (and so its relay's sockets) and the clients in the test's cgroup, where sockops
# runs: as under systemd with the default CgroupPath= (the root).
echo $$ >"$CG/cgroup.procs"
skfp_daemon_start

r0=$(counter fastpath-redirects) b0=$(counter fastpath-bytes) n0=$(counter fastpath-receivers)
for size in 1 65537 4194304; do
        check "echo $size bytes through the relay, byte-exact" lab_client 1 echo 198.18.0.10 7 "$size"
done
r1=$(counter fastpath-redirects) b1=$(counter fastpath-bytes) n1=$(counter fastpath-receivers)
check "the application-to-relay hop is redirected ($r0 -> $r1 fastpath-redirects, $b0 -> $b1 bytes)" \
        test "$r1" -gt "$r0" -a $((b1 - b0)) -ge $((1 + 65537 + 4194304))
check "every relayed connection's accepted socket became a receiver ($n0 -> $n1)" test $((n1 - n0)) -ge 3
check "relay-to-application answers go through TCP (at most the requests redirected)" \
        test $((b1 - b0)) -lt $((2 * (1 + 65537 + 4194304)))

# --- port modes ---
check "PortModes lists the port as fastpath" grep -qx 'a(qs) 1 7 "fastpath"' <(prop PortModes)
check "SetPortMode 7 trusted" skfp_busctl call $DEST $OBJ $IFACE SetPortMode qs 7 trusted
check "PortModes shows trusted" grep -qx 'a(qs) 1 7 "trusted"' <(prop PortModes)
check "SetPortMode on an unmanaged port: NotManaged" \
        test "$(error_of SetPortMode uint16:81 string:trusted)" = org.skfastpath1.Error.NotManaged
check "SetPortMode with an unknown mode: InvalidArgs" \
        test "$(error_of SetPortMode uint16:7 string:fast)" = org.freedesktop.DBus.Error.InvalidArgs
check "SetPortMode on port 0: InvalidPort" \
        test "$(error_of SetPortMode uint16:0 string:trusted)" = org.skfastpath1.Error.InvalidPort
check "the state file has TrustedPorts=7" grep -qx 'TrustedPorts=7' "$T/state/state"

# --- trusted cgroups ---
rel=${CG#"$(skfp_cgroup2_root)"}
id=$(stat -c %i "$CG")
check "AddTrustedCgroup $rel" skfp_busctl call $DEST $OBJ $IFACE AddTrustedCgroup s "$rel"
check "TrustedCgroups shows it present with its id" \
        grep -qx "a(stb) 1 \"$rel\" $id true" <(prop TrustedCgroups)
check "AddTrustedCgroup /nonexistent is kept, absent" \
        skfp_busctl call $DEST $OBJ $IFACE AddTrustedCgroup s /skfp-nonexistent-$$
check "TrustedCgroups shows the absent one with id 0" \
        grep -q "\"/skfp-nonexistent-$$\" 0 false" <(prop TrustedCgroups)
for bad in relative/path /a/../b /a//b /a/ "/$(head -c 1100 /dev/zero | tr '\0' x)"; do
        check "AddTrustedCgroup '${bad:0:20}': InvalidCgroup" \
                test "$(error_of AddTrustedCgroup "string:$bad")" = org.skfastpath1.Error.InvalidCgroup
done
check "RemoveTrustedCgroup of one not trusted: NotManaged" \
        test "$(error_of RemoveTrustedCgroup string:/skfp-other-$$)" = org.skfastpath1.Error.NotManaged
check "RemoveTrustedCgroup /nonexistent" \
        skfp_busctl call $DEST $OBJ $IFACE RemoveTrustedCgroup s /skfp-nonexistent-$$
check "the state file has TrustedCgroups=$rel" grep -qx "TrustedCgroups=$rel" "$T/state/state"

# --- across a restart ---
check "daemon stops" skfp_daemon_stop
skfp_daemon_start
check "after a restart PortModes still has 7 trusted" grep -qx 'a(qs) 1 7 "trusted"' <(prop PortModes)
check "after a restart TrustedCgroups still has $rel" grep -q "\"$rel\" $id true" <(prop TrustedCgroups)
check "splice-detection is reported (0 off, 1 on, 2 unavailable): $(counter splice-detection)" \
        grep -qx '[12]' <<<"$(counter splice-detection)"
check "daemon stops" skfp_daemon_stop

# --- a splice-based transparent proxy behind Relay=no, with the shipped defaults ---
rm -f "$T/state/state"
sed -i '/^\[Intercept\]/,$d' "$T/skfastpathd.conf"
skfp_config <<CONF
[Intercept]
Interfaces=skfp-c0
Ports=7
[Listener]
Relay=no
CONF
# nsenter execs python: $! is the proxy itself
nsenter --net="/run/netns/$NS" /usr/bin/python3 "$SKFP_TOP/tests/integration/splice-proxy.py" 15001 0x1f5a0002 \
        >"$T/proxy.out" 2>&1 &
PROXY_PID=$!
SKFP_CLEANUP_HOOKS+=("kill $PROXY_PID 2>/dev/null; wait $PROXY_PID 2>/dev/null")
lab_wait_for "$T/proxy.out" ready
skfp_daemon_start
r0=$(counter fastpath-redirects)
for size in 1 20 1448 65537 1048576 8388608; do
        check "echo $size bytes through the splice proxy (IPv4), byte-exact" lab_client 1 echo 198.18.0.10 7 "$size"
        check "echo $size bytes through the splice proxy (IPv6), byte-exact" lab_client 1 echo 2001:db8::10 7 "$size"
done
check "nothing was redirected into the proxy's sockets ($r0 -> $(counter fastpath-redirects))" \
        test "$(counter fastpath-redirects)" -eq "$r0"
check "daemon stops" skfp_daemon_stop

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
