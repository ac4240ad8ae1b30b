#!/usr/bin/env bash
# Installs what is missing, builds everything in Release with assertions on, and runs the whole
# test suite. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
build=${STRUCTGAN_BUILD_DIR:-build-tests}
jobs=${STRUCTGAN_JOBS:-$(nproc)}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRUCTGAN_ASSERTIONS=ON ${STRUCTGAN_CMAKE_ARGS:-}
cmake --build "$build" -j "$jobs"
cd "$build"
ctest -j "$jobs" --output-on-failure --timeout 900
