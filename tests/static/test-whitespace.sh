#!/usr/bin/env bash
# The layout rules of .editorconfig that a machine can check without reformatting anything: C
# sources, headers, meson files and shell scripts indent with spaces (no tab anywhere), and no text
# file of ours has trailing whitespace or lacks its final newline. (There is no .clang-format: the
# code's line breaks are chosen by hand, see README.md.) To see the offending lines:
#   $ grep -rnP '\t| +$' common daemon ctl bpf tests bench scripts --include='*.[ch]' --include='*.sh'
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

cd "$SKFP_TOP" || exit 1

# Ours: every source folder, without vendored (bpf/vmlinux), generated (bench/results, not in
# git) or binary (fuzz corpora) files.
mapfile -t files < <(find common daemon ctl bpf dbus man units tests bench scripts meson.build \
                meson_options.txt README.md -type f \
                -not -path 'bpf/vmlinux/*' -not -path 'bench/results/*' -not -path 'tests/fuzz/corpus/*' \
                -not -path 'tests/fuzz/regressions/*' -not -name '*.png' -not -name '*.svg' \
                -not -name '*.pyc' 2>/dev/null | sort)

bad=0
for f in "${files[@]}"; do
        case "$f" in
        *.c | *.h | *.sh | */meson.build | meson.build | scripts/*)
                if grep -nP '\t' "$f" | head -n3 | sed "s|^|$f:|" | grep .; then
                        bad=$((bad + 1))
                fi
                ;;
        esac
        if grep -nP ' +$' "$f" | head -n3 | sed "s|^|$f: trailing whitespace: |" | grep .; then
                bad=$((bad + 1))
        fi
        if [ -s "$f" ] && [ "$(tail -c1 "$f" | od -An -c | tr -d ' ')" != '\n' ]; then
                echo "$f: no newline at the end"
                bad=$((bad + 1))
        fi
done

if [ "$bad" -eq 0 ]; then
        ok "whitespace: ${#files[@]} files: no tabs in code, no trailing blanks, final newlines"
else
        fail "whitespace: $bad problems (above)"
fi
finish
