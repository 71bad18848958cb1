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

# install_tree NAME: meson install --destdir into a directory of the build tree of this test's
# own (tests run in parallel), printed.
install_tree() {
        local dest="$SKFP_BUILD/static-destdir/$1" log
        log=$(mktemp)
        rm -rf "$dest"
        if ! meson install -C "$SKFP_BUILD" --no-rebuild --quiet --destdir "$dest" >"$log" 2>&1; then
                cat "$log" >&2
                rm -f "$log"
                return 1
        fi
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
