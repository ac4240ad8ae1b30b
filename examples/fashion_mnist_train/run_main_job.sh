#!/usr/bin/env bash
# The main job: build fashion_mnist_train (Release, native flags) and run the CPU-sized
# `fashion_mnist` preset on Debian's dataset-fashion-mnist (10,000 train images held out for
# validation), then evaluate the EMA discriminator's f^b and f~ beside the same network untrained
# (spherical k-means and linear SVM), on the held-out images and on the test split.
#
# usage: examples/fashion_mnist_train/run_main_job.sh [BUILD_DIR] [extra fashion_mnist_train options...]
#   BUILD_DIR   default $STRUCTGAN_BUILD_DIR or build-main (configured here if needed)
#   env STRUCTGAN_SKIP_BUILD=1   use an existing build without running cmake
#   env STRUCTGAN_MAIN_OUTPUT    output folder (default runs/fashion_mnist)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
build="${1:-${STRUCTGAN_BUILD_DIR:-build-main}}"
[ $# -gt 0 ] && shift
if [ "${STRUCTGAN_SKIP_BUILD:-0}" != "1" ]; then
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRUCTGAN_BUILD_TESTS=OFF \
          -DSTRUCTGAN_BUILD_BENCHMARKS=OFF -DSTRUCTGAN_CUDA=OFF ${STRUCTGAN_CMAKE_ARGS:-}
  fi
  cmake --build "$build" -j "$(nproc)" --target fashion_mnist_train
fi
exe="$build/examples/fashion_mnist_train/fashion_mnist_train"
out="${STRUCTGAN_MAIN_OUTPUT:-runs/fashion_mnist}"
output_args=(--output "$out")
for a in "$@"; do  # the caller's own --output wins
  case "$a" in --output|--output=*) output_args=(); out="";; esac
done
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}"
echo "main job: $exe --preset fashion_mnist ${output_args[*]} $* (OMP_NUM_THREADS=$OMP_NUM_THREADS)"
start=$(date +%s)
"$exe" --preset fashion_mnist "${output_args[@]}" "$@"
echo "main job: total wall time $(( $(date +%s) - start )) s (training + evaluation); results in ${out:-the --output folder}/eval.json"
