#!/usr/bin/env bash
# AttachMode=clsact (the fallback for kernels without tcx): TC filters of ours (pref 21318,
# handle 0x5346) on clsact qdiscs. Another program's filter and a qdisc we did not create (even an
# empty one) are never touched, a qdisc we created goes when empty (the -clsact runs of the other
# interception tests check that); a crash leaves our filters (the programs then pass what finds no listener: fail open),
# the next start purges them, also in tcx mode; a stop leaves nothing of ours.
set -euo pipefail
. "$(dirname "$0")/../lib/daemon.sh"
. "$SKFP_TOP/tests/lib/lab.sh"

skfp_env_init icclsact
lab_init
accept_local_before=$(in_client cat /proc/sys/net/ipv4/conf/lo/accept_local)
skfp_config <<CONF
[Intercept]
Interfaces=skfp-c0 skfp-c1
Ports=80
AttachMode=clsact
CONF
export SKFP_ATTACH_MODE=clsact

ours() { # DEV ingress|egress: the number of our filters there
        tc -n "$NS" filter show dev "$1" "$2" 2>/dev/null | grep -c 'pref 21318 bpf.*handle 0x5346 skfp_' || true
}
foreign() { # DEV: the other program's filters on DEV egress are there (a classic BPF one at our
        # priority, a u32 one after ours)
        local f
        f=$(tc -n "$NS" filter show dev "$1" egress)
        grep -q "pref 21318 bpf.*handle 0x5347 .*bytecode '1,6 0 0 0'" <<<"$f" &&
                grep -q 'pref 60000 u32.*fh 800::800' <<<"$f" || { echo "     $f" | head -5; return 1; }
}
add_foreign() { # DEV
        # classic BPF at our priority, another handle, matching nothing; u32 after ours
        tc -n "$NS" filter add dev "$1" egress pref 21318 handle 0x5347 bpf bytecode '1,6 0 0 0,'
        tc -n "$NS" filter add dev "$1" egress pref 60000 u32 match u32 0 0
}
qdisc() { # DEV: DEV has a clsact qdisc
        tc -n "$NS" qdisc show dev "$1" | grep -q clsact
}
one_each() {
        [ "$(ours lo ingress)" -eq 1 ] && [ "$(ours skfp-c0 egress)" -eq 1 ] && [ "$(ours skfp-c1 egress)" -eq 1 ] ||
                { echo "     lo $(ours lo ingress), skfp-c0 $(ours skfp-c0 egress), skfp-c1 $(ours skfp-c1 egress)"; return 1; }
}
none() {
        [ "$(ours lo ingress)" -eq 0 ] && [ "$(ours skfp-c0 egress)" -eq 0 ] && [ "$(ours skfp-c1 egress)" -eq 0 ] ||
                { echo "     lo $(ours lo ingress), skfp-c0 $(ours skfp-c0 egress), skfp-c1 $(ours skfp-c1 egress)"; return 1; }
}

# another program's qdisc and filters on skfp-c1, there before us
tc -n "$NS" qdisc add dev skfp-c1 clsact
add_foreign skfp-c1

skfp_daemon_start
check "attached with clsact" lab_check_attach_mode skfp-c0
check "one filter of ours on lo ingress, skfp-c0 and skfp-c1 egress" one_each
check "the other program's filter on skfp-c1 is untouched" foreign skfp-c1
check "intercepted via skfp-c0 (our qdisc)" lab_http http://198.18.0.10/ 1
check "intercepted via skfp-c0 over IPv6" lab_http 'http://[2001:db8::10]/' 1
check "intercepted via skfp-c1 (the other program's qdisc)" lab_http http://198.18.0.20/ 1
check "the bus says clsact" sh -c "busctl --system get-property org.skfastpath1 /org/skfastpath1 \
        org.skfastpath1.Manager AttachMode | grep -qx 's \"clsact\"'"

# --- a crash: our filters stay, traffic goes direct (no listener), the next start purges them
kill -KILL "$SKFP_DAEMON_PID"
wait "$SKFP_DAEMON_PID" 2>/dev/null || true
SKFP_DAEMON_PID=
cp "$T/daemon.log" "$T/daemon-1.log"
check "SIGKILL: the filters outlive the process" one_each
check "after the crash IPv4 goes direct (fail open)" lab_http http://198.18.0.10/ 0
check "after the crash IPv6 goes direct (fail open)" lab_http 'http://[2001:db8::10]/' 0

