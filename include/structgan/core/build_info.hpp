#pragma once
/// \file build_info(): one line saying what ran — structgan's version and git commit, the
/// compiler and its flags, the backends compiled in and the threads — printed by every program's
/// `--version`, at the top of every training run's output and in eval.json, so that a bug report
/// or a measured figure says which build produced it. structgan's own programs get the commit and
/// the flags from CMake (the generated structgan_build_config.h, cmake/structgan_dev.cmake); a
/// program built elsewhere reports them as unknown.
#include <cstring>
#include <string>

#if defined(__has_include)
#if __has_include(<structgan_build_config.h>)
#include <structgan_build_config.h>
#endif
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef STRUCTGAN_VERSION_STRING
#define STRUCTGAN_VERSION_STRING "unknown"
#endif
#ifndef STRUCTGAN_GIT_COMMIT
#define STRUCTGAN_GIT_COMMIT "unknown"
#endif
#ifndef STRUCTGAN_BUILD_FLAGS
#define STRUCTGAN_BUILD_FLAGS "unknown"
#endif
#ifndef STRUCTGAN_OPT_FLAG  // the target's own optimization flag, after the build type's
#define STRUCTGAN_OPT_FLAG ""
#endif

namespace structgan {

/// "structgan 0.1.0 (commit 1a2b3c4d5e6f); gcc 12.2.0; flags -O3 -DNDEBUG -march=native -O1;
/// backends cpu, cuda; OpenMP 2 threads".
inline std::string build_info() {
  std::string s = "structgan " STRUCTGAN_VERSION_STRING " (commit " STRUCTGAN_GIT_COMMIT "); ";
#if defined(__clang__)
  s += "clang " __clang_version__;
#elif defined(__GNUC__)
  s += "gcc " __VERSION__;
#elif defined(_MSC_VER)
  s += "msvc " + std::to_string(_MSC_VER);
#else
  s += "unknown compiler";
#endif
  s += "; flags " STRUCTGAN_BUILD_FLAGS;
  if (*STRUCTGAN_OPT_FLAG) s += " " STRUCTGAN_OPT_FLAG;
  s += "; backends cpu";
#ifdef STRUCTGAN_WITH_CUDA
  s += ", cuda";
#endif
#ifdef _OPENMP
  s += "; OpenMP " + std::to_string(omp_get_max_threads()) + " threads";
#else
  s += "; no OpenMP (1 thread)";
#endif
  return s;
}

/// True when argv holds --version (for programs without a command-line parser; the CLI11 ones add
/// the flag to their parser).
inline bool version_requested(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--version") == 0) return true;
  return false;
}

}  // namespace structgan
