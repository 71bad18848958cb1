# shellcheck shell=bash
# The system tier: the installed units under a real systemd in a container (TESTING.md).
#
#   . tests/system/lib.sh
#   skfp_sys_init NAME        # T (scratch dir), an EXIT trap; skips (77) when it cannot run
#   skfp_sys_install          # meson install --destdir into the build dir: $DESTDIR
#   skfp_sys_deb              # or the Debian package of the tree (built once, cached): $SKFP_SYS_DEB,
#                             # bound at /skfp-deb/ (nothing installed: the scenario runs apt-get)
#   skfp_sys_boot             # boots the cached rootfs with $DESTDIR bound in: $LEADER (its PID 1)
#   skfp_sys_run CMD...       # runs CMD inside the container (all its namespaces)
#   skfp_sys_scenario NAME    # runs tests/system/scenarios/NAME.sh inside; returns its code
#   skfp_sys_cleanup          # stops the container, removes its cgroups, pins and files
#
# Isolation from the host and from the other helpers' tests:
# - --private-network: the container has its own loopback and nothing else;
# - nspawn runs inside a cgroup of our own (skfp-system-PID in the unified and the name=systemd
#   hierarchies): on a host without systemd it would otherwise create payload/ and supervisor/
#   in the root cgroup; the container's cgroup namespace root is below ours, so BPF attached to
#   "the root cgroup" inside the container lands in our subtree only;
# - its bpffs is a directory of ours, /sys/fs/bpf/skfastpath/skfp-system-PID, bound at /sys/fs/bpf
#   (nspawn mounts no bpffs of its own);
# - --volatile=overlay: the cached rootfs tree is never written (a tmpfs takes the changes), so
#   every scenario boots the same clean system and nothing needs deleting afterwards.
#
# Capabilities granted to the container on top of nspawn's defaults (which already keep
# CAP_SYS_ADMIN and, with --private-network, CAP_NET_ADMIN): CAP_BPF and CAP_PERFMON, the ones
# skfastpathd.service asks for. Nothing else is needed (the bpf() system call is allowed by
# nspawn's seccomp filter once CAP_SYS_ADMIN or CAP_BPF is kept).

