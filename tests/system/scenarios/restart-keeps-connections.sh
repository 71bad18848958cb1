#!/bin/bash
# shellcheck disable=SC2317  # helpers that run through check() look unreachable
# `systemctl restart skfastpathd` with connections open: a fastpath connection (local client and
# server) and a relayed connection (intercepted on skfp-c0 to a server in another namespace)
# stream data both ways throughout the restart, and HELD more relayed connections sit idle; the
# old process hands the datapath, the interception links and the relayed sockets (with the
# bytes it had read and not yet written) to systemd's file descriptor store, the new one takes
# them over. After it: every stream is byte-exact, the fastpath counters still move, every held
# connection still echoes and ends cleanly. Then `systemctl stop` leaves nothing behind.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

HELD=${SKFP_HELD:-200}
STREAM=/skfp-bin/skfp-stream
D=/run/skfp-test
command -v bpftool >/dev/null || skip "no bpftool in the container"
CG2=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' \
        /proc/self/mountinfo | head -n1)

# the world: a namespace with an echo server on 198.18.0.10:7, behind skfp-c0
world_up

intercept_config skfp-c0 "7 18080"

snapshot() {
        echo "## ip rules";  ip rule show; ip -6 rule show
        # sorted: the kernel adds skfp-c0's link-local route whenever it is ready
        echo "## routes";    { ip route show table all; ip -6 route show table all; } | sort
        echo "## sysctls";   for f in /proc/sys/net/ipv4/conf/{lo,all,skfp-c0}/accept_local; do echo "$f=$(cat "$f")"; done
        echo "## bpf cgroup"; bpftool cgroup tree "$CG2" | awk 'NF >= 3 && $2 != "cgroup_device" && $2 != "device"'
        echo "## bpffs";     find /sys/fs/bpf -mindepth 1 | sort
}
# local endpoints run as transient units, in the container's cgroup tree where sockops sees them
run_unit() { # NAME ARGS...
        local name=$1
        shift
        systemd-run --quiet --unit="$name" -p LimitNOFILE=16384 -p StandardOutput="file:$D/$name.out" \
                -p StandardError="file:$D/$name.err" "$@"
}
stat() {
        busctl --system call "$BUS_DEST" "$BUS_PATH" "$BUS_IFACE" GetStatistics |
                tr ' ' '\n' | grep -A1 -x "\"$1\"" | tail -1
}
pinned_ids() {
        local p id
        for p in $(find /sys/fs/bpf/skfastpath -mindepth 1 2>/dev/null | sort); do
                id=$(bpftool map show pinned "$p" 2>/dev/null || bpftool link show pinned "$p" 2>/dev/null)
                echo "${p##*/}=${id%%:*}"
        done | tr '\n' ' '
}
sockops() {
        bpftool cgroup tree "$CG2" | awk '$2 == "cgroup_sock_ops" || $2 == "sock_ops" { print $1 }' | sort | tr '\n' ' '
}
# the tcx links the daemon logged, as attached by the first process or taken over by the second
tcx_links() { # SINCE
        journalctl -u skfastpathd.service --since "$1" -o cat --no-pager |
                sed -n 's/.*(tcx link \([0-9]*\), program [0-9]*).*/\1/p' | sort -n | tr '\n' ' '
}
wait_for_line() { # FILE PATTERN
        for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
        return 1
}
ended() { # UNIT: the transient unit's process has exited
        for _ in $(seq 300); do
                [ "$(systemctl show -P SubState "$1" 2>/dev/null)" != running ] && return 0
                sleep 0.05
        done
        return 1
}

before=$(snapshot)
t_start=$(date '+%Y-%m-%d %H:%M:%S')
check "socket started" systemctl start skfastpathd.socket
check "service started" systemctl start skfastpathd.service
wait_state skfastpathd.service active 100 || die "skfastpathd.service did not start"
sleep 0.5   # the first rtnetlink dump attaches skfp-c0

run_unit skfp-fp-server "$STREAM" serve 18080
wait_for_line "$D/skfp-fp-server.out" ready || die "the local server did not start"
run_unit skfp-fp-client "$STREAM" stream 127.0.0.1 18080 120 "$D/fp.progress" "$D/stop"
run_unit skfp-relay-client "$STREAM" stream 198.18.0.10 7 120 "$D/relay.progress" "$D/stop"
run_unit skfp-held "$STREAM" hold 198.18.0.10 7 "$HELD" "$D/held.ready" "$D/held.go" 120
# Outside the container's cgroups (sockops does not see it): plain TCP, whose flow control makes
# the relay hold unwritten bytes when nobody reads. A fastpath peer would not push back at all.
"$STREAM" burst 198.18.0.10 7 "$D/burst.ready" "$D/held.go" 120 >"$D/skfp-burst.out" 2>&1 &
BURST=$!
check "fastpath stream flowing" stream_moving "$D/fp.progress"
check "relayed stream flowing" stream_moving "$D/relay.progress"
for _ in $(seq 200); do [ -e "$D/held.ready" ] && break; sleep 0.05; done
check "$HELD idle relayed connections open" test -e "$D/held.ready"
for _ in $(seq 200); do [ -e "$D/burst.ready" ] && break; sleep 0.05; done
check "a relayed connection with every buffer full (the relay holds unwritten bytes)" test -e "$D/burst.ready"
active=$(stat relayed-connections)
r0=$(stat fastpath-redirects)
sleep 0.3
r1=$(stat fastpath-redirects)
check "the fastpath stream is redirected ($r0 -> $r1)" test "$r1" -gt "$r0"
ids=$(pinned_ids)
ops=$(sockops)
links=$(tcx_links "$t_start")
pid=$(main_pid)
echo "     pinned: $ids"
echo "     sockops: $ops; tcx links: $links"

