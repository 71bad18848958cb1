#!/usr/bin/env bash
# Interception on a layer-3 device (tun, no link-layer header, like wireguard) next to an
# Ethernet one: the egress program variant is picked by link type; IPv4 and IPv6.
set -euo pipefail
. "$(dirname "$0")/../lib/lab.sh"

lab_env icl3
lab_tun
skfp_config <<CONF
[Intercept]
Interfaces=skfp-t0 skfp-c0
Ports=80 7 9
CONF
skfp_daemon_start
check "attached with ${SKFP_ATTACH_MODE:-${SKFP_EXPECT_ATTACH_MODE:-tcx}}" lab_check_attach_mode skfp-t0

check "the tun device got the layer-3 program" grep -q "Attached the layer-3 egress program" "$T/daemon.log"
check "the veth got the Ethernet program" grep -q "Attached the Ethernet egress program" "$T/daemon.log"
check "curl http://198.18.0.30/ over tun through the relay" lab_http http://198.18.0.30/ 1
check "curl http://[2001:db8::30]/ over tun through the relay" lab_http 'http://[2001:db8::30]/' 1
check "curl http://198.18.0.10/ over veth through the relay" lab_http http://198.18.0.10/ 1
for size in 1 65537 4194304; do
        check "echo $size bytes over tun, IPv4, byte-exact" lab_client 1 echo 198.18.0.30 7 "$size"
        check "echo $size bytes over tun, IPv6, byte-exact" lab_client 1 echo 2001:db8::30 7 "$size"
done
check "half-close over tun" lab_client 1 digest 2001:db8::30 9 100000
check "unmanaged port over tun goes direct" lab_client 0 echo 198.18.0.30 8080 100000
lab_stats >/dev/null
check "no egress errors" test "$(lab_stat intercept-errors)" -eq 0

check "daemon exits 0 on SIGTERM" skfp_daemon_stop
check "nothing left after stop" lab_check_clean
check "direct traffic over tun after stop" lab_http http://198.18.0.30/ 0
lab_summary
