#!/usr/bin/env bash
# skfastpathctl's verbs for the newer parts of org.skfastpath1 against the real daemon: revert and
# the origins of entries in status (RuntimeChanges), port-mode (SetPortMode, PortModes) and the
# trusted cgroups (AddTrustedCgroup, TrustedCgroups). A daemon without a member gets a clear
# error (exit 1) and a status without its line; one with it is driven end to end.
set -euo pipefail
. "$(dirname "$0")/../lib/daemon.sh"

CTL="$SKFP_BUILD/ctl/skfastpathctl"

skfp_env_init ctlapi
skfp_config <<CONF
[Intercept]
Interfaces=skfpx0
Ports=80 443
CONF
skfp_daemon_start

# has MEMBER: the daemon's Manager interface has this method or property
introspection=$(skfp_busctl introspect org.skfastpath1 /org/skfastpath1 org.skfastpath1.Manager)
has() { awk -v m=".$1" '$1 == m { f = 1 } END { exit !f }' <<<"$introspection"; }
# run EXPECTED-EXIT CMD...: the exit code is EXPECTED-EXIT; stderr in $T/err, stdout in $T/out
run() {
        local want=$1 rc=0
        shift
        "$@" >"$T/out" 2>"$T/err" || rc=$?
        [ "$rc" = "$want" ] || { echo "     exit $rc, not $want: $(cat "$T/err")"; return 1; }
}
status_has() { "$CTL" status | grep -qF -- "$1"; }
status_lacks() { ! "$CTL" status | grep -qF -- "$1"; }
older() { grep -q "does not have it (an older version?)" "$T/err"; }

check "status of the configured state: no runtime marks" status_lacks "runtime"
check "status: the configured ports" status_has "         Ports: 80 443"

# --- revert and RuntimeChanges ---------------------------------------------------------------
if has Revert && has RuntimeChanges; then
        "$CTL" add-port 8080
        "$CTL" remove-port 443
        "$CTL" add-interface skfpy0
        "$CTL" fastpath off
        check "status marks runtime ports" status_has "         Ports: 80 8080 (runtime: +8080 -443)"
        check "status marks a runtime interface" status_has "                (runtime: +skfpy0)"
        check "status marks the runtime switch" status_has "      Fastpath: off (runtime: set off)"
        check "status --json lists the runtime changes" \
                grep -qF '"runtime_changes":[{"setting":"Interfaces","value":"skfpy0","change":"added"}' \
                <("$CTL" --json status)
        check "revert: exit 0" run 0 "$CTL" revert
        check "after revert: the configured ports" status_has "         Ports: 80 443"
        check "after revert: no runtime marks" status_lacks "runtime"
        check "after revert: the fastpath is on" status_has "      Fastpath: on"
        check "revert with nothing to drop: exit 0" run 0 "$CTL" revert
else
        check "revert on an older daemon: exit 1" run 1 "$CTL" revert
        check "revert on an older daemon says why ($(cat "$T/err"))" older
        check "status --json of an older daemon has no runtime_changes" \
                eval '! "$CTL" --json status | grep -q runtime_changes'
fi
check "revert takes no arguments: exit 2" run 2 "$CTL" revert now

# --- port modes -------------------------------------------------------------------------------
check "port-mode with an unknown mode: exit 2, no call" run 2 "$CTL" port-mode 80 bulk
check "port-mode with no port: exit 4" run 4 "$CTL" port-mode http fastpath
check "port-mode needs two arguments: exit 2" run 2 "$CTL" port-mode 80
if has SetPortMode && has PortModes; then
        check "port-mode 80 intercept-only: exit 0" run 0 "$CTL" port-mode 80 intercept-only
        check "status marks the intercept-only port" status_has " 80 [intercept-only]"
        check "port-mode 443 trusted: exit 0" run 0 "$CTL" port-mode 443 trusted
        check "status marks the trusted port" status_has " 443 [trusted]"
        check "port-mode 80 fastpath: exit 0" run 0 "$CTL" port-mode 80 fastpath
        check "status: no mark for the default mode" status_has "Ports: 80 443 [trusted]"
        check "status --json lists the port modes" grep -qF '"port_modes":[' <("$CTL" --json status)
else
        check "port-mode on an older daemon: exit 1" run 1 "$CTL" port-mode 80 intercept-only
        check "port-mode on an older daemon says why ($(cat "$T/err"))" older
        check "status of an older daemon: no mode marks" grep -qx "         Ports: 80 443" <("$CTL" status)
fi

# --- trusted cgroups (the test's own cgroup) --------------------------------------------------
cgroup=${CG#"$(skfp_cgroup2_root)"}
check "add-trusted-cgroup with an empty path: exit 10, no call" run 10 "$CTL" add-trusted-cgroup ""
check "add-trusted-cgroup needs a path: exit 2" run 2 "$CTL" add-trusted-cgroup
if has AddTrustedCgroup && has TrustedCgroups; then
        check "add-trusted-cgroup $cgroup: exit 0" run 0 "$CTL" add-trusted-cgroup "$cgroup"
        check "status lists the trusted cgroup with its id" \
                grep -qE "^TrustedCgroups: $cgroup \(id [1-9][0-9]*\)$" <("$CTL" status)
        check "remove-trusted-cgroup $cgroup: exit 0" run 0 "$CTL" remove-trusted-cgroup "$cgroup"
        check "status: no trusted cgroups" status_lacks "TrustedCgroups:"
else
        check "add-trusted-cgroup on an older daemon: exit 1" run 1 "$CTL" add-trusted-cgroup "$cgroup"
        check "add-trusted-cgroup on an older daemon says why ($(cat "$T/err"))" older
        check "status of an older daemon: no TrustedCgroups line" status_lacks "TrustedCgroups"
fi

check "the daemon exits cleanly" skfp_daemon_stop
checks_summary
