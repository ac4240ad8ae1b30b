#!/usr/bin/env bash
# Inception-v3 feature extraction, structgan (bench_inception) beside PyTorch (inception_bench.py torch) on the
# same random full-width weights: batch 50 of 32×32 images resized to 299×299, 2 threads each, alternating
# C++ / PyTorch in fresh processes for PAIRS pairs (default 5); prints each pair, then the medians of images/s
# and of the per-pair ratio structgan/PyTorch (above 1: structgan is faster). On a shared machine compare the
# CPU times too: wall time follows the load.
#
#   benchmarks/inception/run_inception_bench.sh [BUILD_DIR=build-bench] [PAIRS=5] [BATCHES=2] [WIDTH_DIVISOR=1]
#
# (WIDTH_DIVISOR 2–16 runs the same architecture narrower: a quick check of the script, not the benchmark.)
# BUILD_DIR must hold bench_inception, built as benchmarks/run_all.py builds build-bench (Release, -march=native,
# assertions off: what users get):
#   cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRUCTGAN_CUDA=OFF -DSTRUCTGAN_NATIVE=ON \
#         -DSTRUCTGAN_ASSERTIONS=OFF && cmake --build build-bench --target bench_inception -j2
# The weights (random, seed 0, ~95 MB) are written once by `inception_bench.py make` into
# $STRUCTGAN_INCEPTION_BENCH_DATA or /tmp/structgan-inception-bench. PyTorch runs with Debian's OpenBLAS when
# it is installed (as run_all.py does); its convolutions use oneDNN either way.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build-bench}
pairs=${2:-5}
batches=${3:-2}
divisor=${4:-1}
bench=$build/benchmarks/inception/bench_inception
peer=$here/inception_bench.py
[ -x "$bench" ] || { echo "run_inception_bench.sh: $bench not built (cmake --build $build --target bench_inception)" >&2; exit 1; }
data=${STRUCTGAN_INCEPTION_BENCH_DATA:-/tmp/structgan-inception-bench}
mkdir -p "$data"
weights=$data/inception_random_seed0_div$divisor.npz
[ -f "$weights" ] || /usr/bin/python3 "$peer" make "$weights" --seed 0 --width-divisor "$divisor" >&2
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=2
peer_env=(env)
openblas=/usr/lib/x86_64-linux-gnu/openblas-pthread
if [ -e "$openblas/libblas.so.3" ]; then peer_env=(env "LD_LIBRARY_PATH=$openblas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"); fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq "$pairs"); do
  echo "pair $i/$pairs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  "$bench" "$weights" --batch 50 --batches "$batches" | tee -a "$out" >&2
  "${peer_env[@]}" /usr/bin/python3 "$peer" torch "$weights" --batch 50 --batches "$batches" --threads 2 | tee -a "$out" >&2
done
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
ours = [r for r in rows if r["side"] == "structgan"]
peer = [r for r in rows if r["side"] == "pytorch"]
ratios = [a["images_per_second"] / b["images_per_second"] for a, b in zip(ours, peer)]
med = lambda rs, k: statistics.median(r[k] for r in rs)
print("| Inception-v3 features (%d-d pool3), batch 50, 32×32 → 299×299, 2 threads | structgan | PyTorch %s |"
      % (ours[0]["feature_dim"], peer[0].get("torch", "")))
print("|---|---|---|")
print("| images/s (median of %d runs) | %.2f | %.2f |" % (len(ours), med(ours, "images_per_second"), med(peer, "images_per_second")))
print("| CPU s per image | %.3f | %.3f |" % (med(ours, "cpu_seconds") / ours[0]["images"], med(peer, "cpu_seconds") / peer[0]["images"]))
print("median ratio structgan/PyTorch images/s over %d pairs: %.3f (pairs: %s)" %
      (len(ratios), statistics.median(ratios), ", ".join("%.3f" % r for r in ratios)))
print("pool3 mean (same weights, different random images): structgan %.5f, PyTorch %.5f" %
      (ours[0]["pool3_mean"], peer[0]["pool3_mean"]))
PY
