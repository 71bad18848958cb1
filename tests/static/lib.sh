# shellcheck shell=bash
# Shared by the static checks: ok/fail/check, skip and finish (tests/lib/check.sh) and the installed tree.
SKFP_TOP=${SKFP_SOURCE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SKFP_BUILD=${SKFP_BUILD_ROOT:-$SKFP_TOP/build}
# shellcheck source-path=SCRIPTDIR source=../lib/check.sh
. "$SKFP_TOP/tests/lib/check.sh"

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

indent() {
        sed 's/^/       /'
}
