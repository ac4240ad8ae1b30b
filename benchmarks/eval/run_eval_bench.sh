#!/usr/bin/env bash
# Runs structgan's evaluation protocol (bench_eval) and scikit-learn's (benchmarks/peer/eval_sklearn.py)
# alternately on the same synthetic .npy data, 2 threads each, and prints medians of wall and CPU time, the
# wall-time ratio and the accuracies. On a shared machine compare the CPU times too: wall time follows the load.
#
#   benchmarks/eval/run_eval_bench.sh [BUILD_DIR=build-eval] [ROUNDS=2] [TASKS="kmeans svm"]
#
# STRUCTGAN_EVAL_BENCH_SVM_SOLVER=auto|dual|primal (default auto) is passed to both sides' SVM as --solver:
# LIBLINEAR's dual coordinate descent or its primal Newton solver, the same one on each side.
#
# STRUCTGAN_EVAL_BENCH_RT=1 runs every measured process under SCHED_FIFO (chrt -f 10, needs root; like
# benchmarks/run_all.py --rt) with a 1 s pause between processes, so that on a shared machine both sides get the
# cores they ask for instead of whatever share the other jobs leave.
#
# Data (generated once by `bench_eval gen`, in $STRUCTGAN_EVAL_BENCH_DATA or /tmp/structgan-eval-bench):
#   k-means: 10,000×512 float32, mixture of 10 Gaussians on the sphere; 20 repeats × 5 restarts + Hungarian.
#   SVM:     60,000×512 train, 10,000×512 test, same mixture; LIBLINEAR (ours) vs LinearSVC, C = 1, same solver.
# scikit-learn's numpy uses Debian's reference BLAS unless Debian's OpenBLAS is installed
# (apt-get install libopenblas0-pthread); when it is, the peer is pointed at it with LD_LIBRARY_PATH so that
# it runs with an optimized BLAS (the kernel it uses is printed by threadpoolctl in the JSON lines).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build-eval}
rounds=${2:-2}
tasks=${3:-kmeans svm}
rt=()
gap=0
if [ "${STRUCTGAN_EVAL_BENCH_RT:-0}" = 1 ]; then rt=(chrt -f 10); gap=1; fi
data=${STRUCTGAN_EVAL_BENCH_DATA:-/tmp/structgan-eval-bench}
bench=$build/benchmarks/eval/bench_eval
peer=$root/benchmarks/peer/eval_sklearn.py
[ -x "$bench" ] || { echo "run_eval_bench.sh: $bench not built (ninja -C $build bench_eval)" >&2; exit 1; }
mkdir -p "$data"
[ -f "$data/svm_test_y.npy" ] || "$bench" gen "$data"
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
peer_env=(env)
openblas=/usr/lib/x86_64-linux-gnu/openblas-pthread
if [ -e "$openblas/libblas.so.3" ]; then peer_env=(env "LD_LIBRARY_PATH=$openblas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"); fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
km=("$data/kmeans_x.npy" "$data/kmeans_y.npy")
svm=("$data/svm_train_x.npy" "$data/svm_train_y.npy" "$data/svm_test_x.npy" "$data/svm_test_y.npy")
for r in $(seq "$rounds"); do
  echo "round $r/$rounds" >&2
  for task in $tasks; do
    if [ "$task" = kmeans ]; then args=("${km[@]}"); else args=("${svm[@]}" --solver "${STRUCTGAN_EVAL_BENCH_SVM_SOLVER:-auto}"); fi
    sleep "$gap"
    echo "  load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    "${rt[@]}" "$bench" "$task" "${args[@]}" --threads 2 | tee -a "$out" >&2
    sleep "$gap"
    "${rt[@]}" "${peer_env[@]}" /usr/bin/python3 "$peer" "$task" "${args[@]}" | tee -a "$out" >&2
  done
done
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print("| task | structgan wall s | sklearn wall s | wall ratio sklearn/structgan | structgan CPU s | sklearn CPU s | structgan acc | sklearn acc |")
print("|---|---|---|---|---|---|---|---|")
for what, label in (("kmeans_protocol", "k-means protocol 20×5, 10k×512"), ("svm", "linear SVM 60k×512 → 10k")):
    ours = [r for r in rows if r["what"] == what and r["side"] == "structgan"]
    peer = [r for r in rows if r["what"] == what and r["side"] == "sklearn"]
    if not ours or not peer:
        continue
    med = lambda rs, k: statistics.median(r.get(k, float("nan")) for r in rs)
    a, b = med(ours, "seconds"), med(peer, "seconds")
    acc = lambda rs: "%.4f" % rs[0]["accuracy"] + (" (%.4f)" % rs[0]["accuracy_std"] if "accuracy_std" in rs[0] else "")
    print(f"| {label} | {a:.2f} | {b:.2f} | {b / a:.2f}× | {med(ours, 'cpu_seconds'):.2f} | {med(peer, 'cpu_seconds'):.2f} | {acc(ours)} | {acc(peer)} |")
print(f"(medians of {len(rows) // 2 // max(1, len({r['what'] for r in rows}))} alternating rounds)")
PY
