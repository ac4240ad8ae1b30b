#pragma once
// The main function of a GPU test executable (define BOOST_TEST_NO_MAIN before including Boost.Test).
// Without a visible CUDA device it prints why and returns 77, which CTest's SKIP_RETURN_CODE turns
// into "Skipped": a GPU test is never reported as passed when it did not run.
// The tests compare float results with the CPU at FP32 tolerances, so TF32 is off for every GEMM
// (PyTorch's default turns it on for convolutions); tests of TF32 turn it on with a Tf32Scope.
#include <iostream>
#include <string>

#include <boost/test/unit_test.hpp>

#include "structgan/backend/cuda/runtime.hpp"
#include "structgan/backend/cuda/tf32.hpp"

/// The exit code CTest reads as "skipped" (tests/cuda/CMakeLists.txt sets SKIP_RETURN_CODE).
inline constexpr int structgan_skip_return_code = 77;

int main(int argc, char* argv[]) {
  std::string why;
  if (!structgan::backend::cuda::device_available(&why)) {
    std::cout << "SKIPPED: no CUDA device is visible, so the GPU tests did not run (" << why << ")" << std::endl;
    return structgan_skip_return_code;
  }
  std::cout << "GPU tests on " << structgan::backend::cuda::device_name() << std::endl;
  structgan::backend::cuda::set_tf32(structgan::backend::cuda::Tf32Options{false, false});
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
