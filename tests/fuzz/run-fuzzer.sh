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

failed() {
        local what=$1 log=$2
        mkdir -p "$keep"
        cp -f "$tmp"/artifacts/* "$keep"/ 2>/dev/null || true
        # the fuzzer's own report (stack, SUMMARY line) is the useful part of the log
        tail -n 60 "$log" >&2
        echo "FAIL fuzz-$name: $what" >&2
        for a in "$keep"/*; do
                [ -f "$a" ] || continue
                echo "  input kept: $a" >&2
                echo "  reproduce:  $bin $a" >&2
                echo "  keep it:    cp $a $regressions/" >&2
        done
        echo "0 passed, 1 failed"
        exit 1
}

mkdir -p "$tmp/corpus" "$tmp/artifacts"

# 1. Regressions: each file once (-runs=0 still runs a file argument once). Leaks are caught by
# LeakSanitizer at exit.
mapfile -t inputs < <(find "$regressions" -maxdepth 1 -type f ! -name '*.md' 2>/dev/null | sort)
if [ ${#inputs[@]} -gt 0 ]; then
        if ! "$bin" -runs=0 -timeout=10 -artifact_prefix="$tmp/artifacts/" "${inputs[@]}" \
                        >"$tmp/replay.log" 2>&1; then
                failed "a regression input crashes again" "$tmp/replay.log"
        fi
fi
echo "ok   fuzz-$name: ${#inputs[@]} regression inputs replayed"

# 2. Bounded fuzzing from the seed corpus. stderr of the target is discarded (-close_fd_mask=2:
# the parsers log every rejected line); libFuzzer's own report goes to a kept copy of it.
cp -r "$corpus"/. "$tmp/corpus"/
seeds=$(find "$tmp/corpus" -type f | wc -l)
args=(-max_total_time="$seconds" -runs="$runs" -timeout=10 -max_len=16384 -rss_limit_mb=2048
      -close_fd_mask=2 -print_final_stats=1 -artifact_prefix="$tmp/artifacts/")
[ -f "$dict" ] && args+=(-dict="$dict")
[ -n "${SKFP_FUZZ_SEED:-}" ] && args+=(-seed="$SKFP_FUZZ_SEED")
if ! "$bin" "${args[@]}" "$tmp/corpus" >"$tmp/fuzz.log" 2>&1; then
        failed "crash, leak or broken invariant while fuzzing (see above)" "$tmp/fuzz.log"
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
