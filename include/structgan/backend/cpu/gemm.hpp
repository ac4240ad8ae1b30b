#pragma once
/// \file CPU matrix multiply through Eigen's GEMM (cache-blocked, vectorized, OpenMP-parallel).
#include <Eigen/Core>

#include "structgan/backend/contract.hpp"
#include "structgan/core/shape.hpp"

namespace structgan::backend {

/// Row-major C (m×n, leading dimension ldc) = alpha·op(A)·op(B) + beta·C, where op(A) is m×k
/// (A stored k×m when trans_a) and op(B) is k×n (B stored n×k when trans_b). beta = 0 ignores C.
template <class T>
void gemm(Cpu, bool trans_a, bool trans_b, index_t m, index_t n, index_t k, T alpha, const T* a, index_t lda,
          const T* b, index_t ldb, T beta, T* c, index_t ldc) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using CMap = Eigen::Map<const Mat, 0, Eigen::OuterStride<>>;
  Eigen::Map<Mat, 0, Eigen::OuterStride<>> C(c, m, n, Eigen::OuterStride<>(ldc));
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (beta == T(0)) C.setZero(); else C *= beta;
    return;
  }
  if (beta == T(0)) C.setZero();
  else if (beta != T(1)) C *= beta;
  const CMap A(a, trans_a ? k : m, trans_a ? m : k, Eigen::OuterStride<>(lda));
  const CMap B(b, trans_b ? n : k, trans_b ? k : n, Eigen::OuterStride<>(ldb));
  if (!trans_a && !trans_b) C.noalias() += alpha * A * B;
  else if (trans_a && !trans_b) C.noalias() += alpha * A.transpose() * B;
  else if (!trans_a && trans_b) C.noalias() += alpha * A * B.transpose();
  else C.noalias() += alpha * A.transpose() * B.transpose();
}

}  // namespace structgan::backend
