#!/usr/bin/env bash
# usage: benchmarks/compare_main_job_rate.sh BUILD_BEFORE BUILD_AFTER [PAIRS=6] [ITERATIONS=60]
# The fashion_mnist preset's training rate of two builds (each a CMake build folder holding
# examples/fashion_mnist_train/fashion_mnist_train), alternating, 2 OpenMP threads, no evaluation,
# no samples or checkpoints: per run the mean s/it of iterations 11 and later from log.jsonl's
# iter_seconds, and per pair the ratio after / before; the median of the ratios last.
# Absolute rates drift with the host: compare the pairs, not runs far apart (docs/training.md).
set -euo pipefail
before=$1; after=$2; pairs=${3:-6}; iterations=${4:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rate() {  # build, output folder → mean s/it
  OMP_NUM_THREADS=2 "$1/examples/fashion_mnist_train/fashion_mnist_train" --preset fashion_mnist --iterations "$iterations" \
    --output "$2" --progress lines --set eval_at_end=false --set sample_every=0 --set checkpoint_every=0 > "$2.log" 2>&1
  python3 -c '
import json, statistics, sys
s = [r["iter_seconds"] for r in map(json.loads, open(sys.argv[1] + "/log.jsonl")) if "iter_seconds" in r and r["iteration"] > 10]
print(f"{statistics.mean(s):.4f}")' "$2"
}
ratios=()
for i in $(seq 1 "$pairs"); do
  b=$(rate "$before" "$work/before-$i"); a=$(rate "$after" "$work/after-$i")
  r=$(python3 -c "print(f'{$a / $b:.3f}')")
  ratios+=("$r")
  echo "pair $i: before $b s/it, after $a s/it, ratio $r"
done
python3 -c "import statistics, sys; print('median ratio after / before:', f'{statistics.median(map(float, sys.argv[1:])):.3f}')" "${ratios[@]}"
