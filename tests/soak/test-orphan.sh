#!/usr/bin/env bash
# A relayed connection whose client vanishes unseen is closed by the relay within 90 s. Here the
# client's interface is taken out of interception while the connection is open: the client's FIN
# then goes out directly, the world resets it, and the relay's side of the connection hears
# nothing. The relay's keepalive on the client side (60 s idle, 3 probes 10 s apart) finds the
# client gone and closes both of its sockets. (Found by the soak: skfp-f0 flapping.)
set -euo pipefail
. "$(dirname "$0")/../lib/daemon.sh"
. "$SKFP_TOP/tests/lib/lab.sh"

SOAKNET="$SKFP_TOP/tests/soak/soaknet.py"
skfp_env_init orphan
lab_init
skfp_config <<CONF
[Intercept]
Interfaces=skfp-c0
Ports=7
CONF
skfp_daemon_start
PID=$SKFP_DAEMON_PID
fds() { ls "/proc/$PID/fd" | wc -l; }
active() { lab_stats >/dev/null; lab_stat relay-active-connections; }
fds0=$(fds)

in_client "$LAB_PY" "$SOAKNET" orphan "$T/go" 198.18.0.10 7 >"$T/orphan.out" 2>&1 &
CLIENT_PID=$!
SKFP_CLEANUP_HOOKS+=("kill $CLIENT_PID 2>/dev/null; wait $CLIENT_PID 2>/dev/null")
lab_wait_for "$T/orphan.out" '^held\|^FAIL' 200 || true
check "a relayed connection is open ($(head -n 1 "$T/orphan.out"))" test "$(active)" = 1
check "the daemon holds its two sockets ($fds0 -> $(fds))" test "$(fds)" -eq $((fds0 + 2))

check "RemoveInterface skfp-c0" skfp_busctl call org.skfastpath1 /org/skfastpath1 org.skfastpath1.Manager \
        RemoveInterface s skfp-c0
fds1=$(fds)     # the interface's link is closed: one less
touch "$T/go"
rc=0
wait "$CLIENT_PID" || rc=$?
cat "$T/orphan.out"
check "the client closed; its FIN went out directly and the world reset it" test "$rc" -eq 0
sleep 2
check "the relay did not hear of it (relay-active-connections $(active))" test "$(active)" = 1

start=$(date +%s)
for _ in $(seq 120); do
        [ "$(active)" = 0 ] && break
        sleep 1
done
took=$(($(date +%s) - start + 2))
check "the relay closed the connection after ~$took s (keepalive: 60 s idle, then 3 probes 10 s apart)" \
        test "$(active)" = 0
check "the daemon closed both sockets ($fds1 -> $(fds) fds)" test "$(fds)" -eq $((fds1 - 2))
check "daemon exits 0 on SIGTERM" skfp_daemon_stop
lab_summary
