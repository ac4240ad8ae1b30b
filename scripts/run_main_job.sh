#!/usr/bin/env bash
# Installs what is missing, builds fashion_mnist_train in Release with native flags, and runs the
# main job: the `fashion_mnist` preset on Debian's Fashion-MNIST, then the evaluation of the EMA
# discriminator beside the same network untrained (docs/training.md, "The main job").
# Extra arguments go to fashion_mnist_train (e.g. --iterations 200 --output /tmp/fm).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
build=${STRUCTGAN_BUILD_DIR:-build-main}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRUCTGAN_BUILD_TESTS=OFF -DSTRUCTGAN_BUILD_BENCHMARKS=OFF \
      -DSTRUCTGAN_CUDA=OFF ${STRUCTGAN_CMAKE_ARGS:-}
STRUCTGAN_SKIP_BUILD=0 exec bash examples/fashion_mnist_train/run_main_job.sh "$build" "$@"
