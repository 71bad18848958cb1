#!/bin/bash
# shellcheck disable=SC2317 # helpers are called through check()
# The Debian package (debian/, scripts/package) on a clean Debian 12: `apt-get install ./...deb`
# with nothing to download, the socket enabled and listening, D-Bus activation with the shipped
# (all commented) conffile, polkit, add-interface + add-port intercepting; `apt-get remove`
# stops everything and leaves nothing attached or pinned (the config and state stay);
# `apt-get purge` removes the state, the config and the enablement.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

STREAM=/skfp-bin/skfp-stream
CONF=/etc/skfastpath/skfastpathd.conf
debs=(/skfp-deb/*.deb)
deb=${debs[0]}
[ -f "$deb" ] || die "no package bound at /skfp-deb"
CG2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' \
        /proc/self/mountinfo | head -n1)

# Everything the daemon could touch, as text (as in stop-clean.sh), before install and after removal.
snapshot() {
        echo "## ip rules";       ip rule show; ip -6 rule show
        echo "## routes";         ip route show table all; ip -6 route show table all
        echo "## sysctls";        for f in /proc/sys/net/ipv4/conf/{lo,all,skfp-c0}/accept_local; do echo "$f=$(cat "$f")"; done
        echo "## qdiscs";         tc qdisc show
        echo "## tc filters";     for d in lo skfp-c0; do for p in ingress egress; do tc filter show dev "$d" "$p"; done; done
        if command -v bpftool >/dev/null; then
                echo "## bpf net";    bpftool net show
                # systemd's own per-unit programs (device, IP firewall) come and go with units and
                # daemon-reloads, which the package's scripts run: leave them out
                echo "## bpf cgroup"; bpftool cgroup tree "$CG2" | awk 'NF >= 3 && $2 != "cgroup_device" && $2 != "device" && $NF !~ /^sd_/'
        fi
        echo "## bpffs";          find /sys/fs/bpf -mindepth 1 | sort
}
processes() {
        local p
        for p in /proc/[0-9]*; do
                [ "$(cat "$p/comm" 2>/dev/null)" = skfastpathd ] && echo "${p#/proc/}"
        done
}
# skfastpath's BPF programs loaded in the kernel (all of it: the container shares the host's
# kernel, so this counts other loaders' too; compared before install and after removal, under
# the privileged-test lock). bookworm's bpftool does not list tcx links, so this is what shows
# that the interface programs went with the process.
progs() {
        bpftool prog show 2>/dev/null | grep -c ' name skfp_'
}
# wait_progs N: until N of them are left (freeing a program after its last user is deferred)
wait_progs() {
        local i
        for i in $(seq 50); do
                [ "$(progs)" -eq "$1" ] && return 0
                sleep 0.1
        done
        return 1
}
status_of() {
        dpkg-query -W -f='${db:Status-Abbrev}' skfastpath 2>/dev/null | tr -d ' '
}
stat() {
        busctl --system call "$BUS_DEST" "$BUS_PATH" "$BUS_IFACE" GetStatistics |
                tr ' ' '\n' | grep -A1 -x "\"$1\"" | tail -1
}
apt_get() {
        DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0 "$@" >/run/skfp-test/apt.log 2>&1 ||
                { sed 's/^/       /' /run/skfp-test/apt.log; return 1; }
}

world_up
before=$(snapshot)
progs0=$(progs)
check "not installed yet" test ! -e /usr/sbin/skfastpathd

# --- install
t0=$(date +%s%N)
apt_get install "$deb" || die "apt-get install $deb failed"
ok "apt-get install ${deb##*/}: nothing to download ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
check "dpkg: installed ($(status_of))" test "$(status_of)" = ii
check "the binaries" test -x /usr/sbin/skfastpathd -a -x /usr/bin/skfastpathctl
check "skfastpathd --version is this tree's ($SKFP_VERSION)" sh -c "/usr/sbin/skfastpathd --version | grep -qw '$SKFP_VERSION'"
check "the conffile $CONF" sh -c "dpkg-query -W -f='\${Conffiles}' skfastpath | grep -q '^ $CONF '"
check "with every key commented out" test -z "$(grep -vE '^(#.*|\[[A-Za-z]+\]|)$' "$CONF")"
for f in /lib/systemd/system/skfastpathd.service /lib/systemd/system/skfastpathd.socket \
        /usr/share/dbus-1/system.d/org.skfastpath1.conf /usr/share/dbus-1/system-services/org.skfastpath1.service \
        /usr/share/polkit-1/actions/org.skfastpath1.policy /usr/share/man/man8/skfastpathd.8.gz \
        /usr/share/man/man5/skfastpathd.conf.5.gz /usr/share/man/man1/skfastpathctl.1.gz; do
        check "ships $f" sh -c "dpkg -L skfastpath | grep -qx '$f'"
