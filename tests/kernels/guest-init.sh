#!/bin/sh
# PID 1 of the kernels suite's guest (init=/qinit): mounts the basics and the host's tree (virtiofs,
# tag "host") at the path it has on the host (skfp.dir= on the kernel command line), runs
# tests/kernels/guest-run.sh from it, prints "SKFP_GUEST_RC=N" and powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf
hostname skfp-guest
ip link set lo up
dir=$(sed -n 's/.*skfp\.dir=\([^ ]*\).*/\1/p' /proc/cmdline)
tests=$(sed -n 's/.*skfp\.tests=\([^ ]*\).*/\1/p' /proc/cmdline)
mkdir -p "$dir"
modprobe virtiofs 2>/dev/null
if mount -t virtiofs host "$dir"; then
        echo "SKFP_GUEST_KERNEL=$(uname -r)"
        bash "$dir/tests/kernels/guest-run.sh" "$tests"
        rc=$?
        sync
        umount "$dir" 2>/dev/null
else
        echo "SKFP_GUEST: cannot mount the host's tree"
        rc=1
fi
echo "SKFP_GUEST_RC=$rc"
mount -o remount,ro / 2>/dev/null
sync
echo o >/proc/sysrq-trigger
while :; do :; done
