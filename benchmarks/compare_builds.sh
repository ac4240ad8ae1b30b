#!/usr/bin/env bash
# Two builds of bench_core side by side on one workload: A B A B ..., each run a fresh process,
# N pairs (default 5), OMP_NUM_THREADS=2; prints each time and the median of the per-pair ratios
# B/A (below 1: B is faster). For "no speed loss" checks between two commits.
#   benchmarks/compare_builds.sh OLD/bench_core NEW/bench_core '^train_step_b64/' [N]
set -euo pipefail
a=$1 b=$2 filter=$3 n=${4:-5}
time_of() {
  OMP_NUM_THREADS=2 "$1" --benchmark_filter="$filter" --benchmark_format=json 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["benchmarks"][0]["real_time"])'
}
ratios=()
for i in $(seq 1 "$n"); do
  ta=$(time_of "$a"); tb=$(time_of "$b")
  ratios+=("$(python3 -c "print($tb / $ta)")")
  echo "pair $i: A $ta  B $tb  (B/A $(python3 -c "print(round($tb / $ta, 3))"))"
done
python3 -c "import statistics, sys; r = [float(x) for x in sys.argv[1:]]; print('median B/A over', len(r), 'pairs:', round(statistics.median(r), 3))" "${ratios[@]}"
