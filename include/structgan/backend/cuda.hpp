#pragma once
/// \file The CUDA backend: device memory (Allocator<Cuda>, a caching pool) and every kernel the
/// tensor ops call, as overloads for the `Cuda` device tag (found by argument-dependent lookup,
/// so `Tensor<float, Cuda>`, `Var<float, Cuda>` and `DualTensor<...>` use them unchanged).
/// GEMM and convolution go through cuBLAS, the Cholesky factor and the SPD inverse through
/// cuSOLVER, element-wise work through Thrust, reductions and top-k through CUB block
/// reductions. Compile the including file as CUDA (nvcc) and link structgan::cuda; docs/cuda.md
/// says how.
///
/// Include this header before Eigen (e.g. before structgan/autodiff.hpp) so Eigen is used as
/// host-only code (EIGEN_NO_CUDA); structgan never runs Eigen on the device.
#if !defined(__CUDACC__)
#error "structgan/backend/cuda.hpp holds CUDA kernels: compile this file with nvcc (a .cu file, linked to structgan::cuda)"
#endif
#if !defined(EIGEN_NO_CUDA) && !defined(EIGEN_WORLD_VERSION)
#define EIGEN_NO_CUDA
#endif

#include "structgan/backend/cuda/conv.hpp"
#include "structgan/backend/cuda/elementwise.hpp"
#include "structgan/backend/cuda/gemm.hpp"
#include "structgan/backend/cuda/linalg.hpp"
#include "structgan/backend/cuda/memory.hpp"
#include "structgan/backend/cuda/misc.hpp"
#include "structgan/backend/cuda/norm.hpp"
#include "structgan/backend/cuda/pool.hpp"
#include "structgan/backend/cuda/runtime.hpp"
#include "structgan/backend/cuda/tf32.hpp"
#include "structgan/backend/cuda/sum_of_squares.hpp"

static_assert(structgan::backend::conforms<structgan::Cuda, float>() && structgan::backend::conforms<structgan::Cuda, double>(),
              "the CUDA backend implements the backend contract");
