#!/usr/bin/env bash
# The control plane end to end: org.skfastpath1.Manager on a private bus with a real polkitd,
# through busctl, dbus-send (for the raw error names) and skfastpathctl. Every method and
# property; every bad input gets its named error and changes nothing; polkit refuses, challenges
# and grants; state survives a restart; a corrupt state file is kept aside.
set -euo pipefail
. "$(dirname "$0")/../lib/daemon.sh"

CTL="$SKFP_BUILD/ctl/skfastpathctl"
DEST=org.skfastpath1
OBJ=/org/skfastpath1
IFACE=org.skfastpath1.Manager
[ -x /usr/lib/polkit-1/polkitd ] || skfp_skip "polkitd is not installed"
command -v dbus-send >/dev/null || skfp_skip "dbus-send is not installed"

skfp_env_init control
chmod 0755 "$T"  # non-root callers reach the bus socket, polkitd (its own user) the rules

# Users: N has no rule (polkit challenges), D is denied by a rule, A is granted through group G.
U_N="skfpn$$" U_D="skfpd$$" U_A="skfpa$$" G="skfpg$$"
SKFP_CLEANUP_HOOKS+=("skfp_polkit_stop" "userdel $U_N; userdel $U_D; userdel $U_A; groupdel $G")
groupadd "$G"
useradd -M -N "$U_N"
useradd -M -N "$U_D"
useradd -M -N -G "$G" "$U_A"

mkdir -p "$T/polkit/actions" "$T/polkit/rules.d"
cp "$SKFP_TOP/dbus/org.skfastpath1.policy" "$T/polkit/actions/"
cat >"$T/polkit/rules.d/50-skfastpath-test.rules" <<RULES
polkit.addRule(function(action, subject) {
        if (action.id != "org.skfastpath1.manage")
                return polkit.Result.NOT_HANDLED;
        if (subject.user == "$U_D")
                return polkit.Result.NO;
        if (subject.isInGroup("$G"))
                return polkit.Result.YES;
        return polkit.Result.NOT_HANDLED;
});
RULES
skfp_polkit_start "$T/polkit"

skfp_config <<CONF
[Intercept]
Ports=8080
[Manager]
MaxPorts=5
MaxInterfaces=3
CONF
skfp_daemon_start

passed=0 failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
check() { # check DESCRIPTION COMMAND...
        local what=$1; shift
        if "$@"; then ok "$what"; else fail "$what"; fi
}

quiet() { "$@" >/dev/null 2>&1; }
quiet_absent() { ! grep -q "$1" "$2"; }

as() { # as USER|root COMMAND...
        local u=$1; shift
        if [ "$u" = root ]; then "$@"; else runuser -u "$u" -- "$@"; fi
}

# dcall USER METHOD ARGS...: prints OK or the D-Bus error name; the message lands in $T/dcall.err
dcall() {
        local u=$1 method=$2; shift 2
        if as "$u" dbus-send --system --print-reply --dest=$DEST $OBJ "$IFACE.$method" "$@" \
                >/dev/null 2>"$T/dcall.err"; then
                echo OK
        else
                sed -n 's/^Error \([^:]*\):.*/\1/p' "$T/dcall.err" | head -n 1
        fi
}

props() {
        busctl --system get-property $DEST $OBJ $IFACE Interfaces Ports Fastpath ListenAddress Version RuntimeChanges
}

