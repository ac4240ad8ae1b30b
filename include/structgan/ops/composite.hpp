#pragma once
/// \file Ops composed from primitives, so their reverse and tangent rules (and reverse over
/// forward) come from the primitives' rules: row L2-normalization and softmax cross-entropy.
#include <vector>

#include "structgan/ops/linalg.hpp"

namespace structgan {

/// normalize(x): each row divided by max(‖row‖₂, eps) (SPEC conventions; F.normalize).
template <class V>
V row_normalize(const V& x, typename ValueTraits<V>::scalar eps = 1e-12) {
  require(x.shape().rank() == 2, "row_normalize: needs a matrix (one sample per row), got ", x.shape());
  V norm = sqrt(sum(square(x), {1}, true));
  return div(x, clamp_min(norm, eps));
}

/// ‖row‖₂ of each row of a matrix, shape [n].
template <class V>
V row_norm(const V& x) {
  require(x.shape().rank() == 2, "row_norm: needs a matrix, got ", x.shape());
  return sqrt(sum(square(x), {1}));
}

/// Mean softmax cross-entropy of logits (n × k) against integer labels in [0, k), shape [1].
/// Shifted by each row's maximum (a constant) for stability.
template <class V>
V softmax_cross_entropy(const V& logits, const std::vector<int>& labels) {
  using T = typename ValueTraits<V>::scalar;
  using D = typename ValueTraits<V>::device;
  const Shape s = logits.shape();
  require(s.rank() == 2, "softmax_cross_entropy: logits must be n×k, got ", s);
  require(static_cast<index_t>(labels.size()) == s[0], "softmax_cross_entropy: ", labels.size(), " labels for ", s[0], " rows");
  const Tensor<T, Cpu> z = to_host(value_of(logits));
  Tensor<T, Cpu> shift(Shape{s[0], 1}), onehot = zeros<T>(s);
  for (index_t i = 0; i < s[0]; ++i) {
    const int y = labels[static_cast<std::size_t>(i)];
    require(y >= 0 && y < s[1], "softmax_cross_entropy: label ", y, " of row ", i, " outside [0, ", s[1], ")");
    shift[i] = z.matrix().row(i).maxCoeff();
    require(std::isfinite(shift[i]), "softmax_cross_entropy: row ", i, " of the logits is not finite");
    onehot.at(i, index_t(y)) = T(1);
  }
  V zs = sub(logits, constant<V>(to_device<D>(shift)));
  V lse = log(sum(exp(zs), {1}, true));
  V picked = sum(mul(zs, constant<V>(to_device<D>(onehot))), {1}, true);
  return mean_all(sub(lse, picked));
}

}  // namespace structgan
