#!/usr/bin/env bash
# A crashed daemon fails open: its unpinned tcx links go with it and traffic flows directly.
# A restart cleans the rules its predecessor left instead of stacking a second copy.
set -euo pipefail
. "$(dirname "$0")/../lib/lab.sh"

lab_env iccrash
skfp_config <<CONF
[Intercept]
Interfaces=skfp-c0
Ports=80
CONF

rule_count() { # FAMILY
        ip -n "$NS" "$1" rule | grep -c "fwmark 0x1f5a0001 lookup $LAB_TABLE" || true
}
links_gone() {
        local link prog
        while read -r link prog; do
                ! bpftool link show id "$link" >/dev/null 2>&1 || return 1
                ! bpftool prog show id "$prog" >/dev/null 2>&1 || return 1
        done < <(lab_daemon_links)
}

skfp_daemon_start
check "intercepted while running" lab_http http://198.18.0.10/ 1
kill -KILL "$SKFP_DAEMON_PID"
wait "$SKFP_DAEMON_PID" 2>/dev/null || true
SKFP_DAEMON_PID=
mv "$T/daemon.log" "$T/daemon-crashed.log"
cp "$T/daemon-crashed.log" "$T/daemon.log"
check "SIGKILL: the kernel dropped the links and programs" links_gone
check "after the crash IPv4 goes direct" lab_http http://198.18.0.10/ 0
check "after the crash IPv6 goes direct" lab_http 'http://[2001:db8::10]/' 0
check "the crashed run left its IPv4 rule (what the restart must clean)" test "$(rule_count -4)" -eq 1

check "restart after the crash" skfp_daemon_start
check "restart: one IPv4 rule, not two" test "$(rule_count -4)" -eq 1
check "restart: one IPv6 rule, not two" test "$(rule_count -6)" -eq 1
check "restart: intercepted again" lab_http http://198.18.0.10/ 1
check "daemon exits 0 on SIGTERM" skfp_daemon_stop
# accept_local: the crashed run saved the original value in the state directory, so the restart
# does not take the 1 it finds for it
check "nothing left after the clean stop (accept_local back to $LAB_ACCEPT_LOCAL)" \
        lab_check_clean
lab_summary
