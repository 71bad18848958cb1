#!/usr/bin/env bash
# Builds and runs the fastpath benchmark (root): bench/fastpath/run.sh [--quick] [OPTIONS...]
# Prints the table; the JSON goes to bench/results/fastpath-DATE.json (gitignored). The
# benchmark makes its own cgroup and pin directory and removes them; a full run takes about
# 1.5 minutes, --quick about 15 s. See fastpath-bench --help for the options.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

if [ "$(id -u)" -ne 0 ]; then
        echo "bench/fastpath/run.sh: the benchmark loads BPF programs: run it as root" >&2
        exit 1
fi
scripts/build build
mkdir -p bench/results
out=bench/results/fastpath-$(date -u +%Y%m%dT%H%M%SZ).json
echo "CPUs: $(nproc), kernel $(uname -r); other load on the machine makes the numbers indicative only."
# Bounded whatever happens: the program's own I/O is bounded too, this is the last resort.
exec timeout --signal=TERM --kill-after=10 600 build/bench/fastpath/fastpath-bench --json "$out" "$@"
