# shellcheck shell=bash
# Helpers for the scenarios, which run inside the booted container as root (tests/system/lib.sh
# starts them with nsenter). Each scenario prints "ok"/"FAIL" lines and a closing
# "N passed, N failed" line; it exits 77 with a reason when a feature it needs is not built yet.
set -uo pipefail

# shellcheck source=../../lib/check.sh
. /skfp-lib/check.sh
# shellcheck source=../../lib/stream.sh
. /skfp-lib/stream.sh

BUS_DEST=org.skfastpath1
BUS_PATH=/org/skfastpath1
BUS_IFACE=org.skfastpath1.Manager

# A fatal failure: the rest of the scenario cannot run.
die() {
        fail "$*"
        echo "--- skfastpathd journal"
        journalctl -u skfastpathd.service -u skfastpathd.socket --no-pager -o short-monotonic | tail -n 40
        finish
}

unit_state() {
        systemctl show -P ActiveState "$1"
}

main_pid() {
        systemctl show -P MainPID skfastpathd.service
}

# wait_state UNIT STATE [TENTHS]: polls until the unit is in STATE (default 10 s)
wait_state() {
        local unit=$1 want=$2 n=${3:-100} i
        for ((i = 0; i < n; i++)); do
                [ "$(unit_state "$unit")" = "$want" ] && return 0
                sleep 0.1
        done
        return 1
}

# The config the scenarios run with: built-in defaults plus debug logging, unless a scenario
# writes its own first.
skfp_write_config() {
        mkdir -p /etc/skfastpath
        cat >/etc/skfastpath/skfastpathd.conf
}

# intercept_config INTERFACE PORTS: the config of a scenario that intercepts PORTS on INTERFACE
# (skfp-c0 is the one world_up makes), with debug logging.
intercept_config() {
        skfp_write_config <<CONF
[Intercept]
Interfaces=$1
Ports=$2
[Manager]
LogLevel=debug
CONF
}

# unchanged BEFORE AFTER WHAT: ok "nothing left behind WHAT" when the snapshots match, else FAIL
# with the lines that differ (< before, > after)
unchanged() {
        if [ "$1" = "$2" ]; then
                ok "nothing left behind $3"
        else
                fail "left behind $3 (< before, > after):"
                diff <(echo "$1") <(echo "$2") | sed -n 's/^\([<>]\) /       \1 /p'
        fi
}

# Introspection of the running daemon (it activates it as a side effect).
bus_introspect() {
        busctl --system introspect --xml-interface "$BUS_DEST" "$BUS_PATH" 2>/dev/null
}

# has_member NAME: the running daemon's org.skfastpath1.Manager has a method or property NAME.
has_member() {
        bus_introspect | grep -qE "<(method|property) name=\"$1\""
}

# require_members NAME...: skip (77) unless every member is in the daemon's introspection.
require_members() {
        local m missing=()
        for m in "$@"; do
                has_member "$m" || missing+=("$m")
        done
        [ ${#missing[@]} -eq 0 ] ||
                skip "org.skfastpath1.Manager has no ${missing[*]} yet (the D-Bus API is not built in this tree)"
}

get_property() {
        busctl --system get-property "$BUS_DEST" "$BUS_PATH" "$BUS_IFACE" "$1"
}

# holds_listener PID ADDR:PORT: PID has the listening socket ADDR:PORT open (passed by systemd)
holds_listener() {
        ss -Hltnp "src $2" 2>/dev/null | grep -q "pid=$1,"
}

# tcp_connect HOST PORT: opens and closes a TCP connection (bash's /dev/tcp: no extra tools)
tcp_connect() {
        timeout 5 bash -c "exec 3<>/dev/tcp/$1/$2 && exec 3>&-"
}

# world_up: a network namespace "skfp-world" behind the veth skfp-c0 (198.19.0.1/24 here,
# 198.19.0.2 there) with 198.18.0.10 on its lo and /skfp-bin/skfp-stream's echo server on port 7
# (tests/reliability); world_down removes it. skfp-c0 gets no link-local address, whose route
# would appear at some random later moment.
world_up() {
        WORLD_NS=skfp-world
        [ -x /skfp-bin/skfp-stream ] || skip "no /skfp-bin/skfp-stream (tests/reliability is not built)"
        ip netns add "$WORLD_NS" || skip "cannot create a network namespace in the container"
        ip link add skfp-c0 type veth peer name skfp-w0 netns "$WORLD_NS"
        ip addr add 198.19.0.1/24 dev skfp-c0
        ip link set skfp-c0 addrgenmode none
        ip link set skfp-c0 up
        ip -n "$WORLD_NS" addr add 198.19.0.2/24 dev skfp-w0
        ip -n "$WORLD_NS" addr add 198.18.0.10/32 dev lo
        ip -n "$WORLD_NS" link set lo up
        ip -n "$WORLD_NS" link set skfp-w0 up
        ip route add 198.18.0.10/32 via 198.19.0.2 dev skfp-c0
        mkdir -p /run/skfp-test
        ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)"
        nsenter --net="/run/netns/$WORLD_NS" /skfp-bin/skfp-stream serve 7 >/run/skfp-test/world.out 2>&1 &
        WORLD_PID=$!
        for _ in $(seq 100); do
                grep -q ready /run/skfp-test/world.out && return 0
                sleep 0.05
        done
        die "the world's echo server did not start"
}

world_down() {
        kill "$WORLD_PID" 2>/dev/null
        ip netns del "$WORLD_NS" 2>/dev/null
        ip link del skfp-c0 2>/dev/null
        return 0
}