t_restart=$(date '+%Y-%m-%d %H:%M:%S')
t0=$(date +%s%3N)
check "systemctl restart" systemctl restart skfastpathd.service
took=$(($(date +%s%3N) - t0))
check "active again, a new process" test "$(unit_state skfastpathd.service)" = active -a "$(main_pid)" != "$pid"
echo "     restart took ${took} ms"
log=$(journalctl -u skfastpathd.service --since "$t_restart" -o cat --no-pager)
handed=$(sed -n 's/^Handed \([0-9]*\) relayed connection(s) with \([0-9]*\) unwritten bytes.*/\1 \2/p' <<<"$log")
taken=$(sed -n 's/^Took over \([0-9]*\) relayed connection(s).*/\1/p' <<<"$log")
echo "     handed over: ${handed:-nothing} (connections, unwritten bytes); taken over: ${taken:-none}"
check "the old process handed $((HELD + 2)) relayed connections over" test "${handed%% *}" = "$((HELD + 2))"
check "... with the bytes it had read and not written (${handed##* })" test "${handed##* }" -gt 0
check "the new process took them over" test "$taken" = "$((HELD + 2))"
check "the same pinned maps and link, re-pinned and adopted ($(pinned_ids))" test "$(pinned_ids)" = "$ids"
check "one sockops program, not a second ($(sockops))" test "$(wc -w <<<"$(sockops)")" -eq 1
check "the same tcx links, taken over, none added ($(tcx_links "$t_restart"))" \
        test "$(tcx_links "$t_restart")" = "$links"
check "the store was emptied by the new process" grep -q 'Released the service manager' <<<"$log"
# (the container inherits the host's hard RLIMIT_NOFILE, which may be below LimitNOFILE=65536)
warnings=$(journalctl -u skfastpathd.service --since "$t_restart" -p warning -o cat --no-pager |
        grep -v '^The file descriptor limit [0-9]* is below' || true)
check "no warnings from either process about the restart${warnings:+: $warnings}" test -z "$warnings"

check "the fastpath stream flows after the restart" stream_moving "$D/fp.progress"
check "the relayed stream flows after the restart" stream_moving "$D/relay.progress"
a=$(stat fastpath-redirects)
sleep 0.3
b=$(stat fastpath-redirects)
check "still on the fastpath: counters adopted and moving ($r1 .. $a -> $b)" test "$a" -ge "$r1" -a "$b" -gt "$a"

touch "$D/held.go"
ended skfp-held
echo "     held: $(cat "$D/skfp-held.out")"
check "all $HELD idle relayed connections kept, each echoing and ending cleanly" \
        grep -q "^ok kept=$HELD " "$D/skfp-held.out"
wait "$BURST"
echo "     burst: $(cat "$D/skfp-burst.out")"
check "the full connection's echo is byte-exact, the relay's unwritten bytes included" \
        grep -q "^ok burst " "$D/skfp-burst.out"
touch "$D/stop"
ended skfp-fp-client
ended skfp-relay-client
echo "     fastpath stream: $(cat "$D/skfp-fp-client.out")"
echo "     relayed stream: $(cat "$D/skfp-relay-client.out")"
check "fastpath stream byte-exact across the restart" grep -q '^ok sent=' "$D/skfp-fp-client.out"
check "relayed stream byte-exact across the restart" grep -q '^ok sent=' "$D/skfp-relay-client.out"
echo "     relayed connections before the restart: $active (counted by the old process)"
systemctl stop skfp-fp-server.service 2>/dev/null

# a stop (not a restart) closes relayed connections with a FIN: one client on the fastpath,
# one on plain TCP
run_unit skfp-eof "$STREAM" wait-eof 198.18.0.10 7 30 "$D/eof1.ready"
"$STREAM" wait-eof 198.18.0.10 7 30 "$D/eof2.ready" >"$D/eof2.out" 2>&1 &
EOF2=$!
for _ in $(seq 200); do [ -e "$D/eof1.ready" ] && [ -e "$D/eof2.ready" ] && break; sleep 0.05; done
check "two relayed connections open at the stop" test -e "$D/eof1.ready" -a -e "$D/eof2.ready"
check "systemctl stop" systemctl stop skfastpathd.service
ended skfp-eof
wait "$EOF2"
check "relayed clients read EOF at the stop, not a reset ($(cat "$D/skfp-eof.out"); $(cat "$D/eof2.out"))" \
        grep -q '^eof' "$D/skfp-eof.out" "$D/eof2.out"
check "... both" test "$(cat "$D/skfp-eof.out" "$D/eof2.out" | grep -c '^eof')" = 2
check "clean exit (Result=$(systemctl show -P Result skfastpathd.service))" \
        test "$(systemctl show -P Result skfastpathd.service)" = success
unchanged "$before" "$(snapshot)" "after the stop (rules, routes, sysctls, BPF attachments, pins)"
gone=1
for l in $links; do bpftool link show id "$l" >/dev/null 2>&1 && gone=0; done
check "the tcx links are gone" test "$gone" = 1
systemctl stop skfastpathd.socket
world_down
finish
