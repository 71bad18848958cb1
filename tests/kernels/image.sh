#!/usr/bin/env bash
# Makes (once) and caches the guest of the kernels suite: a Debian 12 root file system image with
# what the daemon and the integration tests need, and the kernels under test with a small initrd
# each (virtio_pci, virtio_blk, ext4: modules even in the cloud flavour):
#   linux-image-cloud-amd64       Debian 12's own kernel (6.1)
#   linux-image-6.12-cloud-amd64  the newest Debian kernel apt offers (bookworm-security)
# Built on the system tier's cached rootfs; the cache lives outside the tree beside it, keyed by
# the base, the package lists and the guest init: $SKFP_KERNELS_CACHE (default
# /var/cache/skfastpath-test/kernels-KEY/: rootfs.img, kernels/).
# Prints the cache directory. Exit codes: 0 ok, 77 the packages cannot be had, 1 other failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
suite=bookworm
# on top of the system tier's rootfs (tests/system/rootfs.sh: systemd, dbus, polkitd, iproute2,
# libbpf1, libelf1, libmnl0), what the integration tests use, and the kernels
packages="bpftool curl python3 python3-dbus python3-gi procps kmod initramfs-tools"
kpkgs="linux-image-cloud-amd64 linux-image-6.12-cloud-amd64"
base=$("$here/../system/rootfs.sh") || exit $?
base_tarball=${base%/}.tar.zst
# keyed by what is in the image: another base, list or guest init builds a new one
key=$( (printf '%s %s %s %s\n' "$suite" "${base##*/}" "$packages" "$kpkgs"; cat "$here/guest-init.sh") |
        sha256sum | cut -c1-12)
dir=${SKFP_KERNELS_CACHE:-$(dirname "$base")/kernels-$key}

if [ -e "$dir/.complete" ]; then
        echo "$dir"
        exit 0
fi
command -v mke2fs >/dev/null || { echo "SKIP: mke2fs is not installed" >&2; exit 77; }
command -v zstd >/dev/null || { echo "SKIP: zstd is not installed" >&2; exit 77; }
exec 9>"$(dirname "$dir")/.kernels.lock"
flock 9
[ -e "$dir/.complete" ] && { echo "$dir"; exit 0; }

work=$(mktemp -d "$(dirname "$dir")/kernels-build.XXXXXX")
r=$work/root
cleanup() {
        umount -R "$r/dev" 2>/dev/null || true
        umount "$r/proc" "$r/sys" 2>/dev/null || true
        rm -rf "$work"
}
trap cleanup EXIT
echo "kernels: building the guest image in $work, once (a few minutes)" >&2
mkdir "$r"
zstd -dc "$base_tarball" | tar -C "$r" --numeric-owner --xattrs --acls -xf -
mirror=$(sed -n 's/^deb \([^ ]*\) .*/\1/p' "$r/etc/apt/sources.list" | head -n1)
cat >"$r/etc/apt/sources.list" <<SRC
deb ${mirror:-http://deb.debian.org/debian} $suite main
deb ${mirror:-http://deb.debian.org/debian} $suite-updates main
deb http://deb.debian.org/debian-security $suite-security main
SRC
cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
chmod +x "$r/usr/sbin/policy-rc.d"
mount -t proc proc "$r/proc"
mount -t sysfs sys "$r/sys"
mount --rbind /dev "$r/dev"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # word lists
if ! chroot "$r" apt-get update -q >"$work/apt.log" 2>&1 ||
   ! chroot "$r" apt-get install -y -q --no-install-recommends $packages $kpkgs >>"$work/apt.log" 2>&1; then
        tail -n 20 "$work/apt.log" >&2
        if grep -qiE "Unable to locate package|Failed to fetch|Temporary failure resolving|Could not resolve" "$work/apt.log"; then
                echo "SKIP: the packages ($packages $kpkgs) cannot be had" >&2
                exit 77
        fi
        exit 1
fi
chroot "$r" apt-get -y -q dist-upgrade >>"$work/apt.log" 2>&1
rm -rf "$r/etc/initramfs-tools-min"
cp -a "$r/etc/initramfs-tools" "$r/etc/initramfs-tools-min"
sed -i 's/^MODULES=.*/MODULES=list/' "$r/etc/initramfs-tools-min/initramfs.conf"
printf 'virtio_pci\nvirtio_blk\next4\n' >>"$r/etc/initramfs-tools-min/modules"
mkdir -p "$work/out/kernels"
for m in "$r"/lib/modules/*; do
        v=${m##*/}
        chroot "$r" mkinitramfs -d /etc/initramfs-tools-min -o /tmp/initrd-min "$v" >>"$work/apt.log" 2>&1
        mv "$r/tmp/initrd-min" "$work/out/kernels/initrd.img-$v"
        cp "$r/boot/vmlinuz-$v" "$work/out/kernels/"
done
umount -R "$r/dev"
umount "$r/proc" "$r/sys"
install -m755 "$here/guest-init.sh" "$r/qinit"
chroot "$r" apt-get clean
rm -rf "$r/var/lib/apt/lists/"*
size=$(( $(du -sm "$r" | cut -f1) * 13 / 10 + 300 ))M
mke2fs -q -t ext4 -d "$r" -L root "$work/out/rootfs.img" "$size"
rm -rf "$dir"
mv "$work/out" "$dir"
touch "$dir/.complete"
echo "kernels: cached $dir ($(du -sh "$dir" | cut -f1))" >&2
echo "$dir"
