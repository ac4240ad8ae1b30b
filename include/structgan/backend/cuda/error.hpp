#pragma once
/// \file Errors from the CUDA runtime, cuBLAS and cuSOLVER become structgan::Error naming the call, the
/// place and the library's own error string. Host-only: compiles with any C++17 compiler.
#include <cublas_v2.h>
#include <cusolverDn.h>
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

/// The name of a cuSOLVER status (cuSOLVER has no string function of its own).
inline const char* cusolver_status_name(cusolverStatus_t status) {
  switch (status) {
    case CUSOLVER_STATUS_SUCCESS: return "CUSOLVER_STATUS_SUCCESS";
    case CUSOLVER_STATUS_NOT_INITIALIZED: return "CUSOLVER_STATUS_NOT_INITIALIZED";
    case CUSOLVER_STATUS_ALLOC_FAILED: return "CUSOLVER_STATUS_ALLOC_FAILED";
    case CUSOLVER_STATUS_INVALID_VALUE: return "CUSOLVER_STATUS_INVALID_VALUE";
    case CUSOLVER_STATUS_ARCH_MISMATCH: return "CUSOLVER_STATUS_ARCH_MISMATCH";
    case CUSOLVER_STATUS_EXECUTION_FAILED: return "CUSOLVER_STATUS_EXECUTION_FAILED";
    case CUSOLVER_STATUS_INTERNAL_ERROR: return "CUSOLVER_STATUS_INTERNAL_ERROR";
    case CUSOLVER_STATUS_NOT_SUPPORTED: return "CUSOLVER_STATUS_NOT_SUPPORTED";
    case CUSOLVER_STATUS_INVALID_WORKSPACE: return "CUSOLVER_STATUS_INVALID_WORKSPACE";
    default: return "cuSOLVER status";
  }
}

/// Throws structgan::Error when a cuSOLVER call did not return CUSOLVER_STATUS_SUCCESS (a matrix
/// that is not positive definite is no such error: cuSOLVER reports it in its device info).
inline void check(cusolverStatus_t status, const char* call, const char* file, int line) {
  if (status == CUSOLVER_STATUS_SUCCESS) return;
  fail("cuSOLVER error: ", call, " failed at ", file, ":", line, ": ", cusolver_status_name(status), " (",
       static_cast<int>(status), ")");
}

}  // namespace structgan::backend::cuda

/// Runs a CUDA runtime, cuBLAS or cuSOLVER call and throws structgan::Error (with the call's text) on failure.
#define STRUCTGAN_CUDA_CHECK(call) ::structgan::backend::cuda::check((call), #call, __FILE__, __LINE__)
