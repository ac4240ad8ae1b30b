#pragma once
/// \file Device-generic helpers on tensors: filled tensors, copies, in-place accumulation, scalars
/// read together, and the transfers (backend/transfer.hpp). Written against the backend contract
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

/// Scalars computed on a device, read into host doubles together: each add() names a one-element
/// tensor and where its value goes; read() packs them into one device vector and makes a single
/// device→host transfer (on a GPU every read synchronizes, so a step reads its logged scalars once).
template <class T, class D>
class ScalarReadout {
 public:
  void add(double* into, const Tensor<T, D>& scalar) {
    require(scalar.numel() == 1, "ScalarReadout::add: a scalar is one value, got shape ", scalar.shape());
    targets_.push_back(into);
    scalars_.push_back(scalar);
  }
  /// Writes every added scalar to its target; nothing is read when none was added.
  void read();

 private:
  std::vector<double*> targets_;
  std::vector<Tensor<T, D>> scalars_;
};

template <class T, class D>
void ScalarReadout<T, D>::read() {
  const auto n = static_cast<index_t>(scalars_.size());
  if (n == 0) return;
  Tensor<T, D> packed(Shape{n});
  for (index_t i = 0; i < n; ++i) copy(D{}, 1, scalars_[static_cast<std::size_t>(i)].data(), packed.data() + i);
  const Tensor<T, Cpu> host = to_host(packed);
  for (index_t i = 0; i < n; ++i) *targets_[static_cast<std::size_t>(i)] = static_cast<double>(host[i]);
  targets_.clear();
  scalars_.clear();
}

}  // namespace structgan
