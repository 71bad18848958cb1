# shellcheck shell=bash
# Runs the real skfastpathd for a test, isolated from the host and from other tests:
# its own network namespace, cgroup, bpffs pin directory, state directory and private bus.
#
#   . tests/lib/daemon.sh
#   skfp_env_init NAME            # T (scratch dir), NS (netns, created with lo up),
#                                 # CG (cgroup2 dir), PIN (pin dir); installs an EXIT trap
#   skfp_config <<EOF ... EOF     # extra config lines, appended after the isolating defaults
#   skfp_daemon_start [ARGS]      # starts it in $NS on the private bus, waits for the bus name
#   skfp_daemon_stop              # SIGTERM and wait; returns the daemon's exit code
#   skfp_busctl ARGS              # busctl on the private bus
#   skfp_cleanup                  # everything above is undone (also run by the EXIT trap)
# In a sanitized build (SKFP_SANITIZE, set by tests/meson.build) every program the test starts
# writes its sanitizer reports to $T/sanitizer.PID (or its log in $T); the EXIT trap prints them
# and fails the test.
# Callers may append their own cleanup to SKFP_CLEANUP_HOOKS (commands run first, in order).

SKFP_TOP=${SKFP_SOURCE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SKFP_BUILD=${SKFP_BUILD_ROOT:-$SKFP_TOP/build}
# shellcheck source=private-bus.sh
. "$SKFP_TOP/tests/lib/private-bus.sh"
# shellcheck source=check.sh
. "$SKFP_TOP/tests/lib/check.sh"

skfp_skip() {
        echo "SKIP: $*"
        exit 77
}

skfp_require_root() {
        [ "$(id -u)" -eq 0 ] || skfp_skip "needs root"
        [ -e /sys/kernel/btf/vmlinux ] || skfp_skip "kernel has no BTF"
}

skfp_cgroup2_root() {
        awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo
}

skfp_env_init() {
        local name=$1 cg2
        skfp_require_root
        SKFP_NAME="skfp-$name-$$"
        T=$(mktemp -d "/tmp/$SKFP_NAME.XXXXXX")
        NS=$SKFP_NAME
        SKFP_CLEANUP_HOOKS=()
        trap skfp_exit EXIT
        if [ -n "${SKFP_SANITIZE:-}" ]; then
                export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}log_path=$T/sanitizer"
                export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}${UBSAN_OPTIONS:+:}log_path=$T/sanitizer"
        fi
        trap 'exit 130' INT TERM
        ip netns add "$NS"
        ip -n "$NS" link set lo up
        cg2=$(skfp_cgroup2_root)
        [ -n "$cg2" ] || skfp_skip "no cgroup2 mount"
        CG="$cg2/$SKFP_NAME"
        mkdir -p "$CG"
        if ! mountpoint -q /sys/fs/bpf; then
                mount -t bpf bpffs /sys/fs/bpf
        fi
        PIN="/sys/fs/bpf/skfastpath/$SKFP_NAME"
        mkdir -p "$T/state"
        cat >"$T/skfastpathd.conf" <<CONF
[Fastpath]
CgroupPath=$CG
[Manager]
PinDirectory=$PIN
StateDirectory=$T/state
LogLevel=debug
CONF
        skfp_bus_start "$T/bus"
}

skfp_config() {
        cat >>"$T/skfastpathd.conf"
}

skfp_busctl() {
        busctl --system "$@"
}

skfp_daemon_start() {
        nsenter --net="/run/netns/$NS" "$SKFP_BUILD/daemon/skfastpathd" --config="$T/skfastpathd.conf" "$@" \
                >"$T/daemon.log" 2>&1 &
        SKFP_DAEMON_PID=$!
        # an answered call, not the name: the name is taken before the datapath loads
        if ! skfp_wait_ready "$SKFP_DAEMON_PID" "$T/daemon.log" skfastpathd \
                busctl --system get-property org.skfastpath1 /org/skfastpath1 org.skfastpath1.Manager Version; then
                kill -0 "$SKFP_DAEMON_PID" 2>/dev/null || SKFP_DAEMON_PID=
                return 1
        fi
}

skfp_daemon_stop() {
        local rc=0
        [ -n "${SKFP_DAEMON_PID:-}" ] || return 0
        kill -TERM "$SKFP_DAEMON_PID" 2>/dev/null || true
        wait "$SKFP_DAEMON_PID" || rc=$?
        SKFP_DAEMON_PID=
        return $rc
}

# The EXIT trap: cleans up; a sanitizer report of any program the test started fails the test.
skfp_exit() {
        local rc=$? f found=0
        if [ -n "${SKFP_SANITIZE:-}" ] && [ -n "${T:-}" ]; then
                # a daemon still running reports its leaks when it exits: stop it first (10 s)
                if [ -n "${SKFP_DAEMON_PID:-}" ] && kill -TERM "$SKFP_DAEMON_PID" 2>/dev/null; then
                        for _ in $(seq 100); do
                                case $(awk '{ print $3 }' "/proc/$SKFP_DAEMON_PID/stat" 2>/dev/null) in
                                "" | Z) break ;;
                                esac
                                sleep 0.1
                        done
                fi
                # UBSan writes its "runtime error" to stderr whatever log_path says: search the logs too
                for f in "$T"/sanitizer.* $(grep -rlE 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$T" 2>/dev/null); do
                        [ -e "$f" ] || continue
                        echo "FAIL sanitizer report in $f:"
                        grep -E -A30 'runtime error:|ERROR: (Address|Leak)Sanitizer|SUMMARY:' "$f" | head -60
                        found=1
                done
        fi
        skfp_cleanup
        [ "$found" = 0 ] || exit 1
        exit "$rc"
}

skfp_cleanup() {
        local h
        for h in "${SKFP_CLEANUP_HOOKS[@]}"; do
                eval "$h" || true
        done
        SKFP_CLEANUP_HOOKS=()
        if [ -n "${SKFP_DAEMON_PID:-}" ]; then
                kill -KILL "$SKFP_DAEMON_PID" 2>/dev/null || true
                wait "$SKFP_DAEMON_PID" 2>/dev/null || true
                SKFP_DAEMON_PID=
        fi
        skfp_bus_stop
        if [ -n "${NS:-}" ]; then
                ip netns del "$NS" 2>/dev/null || true
        fi
        if [ -n "${CG:-}" ] && [ -d "$CG" ]; then
                # move stragglers out before removing the cgroup
                while read -r p; do
                        echo "$p" >"$(skfp_cgroup2_root)/cgroup.procs" || true
                done <"$CG/cgroup.procs" 2>/dev/null || true
                rmdir "$CG" 2>/dev/null || true
        fi
        if [ -n "${PIN:-}" ]; then
                rm -rf "$PIN" 2>/dev/null || true
        fi
        rmdir /sys/fs/bpf/skfastpath 2>/dev/null || true
        if [ -n "${T:-}" ] && [ -d "$T" ] && [ -z "${SKFP_KEEP:-}" ]; then
                rm -rf "$T"
        fi
        NS= CG= PIN= T=
        return 0
}
