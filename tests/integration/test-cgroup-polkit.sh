#!/usr/bin/env bash
# Who may select cgroups, with a real polkitd on the private bus: a user may select cgroups in their
# own user manager's subtree (/user.slice/user-UID.slice/user@UID.service and below) with
# org.skfastpath1.steer-own-applications, granted here by a rule as an active session would be;
# another user's subtree, the system's units and look-alike paths need org.skfastpath1.manage. The
# uid comes from the bus credentials. Nothing is created in the cgroup tree (the paths are absent).
set -euo pipefail
. "$(dirname "$0")/../lib/daemon.sh"

DEST=org.skfastpath1
OBJ=/org/skfastpath1
IFACE=org.skfastpath1.Manager
[ -x /usr/lib/polkit-1/polkitd ] || skfp_skip "polkitd is not installed"
command -v dbus-send >/dev/null || skfp_skip "dbus-send is not installed"

skfp_env_init cgpolkit
chmod 0755 "$T"

# U_S: steer-own-applications granted (what allow_active=yes gives a local session); manage is
# left to the defaults (auth_admin: a challenge). U_O: another user, nothing granted.
U_S="skfps$$" U_O="skfpo$$"
SKFP_CLEANUP_HOOKS+=("skfp_polkit_stop" "userdel $U_S; userdel $U_O")
useradd -M -N "$U_S"
useradd -M -N "$U_O"
UID_S=$(id -u "$U_S") UID_O=$(id -u "$U_O")

mkdir -p "$T/polkit/actions" "$T/polkit/rules.d"
cp "$SKFP_TOP/dbus/org.skfastpath1.policy" "$T/polkit/actions/"
cat >"$T/polkit/rules.d/50-skfastpath-test.rules" <<RULES
polkit.addRule(function(action, subject) {
        if (action.id == "org.skfastpath1.steer-own-applications" && subject.user == "$U_S")
                return polkit.Result.YES;
        return polkit.Result.NOT_HANDLED;
});
RULES
skfp_polkit_start "$T/polkit"
skfp_daemon_start

passed=0 failed=0
check() { # check DESCRIPTION COMMAND...
        local what=$1; shift
        if "$@"; then echo "ok   $what"; passed=$((passed + 1)); else echo "FAIL $what"; failed=$((failed + 1)); fi
}
dcall() { # dcall USER METHOD PATH: prints OK or the D-Bus error name
        local u=$1 method=$2
        if runuser -u "$u" -- dbus-send --system --print-reply --dest=$DEST $OBJ "$IFACE.$method" "string:$3" \
                >/dev/null 2>"$T/dcall.err"; then
                echo OK
        else
                sed -n 's/^Error \([^:]*\):.*/\1/p' "$T/dcall.err" | head -n 1
        fi
}
cgroups() { busctl --system get-property $DEST $OBJ $IFACE Cgroups; }
CHALLENGE=org.freedesktop.DBus.Error.InteractiveAuthorizationRequired

OWN="/user.slice/user-$UID_S.slice/user@$UID_S.service"
check "own user manager's subtree: AddCgroup allowed" [ "$(dcall "$U_S" AddCgroup "$OWN/app.slice/firefox.scope")" = OK ]
check "own user manager itself: AddCgroup allowed" [ "$(dcall "$U_S" AddCgroup "$OWN")" = OK ]
check "... both are selected" sh -c "busctl --system get-property $DEST $OBJ $IFACE Cgroups | grep -q '^a(stb) 2 '"
check "own subtree: RemoveCgroup allowed" [ "$(dcall "$U_S" RemoveCgroup "$OWN")" = OK ]
before=$(cgroups)
for p in "/user.slice/user-$UID_O.slice/user@$UID_O.service/app.slice/x.scope" \
        "/system.slice/ssh.service" "/" "/user.slice/user-$UID_S.slice" \
        "/user.slice/user-$UID_S.slice/user@$UID_S.service-evil/x" \
        "/user.slice/user-$UID_S.slice/user@${UID_S}0.service"; do
        check "outside its own subtree ($p): manage needed, challenged" [ "$(dcall "$U_S" AddCgroup "$p")" = "$CHALLENGE" ]
done
check "another user selecting in U_S's subtree: challenged" [ "$(dcall "$U_O" AddCgroup "$OWN/app.slice/y.scope")" = "$CHALLENGE" ]
check "another user removing U_S's selection: challenged" [ "$(dcall "$U_O" RemoveCgroup "$OWN/app.slice/firefox.scope")" = "$CHALLENGE" ]
check "nothing changed by the refusals" [ "$before" = "$(cgroups)" ]
check "root may select anything" busctl --system call $DEST $OBJ $IFACE AddCgroup s /system.slice/ssh.service

check "daemon exits 0 on SIGTERM" skfp_daemon_stop
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
