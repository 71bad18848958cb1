#!/bin/bash
# `systemctl stop skfastpathd.service` leaves nothing behind: no process, no pins, no TC or
# cgroup attachments, no policy routing, sysctls as they were; only the socket unit's listener
# (systemd's) and the state directory remain.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

CG2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' \
        /proc/self/mountinfo | head -n1)

ip link add skfp0 type dummy && ip link set skfp0 up
intercept_config skfp0 "18080"

# Everything the daemon could touch, as text; compared before the start and after the stop.
snapshot() {
        echo "## ip rules";       ip rule show; ip -6 rule show
        echo "## routes";         ip route show table all; ip -6 route show table all
        echo "## sysctls";        for f in /proc/sys/net/ipv4/conf/{lo,all,skfp0}/accept_local; do echo "$f=$(cat "$f")"; done
        echo "## qdiscs";         tc qdisc show
        echo "## tc filters";     for d in lo skfp0; do for p in ingress egress; do tc filter show dev "$d" "$p"; done; done
        if command -v bpftool >/dev/null; then
                echo "## bpf net";    bpftool net show
                # systemd's own per-unit device programs come and go with units: leave them out
                echo "## bpf cgroup"; bpftool cgroup tree "$CG2" | awk 'NF >= 3 && $2 != "cgroup_device" && $2 != "device"'
        fi
        echo "## bpffs";          find /sys/fs/bpf -mindepth 1 | sort
}

processes() {
        local p
        for p in /proc/[0-9]*; do
                [ "$(cat "$p/comm" 2>/dev/null)" = skfastpathd ] && echo "${p#/proc/}"
        done
}

before=$(snapshot)
check "socket started" systemctl start skfastpathd.socket
# started directly: a connection left in the socket's queue would start it again after the stop
check "service started" systemctl start skfastpathd.service
wait_state skfastpathd.service active 100 || die "skfastpathd.service did not start"
ok "service active (pid $(main_pid))"
running=$(snapshot)
if [ "$running" = "$before" ]; then
        echo "     note: the running daemon changed nothing visible (a skeleton without datapath)"
else
        ok "the running daemon set things up:"
        diff <(echo "$before") <(echo "$running") | sed -n 's/^> /       + /p'
fi

check "systemctl stop" systemctl stop skfastpathd.service
check "inactive" test "$(unit_state skfastpathd.service)" = inactive
check "clean exit (Result=$(systemctl show -P Result skfastpathd.service), status $(systemctl show -P ExecMainStatus skfastpathd.service))" \
        test "$(systemctl show -P Result skfastpathd.service)" = success
check "no skfastpathd process left" test -z "$(processes)"
unchanged "$before" "$(snapshot)" "(rules, routes, sysctls, qdiscs, filters, BPF attachments, pins)"
check "no pin directory left" test ! -e /sys/fs/bpf/skfastpath
check "the socket unit still holds the listener" test "$(unit_state skfastpathd.socket)" = active
check "the state directory stays" test -d /var/lib/skfastpath
systemctl stop skfastpathd.socket
ip link del skfp0
finish
