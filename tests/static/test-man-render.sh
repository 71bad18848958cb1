#!/usr/bin/env bash
# Every man page renders without a single warning (man --warnings returns 0 even with
# warnings, so any output on stderr fails).
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v man >/dev/null || skip "man (man-db) is not installed"
pages=(man/skfastpathd.8 man/skfastpathctl.1 man/skfastpathd.conf.5 man/org.skfastpath1.5)
for p in "${pages[@]}"; do
        [ -f "$SKFP_BUILD/$p" ] || skip "$p was not built (scdoc missing?)"
done
for p in "${pages[@]}"; do
        err=$(MANWIDTH=80 man --warnings -l -Tutf8 -Z "$SKFP_BUILD/$p" 2>&1 >/dev/null)
        if [ -n "$err" ]; then
                fail "$p renders with warnings:"
                indent <<<"$err"
                continue
        fi
        # a page that rendered to (almost) nothing would pass the above
        lines=$(MANWIDTH=80 man -l "$SKFP_BUILD/$p" 2>/dev/null | wc -l)
        if [ "$lines" -lt 40 ]; then
                fail "$p renders to only $lines lines"
                continue
        fi
        ok "$p renders cleanly ($lines lines)"
done
finish
