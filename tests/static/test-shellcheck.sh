#!/usr/bin/env bash
# Runs shellcheck over every shell script of scripts/ and tests/, at severity "warning" (errors and
# warnings; "info" and "style" are opinions and left out). Findings listed in shellcheck-known are
# tolerated. To see what this test sees, from the top of the tree:
#   $ shellcheck -x --severity=warning scripts/* $(find tests -name '*.sh')
# Fix a finding, or disable its check for that line with a directive comment above it that says
# why ("shellcheck disable=SC2034" then "# WATCH_PID is used by a cleanup hook").
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v shellcheck >/dev/null || skip "shellcheck is not installed (scripts/bootstrap installs it)"
cd "$SKFP_TOP" || exit 1

mapfile -t files < <({ find scripts -maxdepth 1 -type f; find tests -name '*.sh' -type f; } | sort)
known=$(grep -v '^#' tests/static/shellcheck-known | awk '{ print $1 " " $2 }')

# "FILE:LINE:COL: SEVERITY: TEXT [SCnnnn]", one per finding
out=$(shellcheck -x --severity=warning -f gcc "${files[@]}" 2>&1)
new=0
seen=
while IFS= read -r line; do
        [ -n "$line" ] || continue
        file=${line%%:*}
        code=$(grep -o 'SC[0-9]*' <<<"$line" | tail -n1)
        if grep -qxF "$file $code" <<<"$known"; then
                seen+="$file $code"$'\n'
                continue
        fi
        echo "$line"
        new=$((new + 1))
done <<<"$out"

# an entry whose finding is gone: the line was fixed, the entry can go
while IFS= read -r entry; do
        [ -n "$entry" ] && ! grep -qxF "$entry" <<<"$seen" && echo "note: shellcheck-known: '$entry' no longer found"
done <<<"$known"

if [ "$new" -eq 0 ]; then
        ok "shellcheck: ${#files[@]} scripts, no finding beyond shellcheck-known"
else
        fail "shellcheck: $new findings in ${#files[@]} scripts (above)"
fi
finish
