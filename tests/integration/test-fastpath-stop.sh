#!/usr/bin/env bash
# What skfastpathd(8) says a clean stop does to open fastpath connections: data redirected to a
# receiver that has not read it yet stays queued and is read first, in order, and what is sent
# after the stop goes over plain TCP. Nothing is lost.
set -euo pipefail
. "$(dirname "$0")/../lib/daemon.sh"

skfp_env_init fpstop
MIB=${SKFP_STOP_MIB:-6}   # below the bound (8 MiB), past which the sender would block on TCP
skfp_config <<CONF
[Intercept]
TrustedPorts=8080
CONF
skfp_daemon_start

stat_of() { # GetStatistics counter
        skfp_busctl call org.skfastpath1 /org/skfastpath1 org.skfastpath1.Manager GetStatistics |
                tr -d '"' | awk -v n="$1" '{ for (i = 3; i < NF; i += 2) if ($i == n) print $(i + 1) }'
}

# a client and a server on port 8080 (trusted: its server is a declared receiver) in the daemon's
# cgroup and namespace; the server reads nothing until the daemon has stopped
cat >"$T/pair.py" <<'PY'
import os, socket, sys, time
size, flag = int(sys.argv[1]) << 20, sys.argv[2]
pattern = bytes(range(251)) * 8400        # > 2 MiB: any read of up to 1 MiB is a slice of it
def chunk(offset, n):
    o = offset % 251
    return pattern[o:o + n]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 8080))
ls.listen()
c = socket.create_connection(("127.0.0.1", 8080))
s, _ = ls.accept()
sent = 0
while sent < size:
    sent += c.send(chunk(sent, min(65536, size - sent)))
print("queued", sent, flush=True)
open(flag, "w").close()
while os.path.exists(flag):               # the daemon stops meanwhile
    time.sleep(0.02)
after = 1 << 20
c.sendall(chunk(sent, after))
c.close()
s.settimeout(10)
got = bad = 0
while True:
    d = s.recv(1 << 20)
    if not d:
        break
    if d != chunk(got, len(d)):
        bad += 1
    got += len(d)
print("received", got, "of", sent + after, "bad", bad, flush=True)
sys.exit(0 if got == sent + after and bad == 0 else 1)
PY
sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$CG" \
        nsenter --net="/run/netns/$NS" /usr/bin/python3 "$T/pair.py" "$MIB" "$T/flag" >"$T/pair.out" 2>&1 &
PAIR=$!
for _ in $(seq 500); do [ -e "$T/flag" ] && break; sleep 0.02; done
[ -e "$T/flag" ] || { echo "FAIL: the pair did not queue its data"; cat "$T/pair.out"; exit 1; }
bytes=$(stat_of fastpath-bytes)
tracked=$(stat_of tracked-sockets)
# more than TCP would have let the sender write without a reader: it went through the fastpath
[ "$bytes" -ge $((MIB << 20)) ] && [ "$tracked" -eq 2 ] ||
        { echo "FAIL: not on the fastpath (fastpath-bytes $bytes, tracked-sockets $tracked)"; exit 1; }
echo "ok   $MIB MiB queued for a receiver that does not read, over the fastpath ($bytes bytes)"
skfp_daemon_stop
echo "ok   the daemon stopped cleanly"
rm "$T/flag"
rc=0
wait "$PAIR" || rc=$?
[ "$rc" -eq 0 ] || { echo "FAIL: $(tail -n 1 "$T/pair.out")"; exit 1; }
echo "ok   after the stop: $(tail -n 1 "$T/pair.out" | cut -d' ' -f2-4) bytes read in order, the queued ones first"
echo "3 passed, 0 failed"