check "restart after the crash" skfp_daemon_start
check "the stale filters were purged (3 logged)" \
        test "$(grep -c 'Removed a stale TC filter of ours' "$T/daemon.log")" -eq 3
check "one filter of ours each, not two" one_each
check "restart: intercepted again" lab_http http://198.18.0.10/ 1

# --- a crash, then a start in tcx mode: the clsact run's filters go too (on a kernel without tcx,
# the kernels suite's 6.1: AttachMode=auto, which must come back to clsact and purge likewise)
kill -KILL "$SKFP_DAEMON_PID"
wait "$SKFP_DAEMON_PID" 2>/dev/null || true
SKFP_DAEMON_PID=
cat "$T/daemon.log" >>"$T/daemon-1.log"
if [ "${SKFP_EXPECT_ATTACH_MODE:-tcx}" = clsact ]; then
        printf '[Intercept]\nAttachMode=auto\n' >>"$T/skfastpathd.conf"
        check "restart with AttachMode=auto on a kernel without tcx" skfp_daemon_start
        check "auto fell back to clsact" grep -q 'The kernel refused a tcx link' "$T/daemon.log"
        check "auto purged the stale filters (3 logged)" \
                test "$(grep -c 'Removed a stale TC filter of ours' "$T/daemon.log")" -eq 3
        check "one filter of ours each" one_each
        check "auto: intercepted" lab_http http://198.18.0.10/ 1
        check "daemon exits 0 on SIGTERM (auto)" skfp_daemon_stop
        check "stop: no filter of ours left (auto)" none
else
        printf '[Intercept]\nAttachMode=tcx\n' >>"$T/skfastpathd.conf"
        check "restart in tcx mode" skfp_daemon_start
        check "tcx mode purged the clsact run's filters" none
        check "tcx mode: intercepted" lab_http http://198.18.0.10/ 1
        check "daemon exits 0 on SIGTERM (tcx)" skfp_daemon_stop
fi
cat "$T/daemon.log" >>"$T/daemon-1.log"

# the crashed clsact run's qdiscs on lo and skfp-c0 stay, empty (nobody can know they were ours);
# the one on skfp-c0 goes, so that the next run creates its own; the one on lo is now "another's"
check "the crashed run's empty qdiscs on lo and skfp-c0 stay" sh -c "tc -n '$NS' qdisc show dev lo | grep -q clsact &&
        tc -n '$NS' qdisc show dev skfp-c0 | grep -q clsact"
tc -n "$NS" qdisc del dev skfp-c0 clsact

# --- back to clsact; another program adds a filter to the qdisc we created: the qdisc stays
printf '[Intercept]\nAttachMode=clsact\n' >>"$T/skfastpathd.conf"
check "start in clsact mode again" skfp_daemon_start
check "one filter of ours each" one_each
add_foreign skfp-c0
check "daemon exits 0 on SIGTERM" skfp_daemon_stop
check "stop: no filter of ours left" none
check "stop: the empty lo qdisc we did not create stays" qdisc lo
check "stop: the qdisc we created on skfp-c0 stays (another's filter on it)" qdisc skfp-c0
check "stop: the other program's filter on skfp-c0 is untouched" foreign skfp-c0
check "stop: the qdisc we did not create on skfp-c1 stays" qdisc skfp-c1
check "stop: the other program's filter on skfp-c1 is untouched" foreign skfp-c1
check "direct traffic flows after stop" lab_http http://198.18.0.10/ 0

# the rest must be clean as after any stop (the other program's qdiscs and filters go first)
tc -n "$NS" qdisc del dev skfp-c0 clsact
tc -n "$NS" qdisc del dev skfp-c1 clsact
tc -n "$NS" qdisc del dev lo clsact
cat "$T/daemon-1.log" "$T/daemon.log" >"$T/daemon-all.log"
mv "$T/daemon-all.log" "$T/daemon.log"
check "no rule, route, changed sysctl, qdisc, filter or program of ours left" \
        lab_check_clean "$accept_local_before"
lab_summary
