#!/usr/bin/env bash
# The installed units pass `systemd-analyze verify` without a single complaint (it returns 0 on
# unknown keys, so any output fails), checked in a root made of the install tree and this
# machine's own units; the D-Bus activation file names the installed service and binary.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
[ -e /lib/systemd/system/sysinit.target ] || skip "no systemd units on this machine to verify against"
dest=$(install_tree units-verify) || { echo "FAIL meson install"; exit 1; }

unitdir=$(find "$dest" -type f -name skfastpathd.service -printf '%h\n' | head -n1)
[ -n "$unitdir" ] || { echo "FAIL skfastpathd.service is not installed"; exit 1; }
ok "units installed in ${unitdir#"$dest"}"
case "${unitdir#"$dest"}" in
/lib/systemd/system | /usr/lib/systemd/system | /etc/systemd/system) ok "where systemd looks" ;;
*) fail "${unitdir#"$dest"} is not a directory systemd reads" ;;
esac

# A root for --root=: the install tree, the machine's units (sysinit.target etc.), and copies of
# the helpers the units run that are not ours (verify checks that every Exec*= is executable).
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
cp -a "$dest/." "$root/"
mkdir -p "$root/lib/systemd/system"
for f in /lib/systemd/system/*; do
        [ -e "$root/lib/systemd/system/${f##*/}" ] || cp -a "$f" "$root/lib/systemd/system/"
done
for u in "$unitdir"/skfastpathd.*; do
        sed -n 's/^Exec[A-Za-z]*=[-+!@:]*\([^ ]*\).*/\1/p' "$u"
done | sort -u | while read -r exe; do
        if [ ! -e "$root$exe" ] && [ -x "$exe" ]; then
                mkdir -p "$root$(dirname "$exe")"
                cp -L "$exe" "$root$exe"
        fi
done

# As root, verify writes /run/systemd/systemd-units-load on the host: give it a /run of its own.
verify() {
        if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
                unshare --mount --propagation private sh -c \
                        'mount -t tmpfs tmpfs /run/systemd && exec systemd-analyze verify --man=no "$@"' sh "$@"
        else
                systemd-analyze verify --man=no "$@"
        fi
}
for u in skfastpathd.service skfastpathd.socket; do
        out=$(verify --root="$root" "$root${unitdir#"$dest"}/$u" 2>&1)
        if [ -z "$out" ]; then
                ok "systemd-analyze verify $u: no complaints"
        else
                fail "systemd-analyze verify $u:"
                indent <<<"$out"
        fi
done

svc=$(find "$dest" -path '*/dbus-1/system-services/org.skfastpath1.service' | head -n1)
if [ -z "$svc" ]; then
        fail "D-Bus activation file not installed"
else
        ok "D-Bus activation file in ${svc#"$dest"}"
        want=$(sed -n 's/^SystemdService=//p' "$svc")
        check "SystemdService=$want" test "$want" = skfastpathd.service
        exe=$(sed -n 's/^Exec=\([^ ]*\).*/\1/p' "$svc")
        check "Exec=$exe is installed" test -x "$dest$exe"
        check "Name=org.skfastpath1" test "$(sed -n 's/^Name=//p' "$svc")" = org.skfastpath1
fi
start=$(sed -n 's/^ExecStart=//p' "$unitdir/skfastpathd.service")
check "ExecStart=$start is installed" test -x "$dest${start%% *}"
finish
