# shellcheck shell=bash
# Checks for the shell tests, one line each:
#   check DESCRIPTION CMD...   runs CMD: "ok   DESCRIPTION" or "FAIL DESCRIPTION"
#   ok DESCRIPTION / fail DESCRIPTION   a result decided by the caller
#   checks_summary             "N passed, M failed"; fails when any check failed
# SKFP_PASSED and SKFP_FAILED hold the counts.

SKFP_PASSED=0
SKFP_FAILED=0

ok() {
        echo "ok   $*"
        SKFP_PASSED=$((SKFP_PASSED + 1))
}

fail() {
        echo "FAIL $*"
        SKFP_FAILED=$((SKFP_FAILED + 1))
}

check() {
        local what=$1
        shift
        if "$@"; then ok "$what"; else fail "$what"; fi
}

checks_summary() {
        echo "$SKFP_PASSED passed, $SKFP_FAILED failed"
        [ "$SKFP_FAILED" -eq 0 ]
}
