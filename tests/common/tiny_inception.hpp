#pragma once
// A random-weights Inception-v3 weights file for tests (no real weights needed): every tensor
// nn::InceptionV3::expected_tensors names, at a reduced width, written as the .npz that
// train::load_inception_v3 reads (scripts/convert_inception_weights.py's layout). Convolutions
// and fc are He-normal and the BatchNorms scale without shifting (β and the running mean 0), so
// activations stay of order one through the 94 convolutions and the features follow the image:
// with random shifts a net this deep maps every image to nearly the same pool3 (measured with
// PyTorch: rows 0.3% apart with shifts of 0.1, 30% without), and a test comparing features could
// not tell one generator's samples from another's.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "structgan/core/random.hpp"
#include "structgan/io/npz.hpp"
#include "structgan/nn/inception.hpp"

namespace structgan::testing {

inline void write_random_inception_weights(const std::string& path, index_t width_divisor, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<io::NpzArray> arrays;
  for (const auto& [name, shape] : nn::InceptionV3<float>::expected_tensors(width_divisor)) {
    io::NpzArray a;
    a.name = name;
    std::uint64_t n = 1;
    for (int k = 0; k < shape.rank(); ++k) {
      a.shape.push_back(static_cast<std::uint64_t>(shape[k]));
      n *= static_cast<std::uint64_t>(shape[k]);
    }
    a.values.resize(n);
    auto ends_with = [&](const std::string& s) {
      return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    if (ends_with("bn.running_var")) {
      for (auto& v : a.values) v = 0.5 + rng.uniform();
    } else if (ends_with("bn.running_mean") || ends_with("bn.bias")) {
      for (auto& v : a.values) v = 0.0;
    } else if (ends_with("fc.bias")) {
      for (auto& v : a.values) v = 0.1 * rng.normal();
    } else if (ends_with("bn.weight")) {
      for (auto& v : a.values) v = 0.8 + 0.4 * rng.uniform();
    } else {  // conv.weight [out, in, kh, kw] and fc.weight [classes, features]: He-normal over the fan-in
      const double fan_in = static_cast<double>(n / a.shape[0]);
      for (auto& v : a.values) v = rng.normal() * std::sqrt(2.0 / fan_in);
    }
    arrays.push_back(std::move(a));
  }
  io::write_npz(path, arrays);
}

}  // namespace structgan::testing
