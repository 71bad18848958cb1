#!/usr/bin/env bash
# The kernels suite: boots one Debian kernel in qemu (TCG: no KVM needed, and none used) and runs
# a subset of the integration tests in it, the daemon and the tests from this tree as built (the
# source root shared read-write over virtiofs at the same path). The guest image is built once and
# cached outside the tree (image.sh).
#   test-kernel.sh KERNEL_PREFIX EXPECTED_ATTACH_MODE TEST[,TEST...]
# KERNEL_PREFIX picks the kernel from the image ("6.1.", "6.12."); the daemon runs with
# AttachMode=auto and must end up with EXPECTED_ATTACH_MODE (the kernel is probed, not named).
# Skips (77) with the reason when qemu, virtiofsd, root, the kernel packages or the image cannot be had.
set -euo pipefail
kprefix=$1 mode=$2 tests=$3
top=${SKFP_SOURCE_ROOT:?}
build=${SKFP_BUILD_ROOT:?}
here=$top/tests/kernels
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "needs root (virtiofsd, the image build)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
virtiofsd=
for v in /usr/lib/qemu/virtiofsd /usr/libexec/virtiofsd /usr/lib/virtiofsd; do
        [ -x "$v" ] && virtiofsd=$v && break
done
[ -n "$virtiofsd" ] || skip "no virtiofsd (the cloud kernels have no 9p)"
case "$build/" in "$top"/*) ;; *) skip "the build root $build is not inside the source root $top (the guest sees only that)" ;; esac

rc=0
dir=$("$here/image.sh") || rc=$?
[ "$rc" -eq 77 ] && skip "no guest image: the Debian packages cannot be had"
[ "$rc" -eq 0 ] || { echo "the guest image could not be built"; exit 1; }
kernel=$(cd "$dir/kernels" && ls vmlinuz-"$kprefix"* 2>/dev/null | sort -V | tail -1)
[ -n "$kernel" ] || skip "no kernel $kprefix* in the image"
kver=${kernel#vmlinuz-}

T=$(mktemp -d /tmp/skfp-kernel.XXXXXX)
vpid=
cleanup() {
        if [ -n "$vpid" ]; then
                kill "$vpid" 2>/dev/null || true
                wait "$vpid" 2>/dev/null || true
        fi
        rm -rf "$T"
}
trap cleanup EXIT
"$virtiofsd" --socket-path="$T/vfs.sock" -o source="$top" -o cache=none >"$T/virtiofsd.log" 2>&1 &
vpid=$!
for _ in $(seq 50); do [ -S "$T/vfs.sock" ] && break; sleep 0.1; done
[ -S "$T/vfs.sock" ] || { cat "$T/virtiofsd.log"; echo "virtiofsd did not start"; exit 1; }

echo "kernel $kver, expecting AttachMode $mode, tests: $tests"
start=$(date +%s)
# 2 vCPUs: the relay and the clients must be able to run at once; nice: the host is shared
timeout "${SKFP_KERNEL_TIMEOUT:-1500}" nice -n 10 qemu-system-x86_64 -M pc -cpu max -accel tcg -m 2G -smp 2 \
        -nographic -no-reboot -nodefaults -serial stdio -monitor none \
        -kernel "$dir/kernels/$kernel" -initrd "$dir/kernels/initrd.img-$kver" \
        -append "root=/dev/vda rw console=ttyS0 init=/qinit quiet panic=-1 mitigations=off cryptomgr.notests skfp.dir=$top skfp.tests=$build:$mode:$tests" \
        -drive file="$dir/rootfs.img",if=virtio,format=raw,snapshot=on -device virtio-rng-pci \
        -chardev socket,id=vfs,path="$T/vfs.sock" -device vhost-user-fs-pci,chardev=vfs,tag=host \
        -object memory-backend-memfd,id=mem,size=2G,share=on -numa node,memdev=mem \
        </dev/null 2>&1 | sed -u 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\r$//' | tee "$T/console.log" || true
echo "wall time: $(( $(date +%s) - start )) s"
echo "--- results on $kver:"
grep '^SKFP_TEST ' "$T/console.log" || true
grc=$(sed -n 's/^SKFP_GUEST_RC=\([0-9]*\).*/\1/p' "$T/console.log" | tail -1)
case "$grc" in
0) exit 0 ;;
77) skip "every test skipped in the guest" ;;
"") echo "the guest did not finish (timeout or crash)"; exit 1 ;;
*) exit 1 ;;
esac