done
check "the activation file runs /usr/sbin/skfastpathd" \
        grep -qx 'Exec=/usr/sbin/skfastpathd' /usr/share/dbus-1/system-services/org.skfastpath1.service
check "skfastpathd.socket enabled ($(systemctl is-enabled skfastpathd.socket))" \
        test "$(systemctl is-enabled skfastpathd.socket)" = enabled
check "skfastpathd.socket active" wait_state skfastpathd.socket active 50
listens=$(ss -Hltn 'sport = :15001' | awk '{ print $4 }' | sort | tr '\n' ' ')
check "listening on 127.0.0.1:15001 and [::1]:15001 (got: $listens)" test "$listens" = "127.0.0.1:15001 [::1]:15001 "
check "skfastpathd.service not enabled ($(systemctl is-enabled skfastpathd.service))" \
        test "$(systemctl is-enabled skfastpathd.service)" = disabled
check "skfastpathd.service not started" test "$(unit_state skfastpathd.service)" = inactive

# --- bus activation, with the shipped config
check "a call to org.skfastpath1 answers (Version $(get_property Version 2>/dev/null))" get_property Version
wait_state skfastpathd.service active 100 || die "D-Bus activation did not start skfastpathd.service"
ok "and started skfastpathd.service through systemd (pid $(main_pid))"
check "the daemon holds the socket's listener" holds_listener "$(main_pid)" 127.0.0.1:15001

# --- polkit
check "polkitd knows org.skfastpath1.manage" pkaction --action-id org.skfastpath1.manage
useradd -M -N -s /bin/bash skplain
rc=0
runuser -u skplain -- skfastpathctl --no-ask-password add-port 7 >/dev/null 2>&1 || rc=$?
check "a plain user may not add a port (skfastpathctl exit $rc: 7 or 8)" test "$rc" = 7 -o "$rc" = 8
check "a plain user may read the status" runuser -u skplain -- skfastpathctl status

# --- intercepting
check "skfastpathctl add-interface skfp-c0" skfastpathctl add-interface skfp-c0
check "skfastpathctl add-port 7" skfastpathctl add-port 7
check "the change is kept in /var/lib/skfastpath/state" test -s /var/lib/skfastpath/state
n0=$(stat intercepted-connections)
"$STREAM" stream 198.18.0.10 7 1 >/run/skfp-test/stream.out 2>&1
check "a connection to 198.18.0.10:7 is relayed byte-exact ($(cat /run/skfp-test/stream.out))" \
        grep -q '^ok sent=' /run/skfp-test/stream.out
n1=$(stat intercepted-connections)
check "and was intercepted (intercepted-connections $n0 -> $n1)" test "${n1:-0}" -gt "${n0:-0}"
running=$(snapshot)
check "the daemon's BPF programs are loaded ($progs0 -> $(progs) named skfp_*)" test "$(progs)" -gt "$progs0"
if [ "$running" = "$before" ]; then
        fail "the running daemon changed nothing visible"
else
        ok "the running daemon set things up:"
        diff <(echo "$before") <(echo "$running") | sed -n 's/^> /       + /p'
fi

# --- upgrade (a reinstall runs the same maintainer scripts): the running daemon is restarted
# with its datapath handed over, the socket is left alone
pid=$(main_pid)
check "apt-get install --reinstall" apt_get install --reinstall "$deb"
check "skfastpathd.service active again" wait_state skfastpathd.service active 100
check "with a new process ($pid -> $(main_pid))" test "$(main_pid)" != "$pid"
check "the old process handed over (a restart, not a stop)" sh -c \
        "journalctl -u skfastpathd.service -o cat --no-pager | grep -q '^Restarting: the datapath'"
check "skfastpathd.socket still active" test "$(unit_state skfastpathd.socket)" = active
check "the port is still managed ($(skfastpathctl status 2>&1 | grep -i ports | tr -s ' '))" \
        sh -c "busctl --system get-property $BUS_DEST $BUS_PATH $BUS_IFACE Ports | grep -qw 7"
"$STREAM" stream 198.18.0.10 7 1 >/run/skfp-test/stream.out 2>&1
check "and still intercepted ($(cat /run/skfp-test/stream.out))" grep -q '^ok sent=' /run/skfp-test/stream.out

