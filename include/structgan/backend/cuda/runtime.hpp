#pragma once
/// \file The CUDA runtime pieces every kernel shares: the stream, device queries, the cuBLAS
/// and cuSOLVER handles and launch sizes. Host-only: compiles with any C++17 compiler (links cudart,
/// cublas, cusolver).
///
/// Streams: every structgan kernel, copy and cuBLAS call is queued on the *legacy default
/// stream* (cudaStreamLegacy), whatever thread issues it. Work is thus ordered across threads
/// and the caching allocator can reuse a freed block at once (see caching_pool.hpp), unless work
/// on another stream (NCCL's, a user's) used it: that work is declared with
/// cuda::record_stream (memory.hpp), and the block waits for it. One device: the one current
/// when the first tensor is allocated (cudaSetDevice before that to choose).
#include <algorithm>
#include <string>

#include <cublas_v2.h>
#include <cusolverDn.h>
#include <cuda_runtime_api.h>

#include "structgan/backend/cuda/error.hpp"
#include "structgan/core/shape.hpp"

namespace structgan::backend::cuda {

/// The stream all structgan work runs on.
inline cudaStream_t stream() { return cudaStreamLegacy; }

/// Whether a CUDA device is visible. When not, `why` (if given) receives the reason: the
/// runtime's error from cudaGetDeviceCount (e.g. no driver) or a count of 0.
inline bool device_available(std::string* why = nullptr) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    if (why)
      *why = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")";
    return false;
  }
  if (count <= 0) {
    if (why) *why = "cudaGetDeviceCount reports 0 CUDA devices";
    return false;
  }
  return true;
}

/// The name of the current device and its compute capability, e.g. "NVIDIA H100 (sm_90)".
inline std::string device_name() {
  int dev = 0;
  STRUCTGAN_CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp prop{};
  STRUCTGAN_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  return std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ")";
}

/// Waits until all queued structgan work has finished (for timing, or before reading results
/// through other means than copy_to_host, which waits by itself).
inline void synchronize() { STRUCTGAN_CUDA_CHECK(cudaStreamSynchronize(stream())); }

/// This thread's cuBLAS handle, bound to stream(). Created on first use and kept for the
/// thread's life (destroying handles during program exit races with the runtime's teardown).
inline cublasHandle_t blas_handle() {
  thread_local cublasHandle_t handle = [] {
    cublasHandle_t h = nullptr;
    STRUCTGAN_CUDA_CHECK(cublasCreate(&h));
    STRUCTGAN_CUDA_CHECK(cublasSetStream(h, stream()));
    // Default math: no TF32 unless a call's compute type asks for it (gemm_for, tf32.hpp).
    STRUCTGAN_CUDA_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    return h;
  }();
  return handle;
}

/// This thread's cuSOLVER dense handle, bound to stream() (kept for the thread's life, as the
/// cuBLAS handle is).
inline cusolverDnHandle_t solver_handle() {
  thread_local cusolverDnHandle_t handle = [] {
    cusolverDnHandle_t h = nullptr;
    STRUCTGAN_CUDA_CHECK(cusolverDnCreate(&h));
    STRUCTGAN_CUDA_CHECK(cusolverDnSetStream(h, stream()));
    return h;
  }();
  return handle;
}

/// Threads per block of the element-wise kernels.
inline constexpr int block_threads = 256;

/// Blocks for a grid-stride loop over n items (capped: each thread then loops).
inline unsigned grid_for(index_t n) {
  const index_t blocks = (n + block_threads - 1) / block_threads;
  return static_cast<unsigned>(std::clamp<index_t>(blocks, 1, index_t(1) << 20));
}

/// Checks that a kernel launch was accepted (bad configurations, no device).
#define STRUCTGAN_CUDA_CHECK_LAUNCH(name) \
  ::structgan::backend::cuda::check(cudaGetLastError(), "launch of " name, __FILE__, __LINE__)

}  // namespace structgan::backend::cuda
