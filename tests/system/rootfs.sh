#!/usr/bin/env bash
# Makes (once) and caches the minimal Debian root file system the system tier boots.
#   tests/system/rootfs.sh     prints the path of the unpacked tree, building and unpacking it
#                              if needed
# The cache lives outside the repository, keyed by the suite and the package list, so a changed
# list builds a new one: rootfs-SUITE-KEY.tar.zst (debootstrap's result, ~50 MB) and its
# unpacked tree rootfs-SUITE-KEY/ that containers boot with --volatile=overlay (never written).
# SKFP_ROOTFS_CACHE overrides the directory. A first run on a new machine takes about a minute.
# Exit codes: 0 ok, 77 debootstrap cannot reach Debian's packages (or is missing), 1 other failure.
set -euo pipefail

suite=bookworm
packages=systemd,systemd-sysv,dbus,libpam-systemd,polkitd,iproute2,libbpf1,libelf1,libmnl0
cache=${SKFP_ROOTFS_CACHE:-/var/cache/skfastpath-test}
key=$(printf '%s %s %s\n' "$suite" "$packages" "$(dpkg --print-architecture)" | sha256sum | cut -c1-12)
tarball="$cache/rootfs-$suite-$key.tar.zst"
tree="$cache/rootfs-$suite-$key"

if [ -e "$tree.complete" ]; then
        echo "$tree"
        exit 0
fi

command -v debootstrap >/dev/null || { echo "SKIP: debootstrap is not installed" >&2; exit 77; }
command -v zstd >/dev/null || { echo "SKIP: zstd is not installed" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "SKIP: building the rootfs needs root" >&2; exit 77; }

# The mirror apt uses here, so the rootfs comes from where this machine's packages come from
# (SKFP_ROOTFS_MIRROR overrides it).
mirror=${SKFP_ROOTFS_MIRROR:-}
[ -n "$mirror" ] || mirror=$(sed -n 's/^URIs: *\([^ ]*\/debian\)\/\?$/\1/p; s/^deb \+\(\[[^]]*\] \+\)\?\([^ ]*\/debian\)\/\? \+bookworm .*/\2/p' \
        /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n1 || true)

mkdir -p "$cache"
# One builder at a time; a second caller waits for the first one's result.
exec 9>"$cache/.lock"
flock 9
unpack() {
        if [ ! -e "$tree.complete" ]; then
                rm -rf "$tree"
                mkdir "$tree"
                zstd -dc "$tarball" | tar -C "$tree" --numeric-owner --xattrs --acls -xf -
                touch "$tree.complete"
        fi
        echo "$tree"
}
if [ -s "$tarball" ]; then
        unpack
        exit 0
fi

work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "rootfs: debootstrap $suite ($packages) into $work, once; this takes about a minute" >&2
if ! debootstrap --variant=minbase --include="$packages" "$suite" "$work/root" ${mirror:+"$mirror"} \
        >"$work/debootstrap.log" 2>&1; then
        tail -n 20 "$work/debootstrap.log" >&2
        if grep -qiE "Failed getting release file|Couldn't download|Temporary failure resolving|Could not resolve|Connection (refused|timed out)|Network is unreachable" \
                "$work/debootstrap.log"; then
                echo "SKIP: debootstrap cannot reach Debian's packages" >&2
                exit 77
        fi
        echo "rootfs: debootstrap failed" >&2
        exit 1
fi

root="$work/root"
# Boot fast and quietly: no getty on the console, no machine-id questions, no apt timers.
rm -f "$root/etc/machine-id"
: >"$root/etc/machine-id"
echo skfp-test >"$root/etc/hostname"
ln -sf /dev/null "$root/etc/systemd/system/console-getty.service"
ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"
ln -sf /dev/null "$root/etc/systemd/system/systemd-timesyncd.service"
for t in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer; do
        ln -sf /dev/null "$root/etc/systemd/system/$t"
done
rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/*

tar -C "$root" --numeric-owner --xattrs --acls -cf - . | zstd -q -T0 -10 -o "$work/rootfs.tar.zst"
mv "$work/rootfs.tar.zst" "$tarball"
echo "rootfs: cached $tarball ($(du -h "$tarball" | cut -f1))" >&2
unpack