SKFP_TOP=${SKFP_SOURCE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SKFP_BUILD=${SKFP_BUILD_ROOT:-$SKFP_TOP/build}
SKFP_SYS_CAPS=${SKFP_SYS_CAPS-CAP_BPF,CAP_PERFMON}
SKFP_SYS_SYSCALLS=${SKFP_SYS_SYSCALLS-bpf}

skfp_skip() {
        echo "SKIP: $*"
        exit 77
}

skfp_sys_init() {
        local name=$1 rc=0
        [ "$(id -u)" -eq 0 ] || skfp_skip "the system tier needs root"
        command -v systemd-nspawn >/dev/null || skfp_skip "systemd-nspawn is not installed (systemd-container)"
        if [ -d /run/systemd/system ]; then
                # Under a systemd host nspawn would register with machined; --keep-unit still
                # works, but this tier is written for (and tested on) hosts without one.
                :
        fi
        SKFP_SYS_NAME="skfp-system-$name-$$"
        T=$(mktemp -d "/tmp/$SKFP_SYS_NAME.XXXXXX")
        trap skfp_sys_cleanup EXIT
        trap 'exit 130' INT TERM
        ROOTFS=$("$SKFP_TOP/tests/system/rootfs.sh") || rc=$?
        [ "$rc" -eq 77 ] && skfp_skip "no rootfs: debootstrap cannot reach Debian's packages"
        [ "$rc" -eq 0 ] || { echo "FAIL: building the rootfs failed ($rc)"; exit 1; }
}

# One install tree per build directory; concurrent tests take turns.
skfp_sys_install() {
        DESTDIR="$SKFP_BUILD/system-destdir"
        (
                flock 9
                rm -rf "$DESTDIR"
                meson install -C "$SKFP_BUILD" --no-rebuild --quiet --destdir "$DESTDIR" >"$T/install.log" 2>&1 ||
                        { cat "$T/install.log" >&2; exit 1; }
        ) 9>"$SKFP_BUILD/.system-destdir.lock"
}

# The .deb of this source tree (scripts/package), built once per tree state and kept in the
# build directory under a key of every file's content (git's view: tracked and new files, not
# ignored ones), so that a rerun of the suite, or of the scenario, builds nothing. SKFP_DEB=PATH
# takes a .deb built elsewhere instead. Skips (77) when the build tools are missing.
skfp_sys_deb() {
        local key dir
        DESTDIR=
        if [ -n "${SKFP_DEB:-}" ]; then
                [ -f "$SKFP_DEB" ] || { echo "FAIL: SKFP_DEB=$SKFP_DEB is not a file"; exit 1; }
                SKFP_SYS_DEB=$(readlink -f "$SKFP_DEB")
                return 0
        fi
        command -v dpkg-buildpackage >/dev/null || skfp_skip "no dpkg-buildpackage to build the package (dpkg-dev; scripts/bootstrap)"
        [ -e /usr/share/perl5/Debian/Debhelper/Buildsystem/meson.pm ] ||
                skfp_skip "no debhelper to build the package (scripts/bootstrap)"
        (cd "$SKFP_TOP" && dpkg-checkbuilddeps >/dev/null 2>&1) ||
                skfp_skip "the package's build dependencies are missing: $(cd "$SKFP_TOP" && dpkg-checkbuilddeps 2>&1 | sed 's/^.*: //')"
        if git -C "$SKFP_TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
                key=$(cd "$SKFP_TOP" && git ls-files -z --cached --others --exclude-standard | sort -zu |
                        while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
                        xargs -0 sha256sum | sha256sum | cut -c1-16)
        else
                key=$(cd "$SKFP_TOP" && find . -path './build*' -prune -o -path ./.git -prune -o -type f -print0 |
                        sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
        fi
        dir="$SKFP_BUILD/system-deb/$key"
        (
                flock 9
                if ! ls "$dir"/skfastpath_*.deb >/dev/null 2>&1; then
                        rm -rf "$SKFP_BUILD/system-deb"/*/
                        local t0=$SECONDS
                        "$SKFP_TOP/scripts/package" --no-deps --no-lintian --output "$dir.tmp" >"$T/package.log" 2>&1 ||
                                { cat "$T/package.log"; echo "FAIL: scripts/package failed"; exit 1; }
                        mv "$dir.tmp" "$dir"
                        echo "built the package in $((SECONDS - t0)) s ($key)"
                fi
        ) 9>"$SKFP_BUILD/.system-deb.lock" || exit 1
        local debs=("$dir"/skfastpath_*_*.deb)   # not skfastpath-dbgsym_*
        SKFP_SYS_DEB=${debs[0]}
}

skfp_cgroup2_root() {
        awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo
}

skfp_cgroup1_systemd_root() {
        awk '$9 == "cgroup" && $NF ~ /name=systemd/ { print $5; exit }' /proc/self/mountinfo
}

skfp_sys_boot() {
        local binds=() f rel i cg2 cg1

        # every installed file at its own path; or the package, to be installed inside
        if [ -n "${DESTDIR:-}" ]; then
                while IFS= read -r -d '' f; do
                        rel=${f#"$DESTDIR"}
                        binds+=("--bind-ro=$f:$rel")
                done < <(find "$DESTDIR" \( -type f -o -type l \) -print0)
        fi
        [ -n "${SKFP_SYS_DEB:-}" ] && binds+=("--bind-ro=$SKFP_SYS_DEB:/skfp-deb/${SKFP_SYS_DEB##*/}")
        binds+=("--bind-ro=$SKFP_TOP/tests/system/scenarios:/skfp-test")
        # the helpers shared with the host's tests (check.sh, stream.sh): /skfp-lib
        binds+=("--bind-ro=$SKFP_TOP/tests/lib:/skfp-lib")
        # test helpers built for the scenarios (not installed): /skfp-bin/NAME
        for f in "$SKFP_BUILD"/tests/*/skfp-*; do
                [ -f "$f" ] && [ -x "$f" ] && binds+=("--bind-ro=$f:/skfp-bin/${f##*/}")
        done
        # the scenarios read BPF attachments with the host's bpftool (its libraries are in the rootfs)
        f=$(command -v bpftool || true)
        [ -n "$f" ] && binds+=("--bind-ro=$(readlink -f "$f"):/usr/local/sbin/bpftool")

        SKFP_SYS_PIN="/sys/fs/bpf/skfastpath/$SKFP_SYS_NAME"
        if ! mountpoint -q /sys/fs/bpf; then
                mount -t bpf bpffs /sys/fs/bpf
        fi
        mkdir -p "$SKFP_SYS_PIN"
        binds+=("--bind=$SKFP_SYS_PIN:/sys/fs/bpf")

        cg2=$(skfp_cgroup2_root)
        cg1=$(skfp_cgroup1_systemd_root)
        [ -n "$cg2" ] && SKFP_SYS_CG2="$cg2/$SKFP_SYS_NAME" && mkdir -p "$SKFP_SYS_CG2"
        [ -n "$cg1" ] && SKFP_SYS_CG1="$cg1/$SKFP_SYS_NAME" && mkdir -p "$SKFP_SYS_CG1"

        (
                [ -n "${SKFP_SYS_CG2:-}" ] && echo "$BASHPID" >"$SKFP_SYS_CG2/cgroup.procs"
                [ -n "${SKFP_SYS_CG1:-}" ] && echo "$BASHPID" >"$SKFP_SYS_CG1/cgroup.procs"
                exec systemd-nspawn -D "$ROOTFS" -M "$SKFP_SYS_NAME" -b --register=no --keep-unit \
                        --console=pipe --volatile=overlay --private-network \
                        --capability="$SKFP_SYS_CAPS" --system-call-filter="$SKFP_SYS_SYSCALLS" "${binds[@]}" </dev/null
        ) >"$T/console.log" 2>&1 &
        SKFP_SYS_NSPAWN=$!

        LEADER=
        for i in $(seq 100); do
                LEADER=$(pgrep -P "$SKFP_SYS_NSPAWN" -x systemd || true)
                [ -n "$LEADER" ] && break
                kill -0 "$SKFP_SYS_NSPAWN" 2>/dev/null || break
                sleep 0.05
        done
        if [ -z "$LEADER" ]; then
                echo "FAIL: the container did not start:"
                cat "$T/console.log"
                return 1
        fi
        # the manager's bus appears a moment after exec; then wait for the boot to finish
        local state=
        for i in $(seq 200); do
                [ -S "/proc/$LEADER/root/run/systemd/private" ] && break
                kill -0 "$LEADER" 2>/dev/null || break
                sleep 0.05
        done
        state=$(timeout 60 nsenter -t "$LEADER" -a systemctl is-system-running --wait 2>&1 || true)
        if [ "$state" != running ]; then
                echo "FAIL: the container's systemd is '$state':"
                nsenter -t "$LEADER" -a systemctl --failed --no-pager || true
                cat "$T/console.log"
                return 1
        fi
}

skfp_sys_run() {
        nsenter -t "$LEADER" -a "$@"
}

skfp_sys_scenario() {
        local name=$1 rc=0
        local version
        version=$("$SKFP_BUILD/daemon/skfastpathd" --version | awk '{ print $2 }')
        skfp_sys_run env SKFP_SCENARIO="$name" SKFP_VERSION="$version" /bin/bash "/skfp-test/$name.sh" || rc=$?
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
                echo "--- journal of the container (last 60 lines)"
                skfp_sys_run journalctl --no-pager -n 60 -o short-monotonic 2>&1 || true
        fi
        return $rc
}

skfp_sys_cleanup() {
        local i
        if [ -n "${SKFP_SYS_NSPAWN:-}" ]; then
                kill -TERM "$SKFP_SYS_NSPAWN" 2>/dev/null || true
                for i in $(seq 100); do
                        kill -0 "$SKFP_SYS_NSPAWN" 2>/dev/null || break
                        [ "$i" -eq 60 ] && kill -TERM "$SKFP_SYS_NSPAWN" 2>/dev/null
                        sleep 0.05
                done
                kill -KILL "$SKFP_SYS_NSPAWN" 2>/dev/null || true
                wait "$SKFP_SYS_NSPAWN" 2>/dev/null || true
                SKFP_SYS_NSPAWN=
        fi
        # our cgroups: kill what is left (nothing, normally), then remove them bottom-up
        if [ -n "${SKFP_SYS_CG2:-}" ] && [ -d "$SKFP_SYS_CG2" ]; then
                [ -e "$SKFP_SYS_CG2/cgroup.kill" ] && echo 1 >"$SKFP_SYS_CG2/cgroup.kill" 2>/dev/null
                for i in $(seq 20); do
                        find "$SKFP_SYS_CG2" -depth -type d -exec rmdir {} + 2>/dev/null
                        [ -d "$SKFP_SYS_CG2" ] || break
                        sleep 0.05
                done
        fi
        if [ -n "${SKFP_SYS_CG1:-}" ] && [ -d "$SKFP_SYS_CG1" ]; then
                for i in $(seq 20); do
                        find "$SKFP_SYS_CG1" -depth -type d -exec rmdir {} + 2>/dev/null
                        [ -d "$SKFP_SYS_CG1" ] || break
                        sleep 0.05
                done
        fi
        if [ -n "${SKFP_SYS_PIN:-}" ]; then
                rm -rf "$SKFP_SYS_PIN" 2>/dev/null || true
                rmdir /sys/fs/bpf/skfastpath 2>/dev/null || true
        fi
        if [ -n "${T:-}" ] && [ -d "$T" ] && [ -z "${SKFP_KEEP:-}" ]; then
                rm -rf "$T"
        fi
        SKFP_SYS_CG1='' SKFP_SYS_CG2='' SKFP_SYS_PIN='' T=''
        return 0
}
