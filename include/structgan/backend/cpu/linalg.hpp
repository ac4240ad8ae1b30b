#pragma once
/// \file CPU kernels of the small dense SPD algebra the Gaussian objectives need (SPEC §2):
/// Cholesky factor, log det and inverse from the factor. Eigen's LLT in double whatever T is, so
/// for T = double the factor, log det and inverse are bit for bit those of
/// `Eigen::LLT<RowMajor MatrixXd>` (factor, `2·Σ log diag` summed in order, `solve(I)`
/// symmetrized); for T = float the factor is rounded to float between the kernels.
#include <cmath>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include "structgan/backend/contract.hpp"

namespace structgan::backend {
namespace cpu {
/// A row-major dynamic matrix of double: the working precision of these kernels.
using RowMajorXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
}  // namespace cpu

/// l = the lower Cholesky factor of the symmetric p×p a (lower triangle read); info[0] = 0 when
/// every pivot is finite and > 0, else 1 (l then holds what the factorization left).
template <class T>
void cholesky(Cpu, index_t p, const T* a, T* l, T* info) {
  using Map = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
  const Eigen::LLT<cpu::RowMajorXd> llt(Map(a, p, p).template cast<double>());
  Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> out(l, p, p);
  out = cpu::RowMajorXd(llt.matrixL()).template cast<T>();
  // LLT stops at the first pivot ≤ 0 but lets NaN through (NaN ≤ 0 is false); a NaN or Inf in
  // the lower triangle reaches the diagonal of L (L_ii² = a_ii − Σ_k L_ik²), so both show there.
  const auto diag = llt.matrixLLT().diagonal().array();
  info[0] = llt.info() == Eigen::Success && diag.allFinite() && (diag > 0).all() ? T(0) : T(1);
}

/// y[0] = 2·Σ log l_ii, summed in double in index order (as Eigen sums a diagonal).
template <class T>
void cholesky_logdet(Cpu, index_t p, const T* l, T* y) {
  double sum = 0;
  for (index_t i = 0; i < p; ++i) sum += std::log(double(l[i * (p + 1)]));
  y[0] = T(2.0 * sum);
}

/// y = (L·Lᵀ)⁻¹ by two triangular solves against I (Eigen's LLT::solve), symmetrized.
template <class T>
void cholesky_inverse(Cpu, index_t p, const T* l, T* y) {
  using Map = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
  const cpu::RowMajorXd lower = Map(l, p, p).template cast<double>();
  cpu::RowMajorXd inv = cpu::RowMajorXd::Identity(p, p);
  lower.template triangularView<Eigen::Lower>().solveInPlace(inv);
  lower.adjoint().template triangularView<Eigen::Upper>().solveInPlace(inv);
  inv = (0.5 * (inv + inv.transpose())).eval();
  Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(y, p, p) = inv.template cast<T>();
}

}  // namespace structgan::backend