# --- remove
t0=$(date +%s%N)
apt_get remove skfastpath || die "apt-get remove failed"
ok "apt-get remove skfastpath ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
check "dpkg: removed, config kept ($(status_of))" test "$(status_of)" = rc
check "skfastpathd.service stopped" test "$(unit_state skfastpathd.service)" = inactive
check "skfastpathd.socket stopped" test "$(unit_state skfastpathd.socket)" = inactive
check "no skfastpathd process left" test -z "$(processes)"
check "nothing listening on 15001" test -z "$(ss -Hltn 'sport = :15001')"
after=$(snapshot)
if [ "$after" = "$before" ]; then
        ok "nothing left attached or pinned (rules, routes, sysctls, qdiscs, filters, BPF attachments, pins)"
else
        fail "left behind after apt-get remove:"
        diff <(echo "$before") <(echo "$after") | sed -n 's/^[<>] /       /p'
fi
check "no /sys/fs/bpf/skfastpath" test ! -e /sys/fs/bpf/skfastpath
check "every BPF program of the daemon unloaded (back to $progs0: $(wait_progs "$progs0"; progs))" wait_progs "$progs0"
check "the binaries are gone" test ! -e /usr/sbin/skfastpathd -a ! -e /usr/bin/skfastpathctl
check "a bus call activates nothing any more" sh -c "! busctl --system --timeout=5 call $BUS_DEST $BUS_PATH $BUS_IFACE GetStatistics >/dev/null 2>&1"
check "and starts no process" test -z "$(processes)"
check "the conffile stays" test -f "$CONF"
check "the state stays" test -s /var/lib/skfastpath/state
"$STREAM" stream 198.18.0.10 7 1 >/run/skfp-test/stream.out 2>&1
check "connections go direct again ($(cat /run/skfp-test/stream.out))" grep -q '^ok sent=' /run/skfp-test/stream.out

# --- purge
t0=$(date +%s%N)
apt_get purge skfastpath || die "apt-get purge failed"
ok "apt-get purge skfastpath ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
check "dpkg: nothing left ($(status_of))" sh -c "! dpkg-query -W -f='\${db:Status-Status}' skfastpath 2>/dev/null | grep -qv not-installed"
check "/etc/skfastpath removed" test ! -e /etc/skfastpath
check "/var/lib/skfastpath removed" test ! -e /var/lib/skfastpath
check "the socket's enablement removed" test ! -e /etc/systemd/system/sockets.target.wants/skfastpathd.socket -a \
        ! -L /etc/systemd/system/sockets.target.wants/skfastpathd.socket
check "no unit file of ours anywhere" test -z "$(find /etc/systemd /lib/systemd /usr/lib/systemd -name 'skfastpathd*' 2>/dev/null)"
check "no file of ours left" test -z "$(find / -xdev \( -name 'skfastpath*' -o -name 'org.skfastpath1*' \) \
        -not -path '/skfp-*' -not -path '/proc/*' 2>/dev/null)"
# --- removal after a crash: with Restart=no (a drop-in of the test's) a SIGKILL leaves the pins,
# the rule, the route and accept_local behind; the removal has a new process adopt them and
# the clean stop remove them
apt_get install "$deb" || die "apt-get install $deb (again) failed"
mkdir -p /run/systemd/system/skfastpathd.service.d
printf '[Service]\nRestart=no\n' >/run/systemd/system/skfastpathd.service.d/50-skfp-test.conf
systemctl daemon-reload
check "installed again: skfastpathctl add-interface skfp-c0" skfastpathctl add-interface skfp-c0
check "skfastpathctl add-port 7" skfastpathctl add-port 7
check "killed (SIGKILL)" systemctl kill -s KILL skfastpathd.service
check "the service failed" wait_state skfastpathd.service failed 100
check "and left its pins" test -e /sys/fs/bpf/skfastpath/sockops_link
check "and its rule" sh -c "ip rule show | grep -q 'lookup 15001'"
t0=$(date +%s%N)
apt_get remove skfastpath || die "apt-get remove (after the crash) failed"
ok "apt-get remove skfastpath after the crash ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
check "no skfastpathd process left" test -z "$(processes)"
after=$(snapshot)
if [ "$after" = "$before" ]; then
        ok "nothing left after the crash either (rules, routes, sysctls, qdiscs, filters, BPF attachments, pins)"
else
        fail "left behind after the crash and apt-get remove:"
        diff <(echo "$before") <(echo "$after") | sed -n 's/^[<>] /       /p'
fi
check "every BPF program of the daemon unloaded ($(wait_progs "$progs0"; progs))" wait_progs "$progs0"
check "apt-get purge" apt_get purge skfastpath
rm -rf /run/systemd/system/skfastpathd.service.d
systemctl daemon-reload
world_down
finish
