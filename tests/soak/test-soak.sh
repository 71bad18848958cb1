#!/usr/bin/env bash
# The soak: SKFP_SOAK_SECONDS (default 300) of mixed traffic through the real daemon (relayed
# connections of 1 B to 1 MiB over IPv4 and IPv6, half-closing ones, fastpath connections inside
# the test's cgroup, unmanaged ports and interfaces, four connections that live through it all)
# while a second managed link flaps every second (down/up and delete/recreate in turn), the
# traffic link itself goes down a few times, and D-Bus changes run in parallel (AddPort/RemovePort
# of a spare port, SetFastpath off/on, Add/RemoveInterface). Every completed connection is
# byte-exact (sha256), the counters match the traffic, the daemon's fds and memory do not grow,
# and it answers and stops cleanly at the end. The checks are in tests/soak/soaknet.py (soak).
set -euo pipefail
. "$(dirname "$0")/../lib/daemon.sh"
. "$SKFP_TOP/tests/lib/lab.sh"

DURATION=${SKFP_SOAK_SECONDS:-300}
SOAKNET="$SKFP_TOP/tests/soak/soaknet.py"
export SKFP_LAB_LIFETIME=$((DURATION + 600))   # the world servers outlive the soak

skfp_env_init soak
lab_init
#   flapping   skfp-f0     198.19.3.0/24  2001:db8:4::/64   198.18.0.40  2001:db8::40   (veth)
lab_link skfp-f0 skfp-fw0 198.19.3 2001:db8:4 40
# Ports for a few hundred connections a second, for minutes, to the same destinations (these
# sysctls are the client namespace's own).
in_client sysctl -q -w net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1
accept_local_before=$(in_client cat /proc/sys/net/ipv4/conf/lo/accept_local)
skfp_config <<CONF
[Intercept]
Interfaces=skfp-c0 skfp-f0
Ports=7 9 5001
[Fastpath]
# every socket of the test's cgroup (its local servers, its clients) is a declared receiver, so
# both directions of the local and relayed connections are redirected, as the accounting expects
TrustedCgroups=${CG#"$(skfp_cgroup2_root)"}
CONF
# The daemon runs inside the cgroup it manages, as it does when that is the root cgroup: the relay's
# own sockets get the fastpath too. (The shell goes back where it was right after.)
cg_before=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
echo "$BASHPID" >"$CG/cgroup.procs"
skfp_daemon_start
echo "$BASHPID" >"$(skfp_cgroup2_root)${cg_before%/}/cgroup.procs"
PID=$SKFP_DAEMON_PID
check "the daemon runs in the test's cgroup" grep -qx "0::${CG#"$(skfp_cgroup2_root)"}" "/proc/$PID/cgroup"

echo "     soak of $DURATION s (SKFP_SOAK_SECONDS)"
rc=0
# shellcheck disable=SC2016
nsenter --net="/run/netns/$NS" sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" \
        "$LAB_PY" "$SOAKNET" soak --seconds "$DURATION" --daemon-pid "$PID" --world-ns "$WNS" \
        --world-log "$T/world.log" 2>&1 | tee "$T/soak.out" || rc=$?
check "soak: every check of the driver passed" test "$rc" -eq 0

result=$(sed -n 's/^result //p' "$T/soak.out")
if [ -n "$result" ]; then
        /usr/bin/python3 - "$result" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
ok = sum(c["ok"] for c in r["categories"].values())
bad = sum(c["failed"] for c in r["categories"].values())
print(f"     figures: {r['seconds']:.0f} s, {sum(r['flaps'].values())} link flaps {r['flaps']}, "
      f"{r['bus_changes']} D-Bus calls, {ok} connections/rounds byte-exact ({bad} failed cleanly "
      f"during flaps), {r['bytes_checked']} bytes checked; daemon RSS {r['rss_start']} -> "
      f"{r['rss_warm']} -> {r['rss_end']} KiB, fds {r['fds_start']} -> {r['fds_end']}; "
      f"{r['intervals_exact']} of {r['intervals']} intervals exact")
PY
fi

lab_stats >/dev/null
check "no relayed connection left open (relay-active-connections $(lab_stat relay-active-connections))" \
        test "$(lab_stat relay-active-connections)" = 0
if [ "$(lab_stat relay-active-connections)" != 0 ]; then
        echo "     the daemon's TCP sockets and the client namespace's sockets on the same ports:"
        in_client ss -tanpoeH | grep "pid=$PID," | grep -v LISTEN | sed 's/^/     /' || true
        lab_stats
fi
check "the daemon is still running" kill -0 "$PID"
check "daemon exits 0 on SIGTERM" skfp_daemon_stop
check "nothing left after the clean stop" lab_check_clean "$accept_local_before"
lab_summary
