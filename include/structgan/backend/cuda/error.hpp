#pragma once
/// \file Errors from the CUDA runtime and cuBLAS become structgan::Error naming the call, the
/// place and the library's own error string. Host-only: compiles with any C++17 compiler.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "structgan/core/error.hpp"

namespace structgan::backend::cuda {

/// Throws structgan::Error when `status` is not cudaSuccess: "CUDA error: <call> failed at
/// <file>:<line>: <name> (<description>)". Clears the runtime's sticky last-error slot.
inline void check(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  (void)cudaGetLastError();
  fail("CUDA error: ", call, " failed at ", file, ":", line, ": ", cudaGetErrorName(status), " (",
       cudaGetErrorString(status), ")");
}

/// Throws structgan::Error when a cuBLAS call did not return CUBLAS_STATUS_SUCCESS.
inline void check(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  fail("cuBLAS error: ", call, " failed at ", file, ":", line, ": ", cublasGetStatusName(status), " (",
       cublasGetStatusString(status), ")");
}

}  // namespace structgan::backend::cuda

/// Runs a CUDA runtime or cuBLAS call and throws structgan::Error (with the call's text) on failure.
#define STRUCTGAN_CUDA_CHECK(call) ::structgan::backend::cuda::check((call), #call, __FILE__, __LINE__)
