#!/usr/bin/env bash
# The daemon starts isolated, answers on the bus, and exits cleanly on SIGTERM.
set -euo pipefail
. "$(dirname "$0")/../lib/daemon.sh"

skfp_env_init basics
skfp_daemon_start
v=$(skfp_busctl get-property org.skfastpath1 /org/skfastpath1 org.skfastpath1.Manager Version)
[ "$v" = "s \"$(cat "$SKFP_TOP/meson.build" | sed -n "s/^ *version : '\(.*\)',/\1/p")\"" ] || {
        echo "FAIL: Version property is $v"; exit 1; }
echo "ok   version property: $v"
skfp_daemon_stop
echo "ok   clean exit on SIGTERM"
grep -q '^<6>Received SIGTERM, exiting.$' "$T/daemon.log" || { echo "FAIL: no exit message"; cat "$T/daemon.log"; exit 1; }
echo "ok   log carries priority prefixes"

# a bad config stops the start with the line and exit code 1
printf '[Intercept]\nProts=80\n' >"$T/bad.conf"
rc=0
"$SKFP_BUILD/daemon/skfastpathd" --config="$T/bad.conf" 2>"$T/bad.log" || rc=$?
[ "$rc" -eq 1 ] || { echo "FAIL: exit code $rc"; exit 1; }
grep -qF "$T/bad.conf:2: unknown key 'Prots' in [Intercept]" "$T/bad.log" || { echo "FAIL: message"; cat "$T/bad.log"; exit 1; }
echo "ok   bad config: exit 1 with file:line"

# lo: the config file has the rule of AddInterface()
printf '[Intercept]\nPorts=80\nInterfaces=eth0 lo\n' >"$T/lo.conf"
rc=0
"$SKFP_BUILD/daemon/skfastpathd" --config="$T/lo.conf" 2>"$T/lo.log" || rc=$?
[ "$rc" -eq 1 ] || { echo "FAIL: Interfaces=lo: exit code $rc"; cat "$T/lo.log"; exit 1; }
grep -qF "$T/lo.conf:3: invalid value 'eth0 lo' for Interfaces=: expected interface names other than lo" "$T/lo.log" ||
        { echo "FAIL: Interfaces=lo: message"; cat "$T/lo.log"; exit 1; }
echo "ok   Interfaces=lo: exit 1 with file:line"

# ListenAddress: with Relay=no the listener is another program's, and it is looked up on both
# loopback addresses at ListenPort
skfp_config <<CONF
[Listener]
Relay=no
ListenPort=15009
CONF
skfp_daemon_start
a=$(skfp_busctl get-property org.skfastpath1 /org/skfastpath1 org.skfastpath1.Manager ListenAddress)
[ "$a" = 's "127.0.0.1:15009 [::1]:15009"' ] || { echo "FAIL: Relay=no: ListenAddress is $a"; exit 1; }
echo "ok   Relay=no: ListenAddress $a"
skfp_daemon_stop
echo "6 passed, 0 failed"
