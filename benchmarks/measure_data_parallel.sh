#!/usr/bin/env bash
# The fashion_mnist preset on this machine: 1 process × 2 threads against 2 ranks × 1 thread
# (mpirun), ITERATIONS iterations each (docs/distributed.md, "Training on N processes"). Prints the
# median time per step over the iterations after the first 5 (from log.jsonl's iter_seconds), and
# each rank's share of time in collectives and bytes per step (the examples' closing line,
# CommunicatorStats). Measure on an otherwise idle machine (uptime load < 1).
# Usage: benchmarks/measure_data_parallel.sh BUILD_DIR [ITERATIONS]
#   BUILD_DIR: a build configured with optimization on the examples (the default, not -O0).
set -eu
build=$1
iterations=${2:-30}
program=$build/examples/fashion_mnist_train/fashion_mnist_train
work=$(mktemp -d)
common=(--set iterations="$iterations" --set sample_every=0 --set checkpoint_every=0 --set eval_at_end=false
        --set log_every=1 --progress lines)

median_step() {  # median iter_seconds of log.jsonl after the first 5 iterations
  python3 -c '
import json, statistics, sys
xs = [json.loads(l) for l in open(sys.argv[1])]
s = [x["iter_seconds"] for x in xs if "iteration" in x and x["iteration"] > 5]
print(f"{statistics.median(s):.4f} s/step (median of {len(s)})")' "$1"
}

echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== 1 process × 2 threads"
OMP_NUM_THREADS=2 "$program" "${common[@]}" --set output_dir="$work/one" 2>"$work/one.err" >/dev/null
median_step "$work/one/log.jsonl"
echo "== 2 ranks × 1 thread"
mpirun -np 2 --oversubscribe --allow-run-as-root -x OMP_NUM_THREADS=1 "$program" "${common[@]}" \
  --set output_dir="$work/two" 2>"$work/two.err" >/dev/null
median_step "$work/two/log.jsonl"
grep "collectives" "$work/two.err" || true
rm -rf "$work"
