#pragma once
/// \file CUDA matrix multiply through cuBLAS (column-major) on row-major data: C = A·B row-major
/// is Cᵀ = Bᵀ·Aᵀ column-major, so the operands are passed swapped with the same flags.
#include <climits>

#include <cublas_v2.h>

#include "structgan/backend/cuda/runtime.hpp"
#include "structgan/backend/contract.hpp"

namespace structgan::backend {
namespace cuda {

inline cublasStatus_t gemm_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                const float* alpha, const float* a, int lda, const float* b, int ldb, const float* beta,
                                float* c, int ldc) {
  return cublasSgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
inline cublasStatus_t gemm_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                const double* alpha, const double* a, int lda, const double* b, int ldb,
                                const double* beta, double* c, int ldc) {
  return cublasDgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
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

}  // namespace cuda

/// Row-major C (m×n, leading dimension ldc) = alpha·op(A)·op(B) + beta·C, where op(A) is m×k
/// (A stored k×m when trans_a) and op(B) is k×n (B stored n×k when trans_b). beta = 0 ignores C.
/// Full FP32/FP64 arithmetic (no TF32).
template <class T>
void gemm(Cuda, bool trans_a, bool trans_b, index_t m, index_t n, index_t k, T alpha, const T* a, index_t lda,
          const T* b, index_t ldb, T beta, T* c, index_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // cuBLAS rejects leading dimensions of 0 here; the product is empty
    cuda::scale_matrix_kernel<T><<<cuda::grid_for(m * n), cuda::block_threads, 0, cuda::stream()>>>(m, n, beta, c, ldc);
    STRUCTGAN_CUDA_CHECK_LAUNCH("scale_matrix_kernel");
    return;
  }
  // Column-major view: the row-major X (r×s, ld) is the column-major Xᵀ (s×r, ld).
  // Cᵀ (n×m) = op(B)ᵀ·op(A)ᵀ: first operand B's memory with B's flag, second A's with A's.
  STRUCTGAN_CUDA_CHECK(cuda::gemm_call(cuda::blas_handle(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                       trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, cuda::blas_int("n", n),
                                       cuda::blas_int("m", m), cuda::blas_int("k", k), &alpha, b,
                                       cuda::blas_int("ldb", ldb), a, cuda::blas_int("lda", lda), &beta, c,
                                       cuda::blas_int("ldc", ldc)));
}

}  // namespace structgan::backend
