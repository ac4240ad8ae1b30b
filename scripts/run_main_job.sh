#!/usr/bin/env bash
# Installs what is missing, builds the examples in Release with native flags, and runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
build=${STRUCTGAN_BUILD_DIR:-build-main}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRUCTGAN_BUILD_TESTS=OFF -DSTRUCTGAN_BUILD_BENCHMARKS=OFF \
      -DSTRUCTGAN_CUDA=OFF ${STRUCTGAN_CMAKE_ARGS:-}
cmake --build "$build" -j "$(nproc)" --target autodiff_demo
"$build"/examples/autodiff_demo/autodiff_demo
