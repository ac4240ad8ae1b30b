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
  data::ImageSet out;
  out.channels = set.channels;
  out.height = set.height;
  out.width = set.width;
  out.class_names = set.class_names;
  out.labels.resize(n);
  if (set.variable_size()) out.offsets.push_back(0);
  for (std::size_t i = 0; i < n; ++i) {  // whole-image (variable-size) sets carry their sizes along
    out.pixels.insert(out.pixels.end(), set.image(idx[i]), set.image(idx[i]) + set.image_bytes(idx[i]));
    if (set.variable_size()) {
      out.sizes.push_back(set.sizes[idx[i]]);
      out.offsets.push_back(out.pixels.size());
    }
    out.labels[i] = set.labels[idx[i]];
  }
  return out;
}

}  // namespace structgan::examples
