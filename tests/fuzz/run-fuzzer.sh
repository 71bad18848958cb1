#!/usr/bin/env bash
# One fuzz target in the test suite: run-fuzzer.sh NAME BINARY
#  1. replays every input in tests/fuzz/regressions/NAME/ once (crashes found before),
#  2. fuzzes for a bounded time from a temporary copy of tests/fuzz/corpus/NAME/ (the tree is
#     never written to), with tests/fuzz/NAME.dict when there is one.
# Fails on any crash, leak, sanitizer report, timeout or broken invariant; the input that did it
# is kept in $SKFP_BUILD_ROOT/fuzz-artifacts/NAME/ with the commands to reproduce and keep it.
# Environment: SKFP_FUZZ_SECONDS (default: meson option fuzz_seconds), SKFP_FUZZ_RUNS (a cap on
# executions, default 10000000), SKFP_FUZZ_SEED (default: random, printed).
set -euo pipefail

name=$1
bin=$(realpath "$2")
src=${SKFP_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${SKFP_BUILD_ROOT:-$(pwd)}
seconds=${SKFP_FUZZ_SECONDS:-${SKFP_FUZZ_DEFAULT_SECONDS:-15}}
runs=${SKFP_FUZZ_RUNS:-10000000}
corpus=$src/tests/fuzz/corpus/$name
regressions=$src/tests/fuzz/regressions/$name
dict=$src/tests/fuzz/$name.dict
keep=$build/fuzz-artifacts/$name

# Sanitizer reports must end the process through libFuzzer (which saves the input), not abort().
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}abort_on_error=0:detect_leaks=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}abort_on_error=0:print_stacktrace=1:halt_on_error=1"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/skfp-fuzz-$name.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The sanitizer's or libFuzzer's report from a log, without the parser's own log lines.
report() {
        local out
        out=$(grep -av '^<[0-9]>' "$1" |
              sed -n '/ERROR: \|runtime error\|invariant broken\|deadly signal\|out-of-memory\|timeout/,$p')
        if [ -n "$out" ]; then
                head -n 80 <<<"$out"
        else
                tail -n 40 "$1"
        fi
}

failed() {
        local what=$1 log=$2
        mkdir -p "$keep"
        cp -f "$tmp"/artifacts/* "$keep"/ 2>/dev/null || true
        echo "FAIL fuzz-$name: $what" >&2
        report "$log" >&2
        for a in "$keep"/*; do
                [ -f "$a" ] || continue
                # while fuzzing the target's stderr is closed: replay to show the whole story
                if [ "$log" = "$tmp/fuzz.log" ]; then
                        "$bin" -runs=0 -timeout=10 "$a" >"$tmp/again.log" 2>&1 || true
                        echo "--- replay of $a:" >&2
                        report "$tmp/again.log" >&2
                fi
                echo "  input kept: $a" >&2
                echo "  reproduce:  $bin $a" >&2
                echo "  keep it:    cp $a $regressions/NAME-OF-THE-BUG" >&2
        done
        echo "0 passed, 1 failed"
        exit 1
}

mkdir -p "$tmp/corpus" "$tmp/artifacts"
rm -rf "$keep"     # only this run's findings

# 1. Regressions: each file once, one process per file so the culprit is named (-runs=0 still
# runs a file argument once; LeakSanitizer checks at exit).
mapfile -t inputs < <(find "$regressions" -maxdepth 1 -type f ! -name '*.md' 2>/dev/null | sort)
for input in "${inputs[@]}"; do
        if ! "$bin" -runs=0 -timeout=10 "$input" >"$tmp/replay.log" 2>&1; then
                echo "  reproduce:  $bin $input" >&2
                failed "regression input $(basename "$input") fails again" "$tmp/replay.log"
        fi
done
echo "ok   fuzz-$name: ${#inputs[@]} regression inputs replayed"

# 2. Bounded fuzzing from the seed corpus. stderr of the target is discarded (-close_fd_mask=2:
# the parsers log every rejected line); libFuzzer reports on its own copy of stderr.
cp -r "$corpus"/. "$tmp/corpus"/
seeds=$(find "$tmp/corpus" -type f | wc -l)
args=(-max_total_time="$seconds" -runs="$runs" -timeout=10 -max_len=16384 -rss_limit_mb=2048
      -close_fd_mask=2 -print_final_stats=1 -artifact_prefix="$tmp/artifacts/")
[ -f "$dict" ] && args+=(-dict="$dict")
[ -n "${SKFP_FUZZ_SEED:-}" ] && args+=(-seed="$SKFP_FUZZ_SEED")
if ! "$bin" "${args[@]}" "$tmp/corpus" >"$tmp/fuzz.log" 2>&1; then
        failed "crash, leak or broken invariant while fuzzing (report below)" "$tmp/fuzz.log"
fi
if ls "$tmp"/artifacts/* >/dev/null 2>&1; then
        failed "the fuzzer left an artifact behind" "$tmp/fuzz.log"
fi

executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/fuzz.log" | tail -n 1)
seed=$(sed -n 's/.*Seed: \([0-9]*\).*/\1/p' "$tmp/fuzz.log" | head -n 1)
cov=$(grep -o 'cov: [0-9]*' "$tmp/fuzz.log" | tail -n 1 || true)
final=$(find "$tmp/corpus" -type f | wc -l)
echo "ok   fuzz-$name: ${executed:-?} inputs executed in ${seconds}s (seed ${seed:-?}, ${cov:-cov: ?}," \
     "corpus $seeds -> $final inputs), no crash"
echo "2 passed, 0 failed"
