#pragma once
/// \file A seeded subset of an image set, shared by structgan-eval and the training examples'
/// evaluation (the SVM on a subsample of the train split).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "structgan/data/image_set.hpp"
#include "structgan/eval/detail/common.hpp"

namespace structgan::examples {

/// n images of `set` drawn without replacement, kept in their original order (n = 0 or ≥ size:
/// all). An explicit Fisher–Yates shuffle over eval's xoshiro generator, so a seed picks the same
/// images with every standard library (std::shuffle's algorithm is the library's choice).
inline data::ImageSet subsample(const data::ImageSet& set, std::size_t n, std::uint64_t seed) {
  if (n == 0 || n >= set.size()) return set;
  std::vector<std::size_t> idx(set.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  eval::detail::Rng rng(seed);
  for (std::size_t i = idx.size(); i > 1; --i) std::swap(idx[i - 1], idx[rng.below(i)]);
  idx.resize(n);
  std::sort(idx.begin(), idx.end());
  return data::subset(set, idx);
}

}  // namespace structgan::examples
