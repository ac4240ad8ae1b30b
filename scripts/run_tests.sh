#!/usr/bin/env bash
# Installs what is missing, builds everything in Release with assertions on, and runs the whole
# test suite. This is what CI runs (.ci/run).
#
# Stage 2 builds a subset of the unit tests again under AddressSanitizer +
# UndefinedBehaviorSanitizer (-DSTRUCTGAN_SANITIZE=ON, separate build folder, clang-14 when
# installed so that the fuzz targets are real libFuzzer binaries that fuzz for
# STRUCTGAN_FUZZ_SECONDS, default 10 s, each) and runs them with leak detection; any report fails
# the run. The subset: labels STRUCTGAN_SANITIZE_LABELS and test names STRUCTGAN_SANITIZE_TESTS
# (defaults: the data readers and loader, every fuzz target, the atomic checkpoint test; see
# docs/reliability.md for why and what it costs).
# STRUCTGAN_SKIP_SANITIZERS=1 skips the stage (local runs).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
stage() { echo "structgan: $1 took $(($(date +%s) - t0)) s in all so far"; }
bash scripts/install_deps.sh
stage "installing dependencies"
build=${STRUCTGAN_BUILD_DIR:-build-tests}
jobs=${STRUCTGAN_JOBS:-$(nproc)}
# STRUCTGAN_DEV_OPT=-O1, STRUCTGAN_EXAMPLES_OPT=-O0: the benchmarks and examples are only smoke-tested
# here (their compile time halves at -O1 and again at -O0; the benchmarks' smoke run needs -O1).
# STRUCTGAN_EXAMPLES_CUDA=ON: where nvcc is found, the examples' --device cuda path is compiled too, GPU
# or not (its host code at the examples' -O0), as every GPU test is (tests/CMakeLists.txt). Where no
# GPU is visible nothing built here can run on one, so one architecture proves that it compiles.
cuda_args=(-DSTRUCTGAN_EXAMPLES_CUDA=ON)
if ! nvidia-smi -L >/dev/null 2>&1 && [ -z "${CUDAARCHS:-}" ]; then
  cuda_args+=(-DCMAKE_CUDA_ARCHITECTURES=90)
fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRUCTGAN_ASSERTIONS=ON -DSTRUCTGAN_DEV_OPT=-O1 -DSTRUCTGAN_EXAMPLES_OPT=-O0 \
  "${cuda_args[@]}" ${STRUCTGAN_CMAKE_ARGS:-}
cmake --build "$build" -j "$jobs"
stage "configure and build"
(cd "$build" && ctest -j "$jobs" --output-on-failure --timeout 900)
stage "the test suite"

if [ "${STRUCTGAN_SKIP_SANITIZERS:-0}" = 1 ]; then
  echo "structgan: STRUCTGAN_SKIP_SANITIZERS=1: sanitizer stage skipped"
  exit 0
fi
san=${STRUCTGAN_SANITIZE_BUILD_DIR:-build-sanitize}
labels=${STRUCTGAN_SANITIZE_LABELS:-'^(data|fuzz)$'}        # tests selected by label ...
extra=${STRUCTGAN_SANITIZE_TESTS:-'^io_checkpoint_atomic$'}  # ... and by name
start=$(date +%s)
san_cc=()
if command -v clang++-14 >/dev/null; then san_cc=(-DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14); fi
cmake -S . -B "$san" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRUCTGAN_ASSERTIONS=ON -DSTRUCTGAN_SANITIZE=ON "${san_cc[@]}" \
  -DSTRUCTGAN_BUILD_EXAMPLES=OFF -DSTRUCTGAN_BUILD_BENCHMARKS=OFF -DSTRUCTGAN_CUDA=OFF ${STRUCTGAN_CMAKE_ARGS:-}
# Build only the executables of the selected tests (a compiled test is named after its executable;
# script tests, and tests that run another test's executable, have no target of their name and are
# left to the first stage).
mapfile -t tests < <(cd "$san" && { ctest -N -L "$labels"; ctest -N -R "$extra"; } |
                     sed -n 's/^ *Test *#[0-9]*: *//p' | sort -u)
mapfile -t known < <(ninja -C "$san" -t targets all | sed -n 's/^\([^:/]*\): phony$/\1/p' | sort -u)
mapfile -t targets < <(comm -12 <(printf '%s\n' "${tests[@]}") <(printf '%s\n' "${known[@]}"))
if ((${#targets[@]} == 0)); then
  echo "structgan: no test matches the labels $labels or the names $extra" >&2
  exit 1
fi
echo "structgan: sanitizer stage (ASan + UBSan, leak detection): ${targets[*]}"
cmake --build "$san" -j "$jobs" --target "${targets[@]}"
names=$(IFS='|'; echo "^(${targets[*]})\$")
(cd "$san" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
   UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
   ctest -R "$names" -j "$jobs" --output-on-failure --timeout 900)
echo "structgan: sanitizer stage took $(($(date +%s) - start)) s"
stage "everything"
