#pragma once
/// \file Device-generic helpers on tensors: filled tensors, copies, in-place accumulation, scalars
/// and the transfers (backend/transfer.hpp). Written against the backend contract
/// only; the CPU backend comes with them because `Cpu` is every tensor's default device.
#include <vector>

#include "structgan/backend/contract.hpp"
#include "structgan/backend/cpu.hpp"
#include "structgan/backend/transfer.hpp"
#include "structgan/core/tensor.hpp"

namespace structgan {

/// A tensor of `shape` on device D with every element equal to `value`.
template <class T, class D = Cpu>
Tensor<T, D> filled(const Shape& shape, T value) {
  Tensor<T, D> t(shape);
  fill(D{}, t.numel(), value, t.data());
  return t;
}
template <class T, class D>
Tensor<T, D> zeros_like(const Tensor<T, D>& x) { return filled<T, D>(x.shape(), T(0)); }
template <class T, class D>
Tensor<T, D> ones_like(const Tensor<T, D>& x) { return filled<T, D>(x.shape(), T(1)); }

/// A copy of x's data in new storage.
template <class T, class D>
Tensor<T, D> clone(const Tensor<T, D>& x) {
  Tensor<T, D> y(x.shape());
  copy(D{}, x.numel(), x.data(), y.data());
  return y;
}

/// y += alpha·x in place (same number of elements).
template <class T, class D>
void add_inplace(Tensor<T, D>& y, const Tensor<T, D>& x, T alpha = T(1)) {
  require(y.numel() == x.numel(), "add_inplace: ", y.shape(), " vs ", x.shape());
  axpy(D{}, x.numel(), alpha, x.data(), y.data());
}

/// Copies x's values into y's existing storage (same number of elements).
template <class T, class D>
void assign(Tensor<T, D>& y, const Tensor<T, D>& x) {
  require(y.numel() == x.numel(), "assign: ", y.shape(), " vs ", x.shape());
  copy(D{}, x.numel(), x.data(), y.data());
}

}  // namespace structgan
