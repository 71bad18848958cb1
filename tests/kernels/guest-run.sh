#!/usr/bin/env bash
# Runs in the kernels suite's guest (from guest-init.sh): the integration tests named in $1,
# "BUILD_ROOT:EXPECTED_MODE:test-a,test-b", from the host's tree, each with its output and a line
# "SKFP_TEST NAME RC" on the console. Exits with the number of failed tests (77 when all skipped).
set -u
IFS=: read -r build mode tests <<<"$1"
top=$(cd "$(dirname "$0")/../.." && pwd)
export SKFP_SOURCE_ROOT=$top SKFP_BUILD_ROOT=$build SKFP_EXPECT_ATTACH_MODE=$mode
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
failed=0 skipped=0 n=0
for t in ${tests//,/ }; do
        n=$((n + 1))
        s=$(cut -d' ' -f1 /proc/uptime)
        timeout 600 bash "$top/tests/integration/$t.sh" </dev/null 2>&1
        rc=$?
        e=$(cut -d' ' -f1 /proc/uptime)
        echo "SKFP_TEST $t $rc $(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.1fs", e - s }')"
        case $rc in
        0) ;;
        77) skipped=$((skipped + 1)) ;;
        *) failed=$((failed + 1)) ;;
        esac
done
[ "$failed" -eq 0 ] && [ "$skipped" -eq "$n" ] && exit 77
exit "$failed"
