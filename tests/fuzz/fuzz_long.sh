#!/usr/bin/env bash
# A longer fuzzing session (docs/reliability.md): every libFuzzer target, one at a time, for
# SECONDS each (default 300), under ASan + UBSan, from its seed corpus. Needs a clang build:
#   CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Release \
#     -DSTRUCTGAN_ASSERTIONS=ON -DSTRUCTGAN_CUDA=OFF -DSTRUCTGAN_TEST_AREAS=fuzz
#   ninja -C build-fuzz fuzz_cifar fuzz_idx fuzz_image fuzz_npy fuzz_checkpoint fuzz_objective_options fuzz_train_config
#   bash tests/fuzz/fuzz_long.sh build-fuzz 300
# Prints each target's executions and the crash artifacts (kept in BUILD/fuzz_long/<target>/).
# Add a fixed crash input to tests/fuzz/corpus/<target>/ as regress_<what>.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-fuzz}
seconds=${2:-300}
targets=${TARGETS:-fuzz_cifar fuzz_idx fuzz_image fuzz_npy fuzz_checkpoint fuzz_objective_options fuzz_train_config}
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/fuzz/ubsan_stb.supp
status=0
for t in $targets; do
  work=$build/fuzz_long/$t
  rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
  dict=(); [ -f tests/fuzz/$t.dict ] && dict=(-dict=tests/fuzz/$t.dict)
  nice -n 19 "$build/tests/fuzz/$t" "$work/corpus" tests/fuzz/corpus/$t -max_total_time="$seconds" \
    -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "${dict[@]}" > "$work/log.txt" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log.txt")
  echo "$t: exit $rc, ${execs:-?} executions in ${seconds} s, corpus $(ls "$work/corpus" | wc -l) files, artifacts: $(ls "$work/artifacts" | tr '\n' ' ')"
  [ "$rc" = 0 ] || status=1
done
exit $status
