#pragma once
/// \file DualTensor<V>: forward mode on whole tensors, struct of arrays (primal, tangent).
///
/// V is Tensor<T, D> (plain forward mode: a JVP) or Var<T, D> (reverse over forward: the dual
/// forward pass is itself recorded on the reverse-mode graph, so one backward pass gives the
/// parameter gradient of uᵀ J_x v; docs/autodiff.md says why this order). Every op's tangent
/// rule is written once in terms of ops on V, so it serves both.
#include <utility>

#include "structgan/autodiff/primal_tape.hpp"
#include "structgan/autodiff/var.hpp"

namespace structgan {

template <class V>
struct DualTensor {
  using value_type = typename V::value_type;
  using device_type = typename V::device_type;
  using primal_type = V;

  V primal;   ///< the value
  V tangent;  ///< its directional derivative; undefined means zero (saves work for parameters)

  DualTensor() = default;
  DualTensor(V p, V t = V()) : primal(std::move(p)), tangent(std::move(t)) {}
  bool defined() const { return primal.defined(); }
  bool has_tangent() const { return tangent.defined(); }
  const Shape& shape() const { return primal.shape(); }
  index_t numel() const { return primal.numel(); }
  index_t dim(int i) const { return primal.dim(i); }
};

}  // namespace structgan
