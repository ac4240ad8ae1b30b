#pragma once
// Synthetic data for the eval tests: Gaussian clusters around random unit directions.
#include <random>
#include <vector>

#include "structgan/eval/detail/common.hpp"

namespace evtest {

struct Clusters {
  structgan::eval::RowMatrixF x;
  std::vector<int> labels;
};

/// `per` points in each of `k` clusters in D dimensions: unit center + N(0, noise²) per coordinate.
inline Clusters sphere_clusters(int k, int per, int d, float noise, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  structgan::eval::RowMatrixF centers(k, d);
  for (int c = 0; c < k; ++c) {
    for (int j = 0; j < d; ++j) centers(c, j) = g(gen);
    centers.row(c).normalize();
  }
  Clusters out;
  out.x.resize(k * per, d);
  for (int i = 0; i < k * per; ++i) {
    const int c = i % k;  // interleaved, so no method can profit from the order
    for (int j = 0; j < d; ++j) out.x(i, j) = centers(c, j) + noise * g(gen);
    out.labels.push_back(c);
  }
  return out;
}

}  // namespace evtest
