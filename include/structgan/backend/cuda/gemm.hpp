#pragma once
/// \file CUDA matrix multiply through cuBLAS (column-major) on row-major data: C = A·B row-major
/// is Cᵀ = Bᵀ·Aᵀ column-major, so the operands are passed swapped with the same flags.
#include <climits>
#include <type_traits>

#include <cublas_v2.h>

#include "structgan/backend/cuda/runtime.hpp"
#include "structgan/backend/cuda/tf32.hpp"
#include "structgan/backend/contract.hpp"

namespace structgan::backend {
namespace cuda {

/// cuBLAS's type of T's data (float: CUDA_R_32F, double: CUDA_R_64F).
template <class T>
constexpr cudaDataType_t blas_data_type() {
  return std::is_same_v<T, double> ? CUDA_R_64F : CUDA_R_32F;
}

/// C (m×n, leading dimension ldc, row-major) = beta·C, where beta = 0 writes zeros (k = 0).
template <class T>
__global__ void scale_matrix_kernel(index_t m, index_t n, T beta, T* c, index_t ldc) {
  for (index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x; i < m * n; i += index_t(gridDim.x) * blockDim.x) {
    T& v = c[(i / n) * ldc + i % n];
    v = beta == T(0) ? T(0) : beta * v;
  }
}

inline int blas_int(const char* what, index_t v) {
  require(v >= 0 && v <= INT_MAX, "gemm (cuda): ", what, " = ", v, " exceeds cuBLAS's 32-bit range");
  return static_cast<int>(v);
}

/// Row-major C (m×n, leading dimension ldc) = alpha·op(A)·op(B) + beta·C as gemm below, for a
/// GEMM used as `use`: cublasGemmEx with the compute type gemm_compute_type<T>(use) (TF32 for
/// float where the process-wide options allow it for `use`, see tf32.hpp).
template <class T>
void gemm_for(GemmUse use, bool trans_a, bool trans_b, index_t m, index_t n, index_t k, T alpha, const T* a,
              index_t lda, const T* b, index_t ldb, T beta, T* c, index_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // cuBLAS rejects leading dimensions of 0 here; the product is empty
    scale_matrix_kernel<T><<<grid_for(m * n), block_threads, 0, stream()>>>(m, n, beta, c, ldc);
    STRUCTGAN_CUDA_CHECK_LAUNCH("scale_matrix_kernel");
    return;
  }
  // Column-major view: the row-major X (r×s, ld) is the column-major Xᵀ (s×r, ld).
  // Cᵀ (n×m) = op(B)ᵀ·op(A)ᵀ: first operand B's memory with B's flag, second A's with A's.
  // alpha and beta are T: the scale type of CUBLAS_COMPUTE_32F* is float, of 64F double.
  constexpr cudaDataType_t type = blas_data_type<T>();
  STRUCTGAN_CUDA_CHECK(cublasGemmEx(blas_handle(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                    blas_int("n", n), blas_int("m", m), blas_int("k", k), &alpha, b, type,
                                    blas_int("ldb", ldb), a, type, blas_int("lda", lda), &beta, c, type,
                                    blas_int("ldc", ldc), gemm_compute_type<T>(use), CUBLAS_GEMM_DEFAULT));
}

}  // namespace cuda

/// Row-major C (m×n, leading dimension ldc) = alpha·op(A)·op(B) + beta·C, where op(A) is m×k
/// (A stored k×m when trans_a) and op(B) is k×n (B stored n×k when trans_b). beta = 0 ignores C.
/// A matrix product: full FP32 for float unless set_tf32 allowed TF32 for matmul (PyTorch's
/// default: not); FP64 for double.
template <class T>
void gemm(Cuda, bool trans_a, bool trans_b, index_t m, index_t n, index_t k, T alpha, const T* a, index_t lda,
          const T* b, index_t ldb, T beta, T* c, index_t ldc) {
  cuda::gemm_for(cuda::GemmUse::matmul, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace structgan::backend
