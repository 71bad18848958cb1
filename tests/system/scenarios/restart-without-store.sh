#!/bin/bash
# With FileDescriptorStoreMax= too small for the handover (a drop-in sets 0), a restart costs
# what skfastpathd(8) says a stop and a start cost: the daemon says why, relayed connections
# are closed with a FIN (the client reads EOF, not a reset), a fastpath connection goes on over
# plain TCP byte-exact, and the new process starts from scratch (new maps).
# shellcheck disable=SC2317  # helpers that run through check() look unreachable
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

STREAM=/skfp-bin/skfp-stream
D=/run/skfp-test
world_up
intercept_config skfp-c0 "7 18080"
mkdir -p /run/systemd/system/skfastpathd.service.d
printf '[Service]\nFileDescriptorStoreMax=0\n' >/run/systemd/system/skfastpathd.service.d/nostore.conf
systemctl daemon-reload

run_unit() { # NAME ARGS...: in the container's cgroups, where sockops sees it
        local name=$1
        shift
        systemd-run --quiet --unit="$name" -p StandardOutput="file:$D/$name.out" "$@"
}
ended() {
        for _ in $(seq 300); do
                [ "$(systemctl show -P SubState "$1" 2>/dev/null)" != running ] && return 0
                sleep 0.05
        done
        return 1
}
stat() {
        busctl --system call "$BUS_DEST" "$BUS_PATH" "$BUS_IFACE" GetStatistics |
                tr ' ' '\n' | grep -A1 -x "\"$1\"" | tail -1
}
pinned_sockhash() {
        bpftool map show pinned /sys/fs/bpf/skfastpath/sockhash 2>/dev/null | head -n1 | cut -d: -f1
}

check "service started" systemctl start skfastpathd.service
wait_state skfastpathd.service active 100 || die "skfastpathd.service did not start"
sleep 0.5
run_unit skfp-fp-server "$STREAM" serve 18080
for _ in $(seq 100); do grep -q ready "$D/skfp-fp-server.out" 2>/dev/null && break; sleep 0.05; done
run_unit skfp-fp-client "$STREAM" stream 127.0.0.1 18080 60 "$D/fp.progress" "$D/stop"
run_unit skfp-eof "$STREAM" wait-eof 198.18.0.10 7 30 "$D/eof.ready"
for _ in $(seq 200); do [ -e "$D/eof.ready" ] && [ -s "$D/fp.progress" ] && break; sleep 0.05; done
check "a relayed and a fastpath connection open" test -e "$D/eof.ready" -a -s "$D/fp.progress"
sockhash=$(pinned_sockhash)
since=$(date '+%Y-%m-%d %H:%M:%S')

check "systemctl restart" systemctl restart skfastpathd.service
check "active again" wait_state skfastpathd.service active 100
log=$(journalctl -u skfastpathd.service --since "$since" -o cat --no-pager)
check "the daemon says why it does not hand over" \
        grep -q 'FileDescriptorStoreMax=0 has no room' <<<"$log"
ended skfp-eof
check "the relayed client read EOF, not a reset ($(cat "$D/skfp-eof.out"))" grep -q '^eof' "$D/skfp-eof.out"
check "a new datapath (sockhash $sockhash -> $(pinned_sockhash))" test "$(pinned_sockhash)" != "$sockhash"
before=$(stream_received "$D/fp.progress")
sleep 0.5
check "the fastpath connection goes on (over plain TCP)" test "$(stream_received "$D/fp.progress")" -gt "$before"
check "... off the fastpath: the new datapath redirects nothing ($(stat fastpath-redirects))" \
        test "$(stat fastpath-redirects)" -eq 0
touch "$D/stop"
ended skfp-fp-client
check "the fastpath connection is byte-exact ($(cat "$D/skfp-fp-client.out"))" grep -q '^ok sent=' "$D/skfp-fp-client.out"
systemctl stop skfp-fp-server.service 2>/dev/null
check "systemctl stop" systemctl stop skfastpathd.service
rm -rf /run/systemd/system/skfastpathd.service.d
systemctl daemon-reload
world_down
finish
