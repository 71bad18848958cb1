# shellcheck shell=bash
# Checks for the shell tests, one line each:
#   check DESCRIPTION CMD...   runs CMD: "ok   DESCRIPTION" or "FAIL DESCRIPTION"
#   ok DESCRIPTION / fail DESCRIPTION   a result decided by the caller
#   checks_summary             "N passed, M failed"; fails when any check failed
#   finish                     checks_summary, and exit with its result
#   skip REASON                "SKIP: REASON", exit 77 (the test cannot run here)
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

finish() {
        checks_summary
        exit $?
}

skip() {
        echo "SKIP: $*"
        exit 77
}
