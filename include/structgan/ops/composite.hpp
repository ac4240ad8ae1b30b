#pragma once
/// \file Ops composed from primitives, so their reverse and tangent rules (and reverse over
/// forward) come from the primitives' rules: row L2-normalization. (The softmax cross-entropy,
/// one device kernel with its own rules, is in ops/softmax.hpp, included here.)
#include "structgan/ops/linalg.hpp"
#include "structgan/ops/softmax.hpp"

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

}  // namespace structgan
