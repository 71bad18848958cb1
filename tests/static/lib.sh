# shellcheck shell=bash
# Shared by the static checks: ok/fail counting and the installed tree.
SKFP_TOP=${SKFP_SOURCE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SKFP_BUILD=${SKFP_BUILD_ROOT:-$SKFP_TOP/build}
PASSED=0
FAILED=0

ok() {
        echo "ok   $*"
        PASSED=$((PASSED + 1))
}

fail() {
        echo "FAIL $*"
        FAILED=$((FAILED + 1))
}

skip() {
        echo "SKIP: $*"
        exit 77
}

finish() {
        echo "$PASSED passed, $FAILED failed"
        [ "$FAILED" -eq 0 ]
        exit $?
}

# meson install --destdir into a directory of the build tree, printed; concurrent callers wait.
install_tree() {
        local dest="$SKFP_BUILD/static-destdir" log
        log=$(mktemp)
        (
                flock 9
                rm -rf "$dest"
                meson install -C "$SKFP_BUILD" --no-rebuild --quiet --destdir "$dest" >"$log" 2>&1 ||
                        { cat "$log" >&2; exit 1; }
        ) 9>"$SKFP_BUILD/.static-destdir.lock" || { rm -f "$log"; return 1; }
        rm -f "$log"
        echo "$dest"
}

# check DESCRIPTION CMD...: ok when CMD succeeds
check() {
        local what=$1
        shift
        if "$@"; then ok "$what"; else fail "$what"; fi
}

indent() {
        sed 's/^/       /'
}
