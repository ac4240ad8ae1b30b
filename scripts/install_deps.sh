#!/usr/bin/env bash
# Installs what structgan's build, tests and main job need on Debian 12, if it is missing.
set -euo pipefail
packages=(cmake ninja-build g++ libeigen3-dev libboost-test-dev nlohmann-json3-dev libstb-dev zlib1g-dev
          libcli11-dev liblinear-dev libbenchmark-dev dataset-fashion-mnist clang
          libclang-rt-14-dev libomp-14-dev  # clang-14: the sanitizer stage and libFuzzer
          libopenmpi-dev openmpi-bin)       # multi-process training and its tests (structgan::mpi)
# Optional peers, only with STRUCTGAN_INSTALL_PEERS=1: python3-torchvision (0.14, Pillow 9.4)
# regenerates tests/data/pil_reference/ (scripts/make_pil_references.py); the tests read the
# committed files and report test_pil_reference_script SKIPPED without it. python3-sklearn,
# python3-tqdm and python3-matplotlib: the benchmarks' peers (scikit-learn's SVM and k-means, and
# the released code's step, which imports the other two; docs/performance.md). No test needs them.
if [ "${STRUCTGAN_INSTALL_PEERS:-0}" = 1 ]; then
  packages+=(python3-torchvision python3-sklearn python3-tqdm python3-matplotlib)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "structgan: installing ${missing[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
