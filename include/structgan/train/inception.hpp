#pragma once
/// \file Inception-v3 from a weights file, and batched feature extraction for FID, KID and IS
/// (issue #23). The network is nn::InceptionV3 (nn/inception.hpp); the file is pytorch-fid's
/// `pt_inception-2015-12-05-6726825d.pth` converted to .npz by scripts/convert_inception_weights.py
/// (docs/image_metrics.md). Here because nn/ may not read files (io/ sits beside it).
/// \code
///   auto net = train::load_inception_v3<float>("inception.npz");
///   train::InceptionFeatures f = train::extract_inception_features<float>(
///       net, 10000, [&](index_t first, index_t count) { return images_in_minus1_1(first, count); });
///   // f.pool3: 10000 × 2048, f.logits: 10000 × 1008 (host, double)
/// \endcode
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include <Eigen/Core>

#include "structgan/io/npz.hpp"
#include "structgan/nn/inception.hpp"
#include "structgan/train/progress.hpp"

namespace structgan::train {

/// Reads a converted Inception weights file (.npz of float32/float64 arrays named as pytorch-fid's
/// state_dict) into every array's name → values (double, on the host). `*.num_batches_tracked`
/// members are skipped. Throws structgan::Error naming the file (and the member) when the file is
/// missing, not a zip, truncated, corrupt (CRC), or holds a non-float array or one of rank > 4.
inline std::map<std::string, Tensor<double, Cpu>> read_inception_arrays(const std::string& npz_path) {
  std::map<std::string, std::string> members = io::read_npz_members(npz_path);
  std::map<std::string, Tensor<double, Cpu>> out;
  const std::string counter = ".num_batches_tracked";
  for (auto& [name, bytes] : members) {
    if (name.size() > counter.size() && name.compare(name.size() - counter.size(), counter.size(), counter) == 0) continue;
    const io::NpzArray a = io::npy_bytes_to_array(bytes, npz_path + ": " + name);
    bytes.clear();
    bytes.shrink_to_fit();
    require(a.shape.size() <= 4, "Inception weights ", npz_path, ": tensor ", name, " has rank ", a.shape.size(),
            " (at most 4 expected)");
    std::vector<index_t> dims;
    for (std::uint64_t d : a.shape) dims.push_back(static_cast<index_t>(d));
    const Shape s = Shape::from_range(dims.begin(), dims.end());
    Tensor<double, Cpu> t(s);
    std::copy(a.values.begin(), a.values.end(), t.data());
    out.emplace(name, std::move(t));
  }
  return out;
}

/// The FID Inception-v3 on device D from a converted weights file: the width divisor inferred from
/// Conv2d_1a_3x3.conv.weight, then every tensor checked by name, shape and finiteness
/// (nn::InceptionV3::from_arrays). Errors name the tensor and the file.
template <class T, class D = Cpu>
nn::InceptionV3<T, D> load_inception_v3(const std::string& npz_path) {
  return nn::InceptionV3<T, D>::from_arrays(read_inception_arrays(npz_path), npz_path);
}

/// Features of a set of images, one row per image, on the host in double.
struct InceptionFeatures {
  Eigen::MatrixXd pool3;            ///< N × 2048/div (FID, KID)
  Eigen::MatrixXd logits;           ///< N × 1008, with the fc bias
  Eigen::MatrixXd logits_unbiased;  ///< N × 1008, without it (the original Inception Score code)
};

/// Images first … first+count−1 as a count × 3 × H × W tensor in [−1, 1] (any H × W: they are resized).
template <class T, class D = Cpu>
using InceptionImageBatch = std::function<Tensor<T, D>(index_t first, index_t count)>;
/// Fills `pixels` with images first … first+count−1 as count × 3 × height × width bytes (0..255, C order).
using InceptionUint8Batch = std::function<void(index_t first, index_t count, std::uint8_t* pixels)>;

namespace detail {
// Keeps a parameter out of template argument deduction (T and D come from the network).
template <class X>
struct identity {
  using type = X;
};
template <class X>
using identity_t = typename identity<X>::type;

template <class T, class D, class MakeInput>
InceptionFeatures run_inception(const nn::InceptionV3<T, D>& net, index_t n, index_t batch, bool progress,
                                MakeInput&& make_input) {
  require(n >= 1, "extract_inception_features: needs at least one image, got ", n);
  require(batch >= 1, "extract_inception_features: batch must be ≥ 1, got ", batch);
  require(net.ready(), "extract_inception_features: the network has no weights");
  InceptionFeatures f;
  f.pool3.resize(n, net.feature_dim());
  f.logits.resize(n, nn::kInceptionClasses);
  f.logits_unbiased.resize(n, nn::kInceptionClasses);
  const index_t batches = (n + batch - 1) / batch;
  ProgressBar bar(batches);
  for (index_t b = 0; b < batches; ++b) {
    const index_t first = b * batch, count = std::min(batch, n - first);
    const Tensor<T, D> x = make_input(first, count);
    require(x.rank() == 4 && x.dim(0) == count, "extract_inception_features: batch ", b, " holds ", x.shape(),
            ", expected ", count, " images");
    const nn::InceptionOutput<T, D> out = net(x);
    const Tensor<T, Cpu> p = to_host(out.pool3), l = to_host(out.logits), u = to_host(out.logits_unbiased);
    for (index_t i = 0; i < count; ++i) {
      for (index_t j = 0; j < p.dim(1); ++j) f.pool3(first + i, j) = static_cast<double>(p.data()[i * p.dim(1) + j]);
      for (index_t j = 0; j < l.dim(1); ++j) {
        f.logits(first + i, j) = static_cast<double>(l.data()[i * l.dim(1) + j]);
        f.logits_unbiased(first + i, j) = static_cast<double>(u.data()[i * u.dim(1) + j]);
      }
    }
    if (progress) bar.update(b + 1, {});
  }
  if (progress) bar.finish();
  return f;
}
}  // namespace detail

/// Inception features of n images given in [−1, 1] by `images` (batches of at most `batch`), each
/// resized to 299×299 with `kind`. `progress`: a bar on stderr.
template <class T, class D = Cpu>
InceptionFeatures extract_inception_features(const nn::InceptionV3<T, D>& net, index_t n,
                                             const detail::identity_t<InceptionImageBatch<T, D>>& images, index_t batch = 50,
                                             ResizeKind kind = ResizeKind::PytorchBilinear, bool progress = false) {
  return detail::run_inception(net, n, batch, progress, [&](index_t first, index_t count) {
    const Tensor<T, D> x = images(first, count);
    require(x.rank() == 4 && x.dim(0) == count && x.dim(1) == 3, "extract_inception_features: images ", first, "…",
            first + count - 1, " came as ", x.shape(), ", expected ", count, "×3×H×W");
    return nn::inception_input(x, kind);
  });
}

/// The same for n 8-bit images of height × width (pytorch-fid's scaling: x/255, resize, 2x − 1).
template <class T, class D = Cpu>
InceptionFeatures extract_inception_features_uint8(const nn::InceptionV3<T, D>& net, index_t n, index_t height,
                                                   index_t width, const InceptionUint8Batch& images, index_t batch = 50,
                                                   ResizeKind kind = ResizeKind::PytorchBilinear, bool progress = false) {
  require(height >= 1 && width >= 1, "extract_inception_features_uint8: image size ", height, "×", width);
  std::vector<std::uint8_t> pixels;
  return detail::run_inception(net, n, batch, progress, [&](index_t first, index_t count) {
    pixels.assign(static_cast<std::size_t>(count * 3 * height * width), 0);
    images(first, count, pixels.data());
    return nn::inception_input_uint8<T, D>(pixels.data(), Shape{count, 3, height, width}, kind);
  });
}

}  // namespace structgan::train