# Everything a refused call must leave alone: properties, the state file, and the BPF maps
# pinned by the daemon (once the datapath pins them).
snapshot() {
        local p
        props
        if [ -e "$T/state/state" ]; then sha256sum <"$T/state/state"; else echo "no state file"; fi
        for p in "$PIN"/*; do
                [ -e "$p" ] || continue
                echo "$p"
                bpftool map dump pinned "$p" 2>/dev/null || true
        done
}

daemon_alive() {
        kill -0 "$SKFP_DAEMON_PID" 2>/dev/null && busctl --system get-property $DEST $OBJ $IFACE Version >/dev/null
}

prop() { busctl --system get-property $DEST $OBJ $IFACE "$1"; }

# --- properties as configured ---------------------------------------------------------------
check "Version is the project version" [ "$(prop Version)" = "s \"$(sed -n "s/^ *version : '\(.*\)',/\1/p" "$SKFP_TOP/meson.build")\"" ]
check "ListenAddress is where the relay listens, both families" [ "$(prop ListenAddress)" = 's "127.0.0.1:15001 [::1]:15001"' ]
check "Fastpath starts on" [ "$(prop Fastpath)" = "b true" ]
check "Ports come from the config file" [ "$(prop Ports)" = "aq 1 8080" ]
check "Interfaces start empty" [ "$(prop Interfaces)" = "a(sib) 0" ]

# --- every method as root through busctl, with PropertiesChanged -----------------------------
dbus-monitor --system "type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path='$OBJ'" \
        >"$T/monitor.txt" 2>&1 &
MONITOR_PID=$!
SKFP_CLEANUP_HOOKS+=("kill $MONITOR_PID 2>/dev/null")
for _ in $(seq 100); do grep -qs NameLost "$T/monitor.txt" && break; sleep 0.02; done

B="busctl --system call $DEST $OBJ $IFACE"
$B AddPort q 80
$B AddPort q 80              # already there: succeeds, no signal
check "AddPort adds, and adding again changes nothing" [ "$(prop Ports)" = "aq 2 80 8080" ]
# a real link in the daemon's namespace: managed, it is attached at once
ip -n "$NS" link add skc0 type veth peer name skc0p
ip -n "$NS" link set skc0 up
IDX=$(ip -n "$NS" -o link show skc0 | cut -d: -f1)
$B AddInterface s skc0
$B AddInterface s skfp-absent0
$B AddInterface s skc0       # already there
check "AddInterface: present link with its ifindex, attached; absent one with 0" \
        [ "$(prop Interfaces)" = "a(sib) 2 \"skc0\" $IDX true \"skfp-absent0\" 0 false" ]
$B RemoveInterface s skfp-absent0
check "RemoveInterface" [ "$(prop Interfaces)" = "a(sib) 1 \"skc0\" $IDX true" ]
$B SetFastpath b false
$B SetFastpath b false       # already off
check "SetFastpath false" [ "$(prop Fastpath)" = "b false" ]
$B SetFastpath b true
check "SetFastpath true" [ "$(prop Fastpath)" = "b true" ]
$B RemovePort q 80
check "RemovePort" [ "$(prop Ports)" = "aq 1 8080" ]
stats=$($B GetStatistics)
missing=
for name in fastpath-redirects fastpath-bytes fastpath-misses fastpath-passes fastpath-passed-bytes \
        fastpath-inserts fastpath-insert-failures fastpath-skipped-bypass tracked-sockets intercepted-packets \
        intercepted-connections intercept-fail-open intercept-assigned intercept-assign-failures \
        intercept-errors relayed-connections relayed-bytes relay-errors managed-interfaces managed-ports; do
        case "$stats" in *"\"$name\" "*) ;; *) missing="$missing $name" ;; esac
done
check "GetStatistics has every documented counter${missing:+ (missing:$missing)}" [ -z "$missing" ]
check "GetStatistics counts managed ports and interfaces" \
        grep -q '"managed-interfaces" 1 "managed-ports" 1$' <<<"$stats"

sleep 0.2
kill "$MONITOR_PID" 2>/dev/null || true
wait "$MONITOR_PID" 2>/dev/null || true
# the names of the changed properties (RuntimeChanges' values name them too)
changed_names() { awk '/dict entry\(/ { getline; print }' "$T/monitor.txt"; }
n_ports=$(changed_names | grep -c 'string "Ports"' || true)
n_ifaces=$(changed_names | grep -c 'string "Interfaces"' || true)
n_fast=$(changed_names | grep -c 'string "Fastpath"' || true)
n_runtime=$(changed_names | grep -c 'string "RuntimeChanges"' || true)
check "PropertiesChanged once per real change (Ports $n_ports/2, Interfaces $n_ifaces/3, Fastpath $n_fast/2)" \
        [ "$n_ports" = 2 -a "$n_ifaces" = 3 -a "$n_fast" = 2 ]
check "PropertiesChanged carries the new value" grep -q 'boolean false' "$T/monitor.txt"
check "RuntimeChanges changed with each of them ($n_runtime/7)" [ "$n_runtime" = 7 ]

# --- skfastpathctl: every command ---------------------------------------------------------------
check "skfastpathctl --version" grep -qx "skfastpathctl $(prop Version | sed 's/s "\(.*\)"/\1/')" <("$CTL" --version)
check "skfastpathctl --help documents the exit codes" grep -q "InteractiveAuthorizationRequired" <("$CTL" --help)
"$CTL" add-port 443 8443
check "skfastpathctl add-port (two ports)" [ "$(prop Ports)" = "aq 3 443 8080 8443" ]
"$CTL" remove-port 8443
check "skfastpathctl remove-port" [ "$(prop Ports)" = "aq 2 443 8080" ]
"$CTL" add-interface skfp-absent1
check "skfastpathctl add-interface" grep -q '"skfp-absent1" 0 false' <(prop Interfaces)
"$CTL" remove-interface skfp-absent1
check "skfastpathctl remove-interface" [ "$(prop Interfaces)" = "a(sib) 1 \"skc0\" $IDX true" ]
"$CTL" fastpath off
check "skfastpathctl fastpath off" [ "$(prop Fastpath)" = "b false" ]
"$CTL" fastpath on
check "skfastpathctl fastpath on" [ "$(prop Fastpath)" = "b true" ]
status=$("$CTL" status)
check "skfastpathctl status" grep -q "Ports: 443 8080" <<<"$status"
check "skfastpathctl (no command) is status" [ "$("$CTL")" = "$status" ]
json=$("$CTL" --json status)
check "skfastpathctl --json status is valid JSON with the state" /usr/bin/python3 -c '
import json, sys
s = json.loads(sys.argv[1])
assert s["ports"] == [443, 8080], s
assert s["interfaces"] == [{"name": "skc0", "ifindex": int(sys.argv[2]), "attached": True}], s
assert s["fastpath"] is True and s["listen_address"] == "127.0.0.1:15001 [::1]:15001", s
' "$json" "$IDX"
check "skfastpathctl stats" grep -q '^managed-ports  *2$' <("$CTL" stats)
check "skfastpathctl stats --json" /usr/bin/python3 -c '
import json, sys; s = json.loads(sys.argv[1]); assert s["managed-ports"] == 2 and "fastpath-redirects" in s, s
' "$("$CTL" stats --json)"

# --- bad input: the named error, exit code, and nothing changes --------------------------------
refused() { # refused ERROR EXIT METHOD DBUS-SEND-ARG CTL-ARGS...
        local err=$1 code=$2 method=$3 arg=$4 before after got rc=0 what
        shift 4
        what="$method $(printf '%q' "$arg")"
        before=$(snapshot)
        got=$(dcall root "$method" "$arg")
        after=$(snapshot)
        if [ "$got" = "$err" ] && [ "$before" = "$after" ] && daemon_alive; then
                ok "$what: $err, nothing changed"
        else
                fail "$what: got '$got', wanted $err; unchanged: $([ "$before" = "$after" ] && echo yes || echo no)"
        fi
        "$CTL" "$@" 2>"$T/ctl.err" || rc=$?
        after=$(snapshot)
        if [ "$rc" = "$code" ] && [ "$before" = "$after" ] && [ -s "$T/ctl.err" ]; then
                ok "skfastpathctl $(printf '%q ' "$@")exits $code: $(head -n 1 "$T/ctl.err")"
        else
                fail "skfastpathctl $(printf '%q ' "$@")exits $rc, wanted $code"
        fi
}
INV=org.skfastpath1.Error.InvalidInterfaceName
refused $INV 3 AddInterface "string:" add-interface ""
refused $INV 3 AddInterface "string:abcdefghijklmnop" add-interface abcdefghijklmnop
refused $INV 3 AddInterface "string:." add-interface .
refused $INV 3 AddInterface "string:.." add-interface ..
refused $INV 3 AddInterface "string:a/b" add-interface a/b
refused $INV 3 AddInterface "string:/" add-interface /
refused $INV 3 AddInterface "string:a b" add-interface "a b"
refused $INV 3 AddInterface "string:$(printf 'a\tb')" add-interface "$(printf 'a\tb')"
refused $INV 3 AddInterface "string:$(printf 'a\001b')" add-interface "$(printf 'a\001b')"
refused $INV 3 AddInterface "string:eth$(printf '\303\251')" add-interface "eth$(printf '\303\251')"
refused $INV 3 RemoveInterface "string:a/b" remove-interface a/b
refused $INV 3 AddInterface "string:lo" add-interface lo
refused org.skfastpath1.Error.InvalidPort 4 AddPort "uint16:0" add-port 0
refused org.skfastpath1.Error.InvalidPort 4 RemovePort "uint16:0" remove-port 0
refused org.skfastpath1.Error.NotManaged 5 RemovePort "uint16:9999" remove-port 9999
refused org.skfastpath1.Error.NotManaged 5 RemoveInterface "string:skfp-none" remove-interface skfp-none
check "16-byte name message says why" grep -q "longer than 15 bytes" <(dcall root AddInterface string:abcdefghijklmnop >/dev/null; cat "$T/dcall.err")

before=$(snapshot)
rc=0; "$CTL" add-port http 2>/dev/null || rc=$?
check "skfastpathctl add-port http: exit 4 without a call" [ "$rc" = 4 -a "$before" = "$(snapshot)" ]
rc=0; "$CTL" add-port 80 70000 2>/dev/null || rc=$?
check "skfastpathctl add-port 80 70000: nothing added" [ "$rc" = 4 -a "$before" = "$(snapshot)" ]
rc=0; "$CTL" fastpath maybe 2>/dev/null || rc=$?
check "skfastpathctl fastpath maybe: exit 2" [ "$rc" = 2 ]
rc=0; "$CTL" frobnicate 2>/dev/null || rc=$?
check "skfastpathctl unknown command: exit 2" [ "$rc" = 2 ]
rc=0; "$CTL" add-port 2>/dev/null || rc=$?
check "skfastpathctl add-port without a port: exit 2" [ "$rc" = 2 ]

# limits: MaxPorts=5 (2 managed now), MaxInterfaces=3 (1 managed now)
$B AddPort q 1001
$B AddPort q 1002
$B AddPort q 1003
refused org.skfastpath1.Error.LimitExceeded 6 AddPort "uint16:1004" add-port 1004
$B AddPort q 1003   # adding what is there is no addition, even at the limit
$B AddInterface s skfp-a
$B AddInterface s skfp-b
refused org.skfastpath1.Error.LimitExceeded 6 AddInterface "string:skfp-c" add-interface skfp-c
check "LimitExceeded message names the limit" grep -q "MaxInterfaces=3" <(dcall root AddInterface string:skfp-c >/dev/null; cat "$T/dcall.err")
$B RemovePort q 1001
$B RemovePort q 1002
$B RemovePort q 1003
$B RemoveInterface s skfp-a
$B RemoveInterface s skfp-b

# --- polkit ------------------------------------------------------------------------------------
pk_refused() { # pk_refused USER ERROR EXIT DESCRIPTION
        local u=$1 err=$2 code=$3 what=$4 before got bad="" rc
        before=$(snapshot)
        for call in "AddPort uint16:81" "RemovePort uint16:8080" "AddInterface string:skfp-x" \
                "RemoveInterface string:skc0" "SetFastpath boolean:false" "Revert"; do
                # shellcheck disable=SC2086
                got=$(dcall "$u" $call)
                [ "$got" = "$err" ] || bad="$bad [$call: $got]"
        done
        rc=0; as "$u" "$CTL" --no-ask-password add-port 81 2>/dev/null || rc=$?
        [ "$rc" = "$code" ] || bad="$bad [skfastpathctl --no-ask-password exit $rc]"
        rc=0; as "$u" "$CTL" remove-port 8080 2>/dev/null || rc=$?
        [ "$rc" = "$code" ] || bad="$bad [skfastpathctl exit $rc]"
        [ "$before" = "$(snapshot)" ] || bad="$bad [state changed]"
        check "$what: every method $err, skfastpathctl exit $code, nothing changed${bad:+:$bad}" [ -z "$bad" ]
}
pk_refused "$U_N" org.freedesktop.DBus.Error.InteractiveAuthorizationRequired 8 "user without a rule (auth_admin)"
pk_refused "$U_D" org.freedesktop.DBus.Error.AccessDenied 7 "user denied by a rule"
check "the unprivileged may read" quiet as "$U_N" "$CTL" status
check "the unprivileged may read the counters" quiet as "$U_N" "$CTL" stats
check "the unprivileged may GetStatistics over D-Bus" [ "$(dcall "$U_D" GetStatistics)" = OK ]

for call in "AddPort uint16:81" "AddInterface string:skfp-y" "SetFastpath boolean:false" \
        "SetFastpath boolean:true" "RemoveInterface string:skfp-y" "RemovePort uint16:81"; do
        # shellcheck disable=SC2086
        check "group member granted by a rule: $call" [ "$(dcall "$U_A" $call)" = OK ]
done
check "group member through skfastpathctl" as "$U_A" "$CTL" --no-ask-password add-port 82
check "... and the change is there" [ "$(prop Ports)" = "aq 3 82 443 8080" ]
as "$U_A" "$CTL" remove-port 82

# many authorisations in flight at once, each re-dispatched with its own answer
pids=()
for p in $(seq 2001 2012); do
        as "$U_A" dbus-send --system --print-reply --dest=$DEST $OBJ $IFACE.AddPort "uint16:$p" >/dev/null 2>&1 &
        pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
check "12 concurrent authorised AddPort calls: $bad failed; MaxPorts lets 3 through" [ "$bad" = 9 ]
check "... exactly 5 ports now" [ "$(prop Ports | wc -w)" = 7 ]
for p in $(seq 2001 2012); do $B RemovePort q "$p" 2>/dev/null || true; done
check "... and back to 2" [ "$(prop Ports)" = "aq 2 443 8080" ]

# without polkit: denied, except for root
skfp_polkit_stop
before=$(snapshot)
check "no polkitd: the granted user is denied" [ "$(dcall "$U_A" AddPort uint16:83)" = org.freedesktop.DBus.Error.AccessDenied ]
check "no polkitd: the message says polkit is not available" grep -q "polkit is not available" "$T/dcall.err"
check "no polkitd: nothing changed" [ "$before" = "$(snapshot)" ]
check "no polkitd: root still passes" [ "$(dcall root AddPort uint16:83)" = OK ]
$B RemovePort q 83

# --- persistence --------------------------------------------------------------------------------
# a state file that cannot be written: the change is refused and undone
mv "$T/state" "$T/state.real"
touch "$T/state"
before=$(props)
check "unwritable state: AddPort fails with Failed" [ "$(dcall root AddPort uint16:84)" = org.skfastpath1.Error.Failed ]
check "unwritable state: the message says why" grep -q "state could not be saved" "$T/dcall.err"
check "unwritable state: nothing changed" [ "$before" = "$(props)" ]
check "unwritable state: SetFastpath refused and undone" [ "$(dcall root SetFastpath boolean:false)" = org.skfastpath1.Error.Failed -a "$before" = "$(props)" ]
rm "$T/state"
mv "$T/state.real" "$T/state"

$B SetFastpath b false
$B AddInterface s skfp-z
before=$(props)
skfp_daemon_stop
skfp_daemon_start
check "state survives a restart" [ "$before" = "$(props)" ]
check "the restart says it restored the state" grep -q "Restored state from $T/state/state" "$T/daemon.log"

# --- what the state file overrides, and Revert ---------------------------------------------------
# the config file says Ports=8080, no interfaces, the fastpath on; the runtime changes differ
$B AddPort q 9443
skfp_daemon_stop
skfp_daemon_start
check "the start says what the state file overrides in Ports=" \
        grep -qF "State file $T/state/state overrides the config file's Ports=: 443 added, 9443 added (skfastpathctl revert drops the runtime changes)." "$T/daemon.log"
check "... in Interfaces=" grep -qF "overrides the config file's Interfaces=: skc0 added, skfp-z added (" "$T/daemon.log"
check "... and Fastpath=" grep -qF "overrides the config file's Fastpath=: off set (" "$T/daemon.log"
check "RuntimeChanges lists them" [ "$(prop RuntimeChanges)" = 'a(sss) 5 "Interfaces" "skc0" "added" "Interfaces" "skfp-z" "added" "Ports" "443" "added" "Ports" "9443" "added" "Fastpath" "off" "set"' ]
dbus-monitor --system "type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path='$OBJ'" \
        >"$T/monitor.txt" 2>&1 &
MONITOR_PID=$!
SKFP_CLEANUP_HOOKS+=("kill $MONITOR_PID 2>/dev/null")
for _ in $(seq 100); do grep -qs NameLost "$T/monitor.txt" && break; sleep 0.02; done
# refused: no polkitd now, and the user is not root
before=$(snapshot)
check "Revert refused for the unprivileged: AccessDenied" [ "$(dcall "$U_A" Revert)" = org.freedesktop.DBus.Error.AccessDenied ]
check "... and nothing changed" [ "$before" = "$(snapshot)" -a -e "$T/state/state" ]
$B Revert
check "Revert: RuntimeChanges is empty" [ "$(prop RuntimeChanges)" = "a(sss) 0" ]
check "Revert: the config file's ports" [ "$(prop Ports)" = "aq 1 8080" ]
check "Revert: the config file's interfaces (none)" [ "$(prop Interfaces)" = "a(sib) 0" ]
check "Revert: the config file's switch" [ "$(prop Fastpath)" = "b true" ]
check "Revert: the state file is gone" [ ! -e "$T/state/state" ]
check "Revert: the datapath's port map has only 8080" \
        [ "$(bpftool -j map dump pinned "$PIN/ports" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1 ]
$B Revert   # nothing to drop
check "Revert again: nothing to drop, still no state file" [ "$(prop RuntimeChanges)" = "a(sss) 0" -a ! -e "$T/state/state" ]
sleep 0.2
kill "$MONITOR_PID" 2>/dev/null || true
wait "$MONITOR_PID" 2>/dev/null || true
check "Revert: one PropertiesChanged for Interfaces, Ports, PortModes, Fastpath and RuntimeChanges" \
        [ "$(changed_names | tr -d ' \n')" = 'string"Interfaces"string"Ports"string"PortModes"string"Fastpath"string"RuntimeChanges"' ]
skfp_daemon_stop
skfp_daemon_start
check "after Revert a restart starts from the config file" \
        [ "$(prop RuntimeChanges)" = "a(sss) 0" -a "$(prop Ports)" = "aq 1 8080" ]
check "... and says nothing is overridden" quiet_absent "overrides the config file" "$T/daemon.log"

# a corrupt state file: reported, kept aside, the daemon runs on the config file
skfp_daemon_stop
printf 'Version=1\nPorts=80 80\n' >"$T/state/state"
skfp_daemon_start
check "corrupt state: the daemon runs" daemon_alive
check "corrupt state: the line is reported" grep -q "state:2: port 80 listed twice" "$T/daemon.log"
check "corrupt state: kept aside" quiet ls "$T"/state/state.corrupt-*
check "corrupt state: no state file any more" [ ! -e "$T/state/state" ]
check "corrupt state: back to the config file" [ "$(prop Ports)" = "aq 1 8080" -a "$(prop Interfaces)" = "a(sib) 0" -a "$(prop Fastpath)" = "b true" ]
$B AddPort q 85
check "corrupt state: the next change writes a good one" grep -qx "Ports=85 8080" "$T/state/state"

skfp_daemon_stop
check "the daemon exits cleanly" true
rc=0; "$CTL" status 2>"$T/ctl.err" || rc=$?
check "skfastpathctl without the daemon: exit 9 ($(head -n 1 "$T/ctl.err"))" [ "$rc" = 9 ]
rc=0; DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/nonexistent "$CTL" add-port 80 2>"$T/ctl.err" || rc=$?
check "skfastpathctl without a bus: exit 9 ($(head -n 1 "$T/ctl.err"))" [ "$rc" = 9 ]
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
