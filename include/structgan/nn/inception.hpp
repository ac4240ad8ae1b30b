#pragma once
/// \file Inception-v3 as FID uses it (issue #23): pytorch-fid's port of the TensorFlow graph of
/// 2015-12-05 (`fid_inception_v3`): torchvision's Inception-v3 without the auxiliary head, 1008
/// classes, with the FID patches: the average pools of blocks A, C and E_1 exclude the padding
/// (TensorFlow's), and the last E block's pool branch takes a 3×3 max pool. Inference only, on
/// Tensor<T, D>, every device.
///
/// Parameter and buffer names are pytorch-fid's state_dict names ("Conv2d_1a_3x3.conv.weight",
/// "Mixed_5b.branch_pool.bn.running_var", "fc.weight"; BatchNorm's num_batches_tracked is not
/// kept). `from_arrays` checks a name → array map against them and folds each BatchNorm (eval,
/// eps 1e-3) into its convolution; train/inception.hpp reads such a map from a converted weights
/// file (scripts/convert_inception_weights.py; docs/image_metrics.md says where the file comes from).
///
/// A width divisor divides every channel count (1: the real network) so tests can run the same
/// architecture small; the input's 3 channels and the 1008 classes stay.
/// \code
///   auto net = train::load_inception_v3<float>("pt_inception-2015-12-05.npz");
///   Tensor<float> x = nn::inception_input(images);  // N×3×H×W in [−1, 1] → N×3×299×299
///   nn::InceptionOutput<float> out = net(x);        // out.pool3: N×2048, out.logits: N×1008
/// \endcode
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "structgan/nn/module.hpp"
#include "structgan/ops/conv_pool.hpp"
#include "structgan/ops/linalg.hpp"
#include "structgan/ops/resize.hpp"

namespace structgan::nn {

/// The side of the images Inception-v3 takes.
constexpr index_t kInceptionSize = 299;
/// Channels of pool3 (the FID features) and classes of the logits at full width.
constexpr index_t kInceptionPool3 = 2048;
constexpr index_t kInceptionClasses = 1008;
/// TensorFlow's BatchNorm epsilon in this graph.
constexpr double kInceptionBnEps = 1e-3;

namespace detail {

/// 3×3 average pool, stride 1, padding 1, the padding excluded from each window's count
/// (F.avg_pool2d(..., count_include_pad=False): TensorFlow's SAME average pool, the FID patch).
template <class T, class D>
Tensor<T, D> avg_pool_3x3_same(const Tensor<T, D>& x) {
  return avg_pool2d(x, 3, 1, 1, false);
}

/// 3×3 max pool, stride 1, padding 1 (the padding never wins): Mixed_7c's pool branch.
template <class T, class D>
Tensor<T, D> max_pool_3x3_same(const Tensor<T, D>& x) {
  return max_pool2d(x, 3, 1, 1);
}

}  // namespace detail

/// pytorch-fid's BasicConv2d: convolution without bias, BatchNorm (eval, eps 1e-3), ReLU.
/// Members (pytorch's names): `conv.weight` [out, in, kh, kw], `bn.weight`, `bn.bias` (γ, β) and
/// the buffers `bn.running_mean`, `bn.running_var`. The forward pass uses the folded convolution
/// w·γ/√(var + eps) with bias β − mean·γ/√(var + eps), made by fold_batch_norm().
template <class T, class D = Cpu>
struct InceptionConv : Module<InceptionConv<T, D>> {
  using value_type = T;
  using device_type = D;

  Parameter<T, D> conv_weight, bn_weight, bn_bias;
  Tensor<T, D> bn_running_mean, bn_running_var;
  index_t stride = 1, pad_h = 0, pad_w = 0;
  Tensor<T, D> folded_weight, folded_bias;  ///< not members: derived from the five above

  InceptionConv() = default;
  /// Zero weights, γ = 1, β = 0, mean 0, var 1 (the values come from a weights file).
  InceptionConv(index_t in, index_t out, index_t kh, index_t kw, index_t stride_ = 1, index_t pad_h_ = 0,
                index_t pad_w_ = 0)
      : stride(stride_), pad_h(pad_h_), pad_w(pad_w_) {
    require(in >= 1 && out >= 1, "InceptionConv: channels ", in, " → ", out);
    conv_weight.value = filled<T, D>(Shape{out, in, kh, kw}, T(0));
    bn_weight.value = filled<T, D>(Shape{out}, T(1));
    bn_bias.value = filled<T, D>(Shape{out}, T(0));
    bn_running_mean = filled<T, D>(Shape{out}, T(0));
    bn_running_var = filled<T, D>(Shape{out}, T(1));
  }
  index_t out_channels() const { return conv_weight.value.dim(0); }

  /// Folds the BatchNorm into the convolution (in double on the host).
  void fold_batch_norm() {
    const Tensor<T, Cpu> w = to_host(conv_weight.value), g = to_host(bn_weight.value), b = to_host(bn_bias.value),
                         m = to_host(bn_running_mean), v = to_host(bn_running_var);
    const index_t out = w.dim(0), per = w.numel() / out;
    Tensor<T, Cpu> fw(w.shape()), fb(Shape{out});
    for (index_t o = 0; o < out; ++o) {
      const double s = static_cast<double>(g.data()[o]) / std::sqrt(static_cast<double>(v.data()[o]) + kInceptionBnEps);
      for (index_t k = 0; k < per; ++k) fw.data()[o * per + k] = static_cast<T>(static_cast<double>(w.data()[o * per + k]) * s);
      fb.data()[o] = static_cast<T>(static_cast<double>(b.data()[o]) - static_cast<double>(m.data()[o]) * s);
    }
    folded_weight = to_device<D>(fw);
    folded_bias = to_device<D>(fb);
  }

  Tensor<T, D> operator()(const Tensor<T, D>& x) const {
    require(folded_weight.defined(), "InceptionConv: fold_batch_norm() was not called (weights not loaded)");
    Tensor<T, D> y = conv2d(x, folded_weight, stride, pad_h, pad_w);
    return relu(add(y, folded_bias.reshape(Shape{1, out_channels(), 1, 1})));
  }
  template <class F>
  void members(F&& f) {
    f("conv.weight", conv_weight);
    f("bn.weight", bn_weight);
    f("bn.bias", bn_bias);
    f("bn.running_mean", bn_running_mean);
    f("bn.running_var", bn_running_var);
  }
};

/// Mixed_5b–5d (pytorch-fid's FIDInceptionA): 1×1 | 1×1→5×5 | 1×1→3×3→3×3 | avg pool (padding
/// excluded)→1×1. Channels given already divided by the width divisor.
template <class T, class D = Cpu>
struct InceptionBlockA : Module<InceptionBlockA<T, D>> {
  using C = InceptionConv<T, D>;
  C branch1x1, branch5x5_1, branch5x5_2, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3, branch_pool;
  InceptionBlockA() = default;
  InceptionBlockA(index_t in, index_t pool_features, index_t div)
      : branch1x1(in, 64 / div, 1, 1), branch5x5_1(in, 48 / div, 1, 1), branch5x5_2(48 / div, 64 / div, 5, 5, 1, 2, 2),
        branch3x3dbl_1(in, 64 / div, 1, 1), branch3x3dbl_2(64 / div, 96 / div, 3, 3, 1, 1, 1),
        branch3x3dbl_3(96 / div, 96 / div, 3, 3, 1, 1, 1), branch_pool(in, pool_features, 1, 1) {}
  Tensor<T, D> operator()(const Tensor<T, D>& x) const {
    return concat(std::vector<Tensor<T, D>>{branch1x1(x), branch5x5_2(branch5x5_1(x)),
                                           branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x))),
                                           branch_pool(detail::avg_pool_3x3_same(x))},
                  1);
  }
  template <class F>
  void members(F&& f) {
    f("branch1x1", branch1x1);
    f("branch5x5_1", branch5x5_1);
    f("branch5x5_2", branch5x5_2);
    f("branch3x3dbl_1", branch3x3dbl_1);
    f("branch3x3dbl_2", branch3x3dbl_2);
    f("branch3x3dbl_3", branch3x3dbl_3);
    f("branch_pool", branch_pool);
  }
};

/// Mixed_6a (torchvision's InceptionB): 3×3 stride 2 | 1×1→3×3→3×3 stride 2 | max pool 3 stride 2.
template <class T, class D = Cpu>
struct InceptionBlockB : Module<InceptionBlockB<T, D>> {
  using C = InceptionConv<T, D>;
  C branch3x3, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3;
  InceptionBlockB() = default;
  InceptionBlockB(index_t in, index_t div)
      : branch3x3(in, 384 / div, 3, 3, 2), branch3x3dbl_1(in, 64 / div, 1, 1),
        branch3x3dbl_2(64 / div, 96 / div, 3, 3, 1, 1, 1), branch3x3dbl_3(96 / div, 96 / div, 3, 3, 2) {}
  Tensor<T, D> operator()(const Tensor<T, D>& x) const {
    return concat(std::vector<Tensor<T, D>>{branch3x3(x), branch3x3dbl_3(branch3x3dbl_2(branch3x3dbl_1(x))),
                                           max_pool2d(x, 3, 2)},
                  1);
  }
  template <class F>
  void members(F&& f) {
    f("branch3x3", branch3x3);
    f("branch3x3dbl_1", branch3x3dbl_1);
    f("branch3x3dbl_2", branch3x3dbl_2);
    f("branch3x3dbl_3", branch3x3dbl_3);
  }
};

/// Mixed_6b–6e (FIDInceptionC): 1×1 | 1×1→1×7→7×1 | 1×1→7×1→1×7→7×1→1×7 | avg pool (padding
/// excluded)→1×1, with c7 channels inside the 7-branches.
template <class T, class D = Cpu>
struct InceptionBlockC : Module<InceptionBlockC<T, D>> {
  using C = InceptionConv<T, D>;
  C branch1x1, branch7x7_1, branch7x7_2, branch7x7_3, branch7x7dbl_1, branch7x7dbl_2, branch7x7dbl_3, branch7x7dbl_4,
      branch7x7dbl_5, branch_pool;
  InceptionBlockC() = default;
  InceptionBlockC(index_t in, index_t c7, index_t div)
      : branch1x1(in, 192 / div, 1, 1), branch7x7_1(in, c7, 1, 1), branch7x7_2(c7, c7, 1, 7, 1, 0, 3),
        branch7x7_3(c7, 192 / div, 7, 1, 1, 3, 0), branch7x7dbl_1(in, c7, 1, 1), branch7x7dbl_2(c7, c7, 7, 1, 1, 3, 0),
        branch7x7dbl_3(c7, c7, 1, 7, 1, 0, 3), branch7x7dbl_4(c7, c7, 7, 1, 1, 3, 0),
        branch7x7dbl_5(c7, 192 / div, 1, 7, 1, 0, 3), branch_pool(in, 192 / div, 1, 1) {}
  Tensor<T, D> operator()(const Tensor<T, D>& x) const {
    Tensor<T, D> dbl = branch7x7dbl_3(branch7x7dbl_2(branch7x7dbl_1(x)));
    return concat(std::vector<Tensor<T, D>>{branch1x1(x), branch7x7_3(branch7x7_2(branch7x7_1(x))),
                                           branch7x7dbl_5(branch7x7dbl_4(dbl)),
                                           branch_pool(detail::avg_pool_3x3_same(x))},
                  1);
  }
  template <class F>
  void members(F&& f) {
    f("branch1x1", branch1x1);
    f("branch7x7_1", branch7x7_1);
    f("branch7x7_2", branch7x7_2);
    f("branch7x7_3", branch7x7_3);
    f("branch7x7dbl_1", branch7x7dbl_1);
    f("branch7x7dbl_2", branch7x7dbl_2);
    f("branch7x7dbl_3", branch7x7dbl_3);
    f("branch7x7dbl_4", branch7x7dbl_4);
    f("branch7x7dbl_5", branch7x7dbl_5);
    f("branch_pool", branch_pool);
  }
};

/// Mixed_7a (torchvision's InceptionD): 1×1→3×3 stride 2 | 1×1→1×7→7×1→3×3 stride 2 | max pool 3 stride 2.
template <class T, class D = Cpu>
struct InceptionBlockD : Module<InceptionBlockD<T, D>> {
  using C = InceptionConv<T, D>;
  C branch3x3_1, branch3x3_2, branch7x7x3_1, branch7x7x3_2, branch7x7x3_3, branch7x7x3_4;
  InceptionBlockD() = default;
  InceptionBlockD(index_t in, index_t div)
      : branch3x3_1(in, 192 / div, 1, 1), branch3x3_2(192 / div, 320 / div, 3, 3, 2), branch7x7x3_1(in, 192 / div, 1, 1),
        branch7x7x3_2(192 / div, 192 / div, 1, 7, 1, 0, 3), branch7x7x3_3(192 / div, 192 / div, 7, 1, 1, 3, 0),
        branch7x7x3_4(192 / div, 192 / div, 3, 3, 2) {}
  Tensor<T, D> operator()(const Tensor<T, D>& x) const {
    return concat(std::vector<Tensor<T, D>>{branch3x3_2(branch3x3_1(x)),
                                           branch7x7x3_4(branch7x7x3_3(branch7x7x3_2(branch7x7x3_1(x)))),
                                           max_pool2d(x, 3, 2)},
                  1);
  }
  template <class F>
  void members(F&& f) {
    f("branch3x3_1", branch3x3_1);
    f("branch3x3_2", branch3x3_2);
    f("branch7x7x3_1", branch7x7x3_1);
    f("branch7x7x3_2", branch7x7x3_2);
    f("branch7x7x3_3", branch7x7x3_3);
    f("branch7x7x3_4", branch7x7x3_4);
  }
};

/// Mixed_7b and 7c (FIDInceptionE_1, FIDInceptionE_2): 1×1 | 1×1→(1×3 ‖ 3×1) | 1×1→3×3→(1×3 ‖ 3×1)
/// | pool→1×1, the pool an average pool excluding the padding (7b) or a 3×3 max pool (7c).
template <class T, class D = Cpu>
struct InceptionBlockE : Module<InceptionBlockE<T, D>> {
  using C = InceptionConv<T, D>;
  C branch1x1, branch3x3_1, branch3x3_2a, branch3x3_2b, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3a, branch3x3dbl_3b,
      branch_pool;
  bool max_pool = false;
  InceptionBlockE() = default;
  InceptionBlockE(index_t in, bool max_pool_, index_t div)
      : branch1x1(in, 320 / div, 1, 1), branch3x3_1(in, 384 / div, 1, 1), branch3x3_2a(384 / div, 384 / div, 1, 3, 1, 0, 1),
        branch3x3_2b(384 / div, 384 / div, 3, 1, 1, 1, 0), branch3x3dbl_1(in, 448 / div, 1, 1),
        branch3x3dbl_2(448 / div, 384 / div, 3, 3, 1, 1, 1), branch3x3dbl_3a(384 / div, 384 / div, 1, 3, 1, 0, 1),
        branch3x3dbl_3b(384 / div, 384 / div, 3, 1, 1, 1, 0), branch_pool(in, 192 / div, 1, 1), max_pool(max_pool_) {}
  Tensor<T, D> operator()(const Tensor<T, D>& x) const {
    const Tensor<T, D> b3 = branch3x3_1(x), bd = branch3x3dbl_2(branch3x3dbl_1(x));
    const Tensor<T, D> pooled = max_pool ? detail::max_pool_3x3_same(x) : detail::avg_pool_3x3_same(x);
    return concat(std::vector<Tensor<T, D>>{branch1x1(x), branch3x3_2a(b3), branch3x3_2b(b3), branch3x3dbl_3a(bd),
                                           branch3x3dbl_3b(bd), branch_pool(pooled)},
                  1);
  }
  template <class F>
  void members(F&& f) {
    f("branch1x1", branch1x1);
    f("branch3x3_1", branch3x3_1);
    f("branch3x3_2a", branch3x3_2a);
    f("branch3x3_2b", branch3x3_2b);
    f("branch3x3dbl_1", branch3x3dbl_1);
    f("branch3x3dbl_2", branch3x3dbl_2);
    f("branch3x3dbl_3a", branch3x3dbl_3a);
    f("branch3x3dbl_3b", branch3x3dbl_3b);
    f("branch_pool", branch_pool);
  }
};

/// What InceptionV3 computes for a batch.
template <class T, class D = Cpu>
struct InceptionOutput {
  Tensor<T, D> pool3;            ///< N × 2048/div: the adaptive average pool after Mixed_7c (FID, KID)
  Tensor<T, D> logits;           ///< N × 1008: fc(pool3) = pool3·Wᵀ + b (pytorch-fid, torch-fidelity's "logits")
  Tensor<T, D> logits_unbiased;  ///< N × 1008: pool3·Wᵀ, no bias (the original TF Inception Score code; torch-fidelity's IS)
};

/// pytorch-fid's FID Inception-v3 (see the file comment). Construct with a width divisor (zero
/// weights), then fill it with from_arrays (or train::load_inception_v3 for a file).
template <class T, class D = Cpu>
struct InceptionV3 : Module<InceptionV3<T, D>> {
  using value_type = T;
  using device_type = D;
  using C = InceptionConv<T, D>;

  C Conv2d_1a_3x3, Conv2d_2a_3x3, Conv2d_2b_3x3, Conv2d_3b_1x1, Conv2d_4a_3x3;
  InceptionBlockA<T, D> Mixed_5b, Mixed_5c, Mixed_5d;
  InceptionBlockB<T, D> Mixed_6a;
  InceptionBlockC<T, D> Mixed_6b, Mixed_6c, Mixed_6d, Mixed_6e;
  InceptionBlockD<T, D> Mixed_7a;
  InceptionBlockE<T, D> Mixed_7b, Mixed_7c;
  Parameter<T, D> fc_weight, fc_bias;  ///< "fc.weight" [1008, 2048/div], "fc.bias" [1008]

  /// The width divisors every channel count of the network is divisible by.
  static bool valid_width_divisor(index_t div) { return div == 1 || div == 2 || div == 4 || div == 8 || div == 16; }

  /// An empty network (no tensors; not ready): a placeholder to assign a loaded one to.
  InceptionV3() = default;
  /// The architecture with every channel count divided by `width_divisor` (1, 2, 4, 8 or 16), zero
  /// weights, identity BatchNorms, not yet folded (from_arrays fills and folds it).
  explicit InceptionV3(index_t width_divisor) : div_(width_divisor) {
    require(valid_width_divisor(width_divisor), "InceptionV3: width divisor must be 1, 2, 4, 8 or 16, got ", width_divisor);
    const index_t d = width_divisor;
    Conv2d_1a_3x3 = C(3, 32 / d, 3, 3, 2);
    Conv2d_2a_3x3 = C(32 / d, 32 / d, 3, 3);
    Conv2d_2b_3x3 = C(32 / d, 64 / d, 3, 3, 1, 1, 1);
    Conv2d_3b_1x1 = C(64 / d, 80 / d, 1, 1);
    Conv2d_4a_3x3 = C(80 / d, 192 / d, 3, 3);
    Mixed_5b = InceptionBlockA<T, D>(192 / d, 32 / d, d);
    Mixed_5c = InceptionBlockA<T, D>(256 / d, 64 / d, d);
    Mixed_5d = InceptionBlockA<T, D>(288 / d, 64 / d, d);
    Mixed_6a = InceptionBlockB<T, D>(288 / d, d);
    Mixed_6b = InceptionBlockC<T, D>(768 / d, 128 / d, d);
    Mixed_6c = InceptionBlockC<T, D>(768 / d, 160 / d, d);
    Mixed_6d = InceptionBlockC<T, D>(768 / d, 160 / d, d);
    Mixed_6e = InceptionBlockC<T, D>(768 / d, 192 / d, d);
    Mixed_7a = InceptionBlockD<T, D>(768 / d, d);
    Mixed_7b = InceptionBlockE<T, D>(1280 / d, false, d);
    Mixed_7c = InceptionBlockE<T, D>(2048 / d, true, d);
    fc_weight.value = filled<T, D>(Shape{kInceptionClasses, kInceptionPool3 / d}, T(0));
    fc_bias.value = filled<T, D>(Shape{kInceptionClasses}, T(0));
  }

  index_t width_divisor() const { return div_; }
  /// Channels of pool3: 2048 / width divisor.
  index_t feature_dim() const { return kInceptionPool3 / div_; }
  /// Whether the BatchNorms are folded (from_arrays done): the forward pass needs it.
  bool ready() const { return Conv2d_1a_3x3.folded_weight.defined(); }

  /// Every tensor a weights file must hold for this width, in pytorch-fid's state_dict order
  /// (without num_batches_tracked): name and shape.
  static std::vector<std::pair<std::string, Shape>> expected_tensors(index_t width_divisor = 1) {
    InceptionV3 net(width_divisor);
    std::vector<std::pair<std::string, Shape>> out;
    net.visit(make_visitor([&](const std::string& n, auto& p) { out.emplace_back(n, p.value.shape()); },
                           [&](const std::string& n, auto& b) { out.emplace_back(n, b.shape()); }),
              "");
    return out;
  }

  /// The network filled from a name → array map (a converted pytorch-fid state_dict), with its
  /// BatchNorms folded. The width divisor is 32 / the output channels of Conv2d_1a_3x3.conv.weight.
  /// Every expected tensor must be present with its shape and finite values, and no other tensor
  /// (but `*.num_batches_tracked`) may be: else structgan::Error naming the tensor and `source`.
  static InceptionV3 from_arrays(const std::map<std::string, Tensor<double, Cpu>>& arrays, const std::string& source) {
    const std::string first = "Conv2d_1a_3x3.conv.weight";
    const auto it = arrays.find(first);
    require(it != arrays.end(), "Inception weights ", source, ": missing tensor ", first);
    const Shape s0 = it->second.shape();
    require(s0.rank() == 4 && s0[0] >= 1 && 32 % s0[0] == 0 && valid_width_divisor(32 / s0[0]) && s0[1] == 3 &&
                s0[2] == 3 && s0[3] == 3,
            "Inception weights ", source, ": tensor ", first, " has shape ", s0,
            ", expected [32/d, 3, 3, 3] for a width divisor d of 1, 2, 4, 8 or 16");
    InceptionV3 net(32 / s0[0]);
    std::map<std::string, bool> used;
    auto fill = [&](const std::string& name, Tensor<T, D>& dst) {
      const auto a = arrays.find(name);
      require(a != arrays.end(), "Inception weights ", source, ": missing tensor ", name, " (shape ", dst.shape(), ")");
      require(a->second.shape() == dst.shape(), "Inception weights ", source, ": tensor ", name, " has shape ",
              a->second.shape(), ", expected ", dst.shape());
      Tensor<T, Cpu> host(dst.shape());
      const double* v = a->second.data();
      for (index_t i = 0; i < host.numel(); ++i) {
        require(std::isfinite(v[i]), "Inception weights ", source, ": tensor ", name, " holds NaN or Inf (element ", i, ")");
        host.data()[i] = static_cast<T>(v[i]);
      }
      dst = to_device<D>(host);
      used[name] = true;
    };
    net.visit(make_visitor([&](const std::string& n, auto& p) { fill(n, p.value); },
                           [&](const std::string& n, auto& b) { fill(n, b); }),
              "");
    const std::string ignored = ".num_batches_tracked";
    for (const auto& [name, a] : arrays) {
      const bool counter = name.size() > ignored.size() && name.compare(name.size() - ignored.size(), ignored.size(), ignored) == 0;
      require(used.count(name) || counter, "Inception weights ", source, ": unexpected tensor ", name, " (shape ", a.shape(),
              ") for width divisor ", net.div_);
    }
    net.fold_batch_norms();
    return net;
  }

  /// Folds every BatchNorm into its convolution (after the members were changed directly).
  void fold_batch_norms() {
    visit_convs([](C& c) { c.fold_batch_norm(); });
  }

  /// x: N×3×299×299 in [−1, 1] (inception_input makes it) → pool3 and logits.
  InceptionOutput<T, D> operator()(const Tensor<T, D>& x) const {
    require(ready(), "InceptionV3: no weights loaded (use from_arrays or train::load_inception_v3)");
    require(x.rank() == 4 && x.dim(0) >= 1 && x.dim(1) == 3 && x.dim(2) == kInceptionSize && x.dim(3) == kInceptionSize,
            "InceptionV3: input must be N×3×299×299 (inception_input resizes images), got ", x.shape());
    Tensor<T, D> y = Conv2d_2b_3x3(Conv2d_2a_3x3(Conv2d_1a_3x3(x)));
    y = max_pool2d(y, 3, 2);
    y = Conv2d_4a_3x3(Conv2d_3b_1x1(y));
    y = max_pool2d(y, 3, 2);
    y = Mixed_5d(Mixed_5c(Mixed_5b(y)));
    y = Mixed_6e(Mixed_6d(Mixed_6c(Mixed_6b(Mixed_6a(y)))));
    y = Mixed_7c(Mixed_7b(Mixed_7a(y)));
    InceptionOutput<T, D> out;
    out.pool3 = mean(y, {2, 3});  // adaptive average pool to 1×1, flattened: N × 2048/div
    out.logits_unbiased = matmul(out.pool3, fc_weight.value, false, true);
    out.logits = add(out.logits_unbiased, fc_bias.value);
    return out;
  }

  template <class F>
  void members(F&& f) {
    f("Conv2d_1a_3x3", Conv2d_1a_3x3);
    f("Conv2d_2a_3x3", Conv2d_2a_3x3);
    f("Conv2d_2b_3x3", Conv2d_2b_3x3);
    f("Conv2d_3b_1x1", Conv2d_3b_1x1);
    f("Conv2d_4a_3x3", Conv2d_4a_3x3);
    f("Mixed_5b", Mixed_5b);
    f("Mixed_5c", Mixed_5c);
    f("Mixed_5d", Mixed_5d);
    f("Mixed_6a", Mixed_6a);
    f("Mixed_6b", Mixed_6b);
    f("Mixed_6c", Mixed_6c);
    f("Mixed_6d", Mixed_6d);
    f("Mixed_6e", Mixed_6e);
    f("Mixed_7a", Mixed_7a);
    f("Mixed_7b", Mixed_7b);
    f("Mixed_7c", Mixed_7c);
    f("fc.weight", fc_weight);
    f("fc.bias", fc_bias);
  }

 private:
  index_t div_ = 1;

  // Calls g on every InceptionConv, wherever it sits.
  template <class G>
  void visit_convs(G&& g) {
    auto each = [&](auto& block) {
      block.members([&](const std::string&, auto& m) {
        if constexpr (std::is_same_v<std::decay_t<decltype(m)>, C>) g(m);
      });
    };
    members([&](const std::string&, auto& m) {
      using M = std::decay_t<decltype(m)>;
      if constexpr (std::is_same_v<M, C>) g(m);
      else if constexpr (!std::is_same_v<M, Parameter<T, D>>) each(m);
    });
  }
};

/// Images N×3×H×W in [−1, 1] → N×3×299×299 in [−1, 1], resized with `kind` (pytorch-fid's
/// bilinear by default). pytorch-fid resizes images in [0, 1] and then maps them to [−1, 1]; the
/// resize is affine with rows summing to one, so resizing in [−1, 1] directly is the same map.
template <class T, class D>
Tensor<T, D> inception_input(const Tensor<T, D>& images, ResizeKind kind = ResizeKind::PytorchBilinear) {
  require(images.rank() == 4 && images.dim(0) >= 1 && images.dim(1) == 3 && images.dim(2) >= 1 && images.dim(3) >= 1,
          "inception_input: images must be N×3×H×W, got ", images.shape());
  return resize_bilinear(images, kInceptionSize, kInceptionSize, kind);
}

/// 8-bit images (N×3×H×W, C order, 0..255) → N×3×299×299 in [−1, 1] on device D, as pytorch-fid
/// does it: x/255, resize, 2x − 1.
template <class T, class D = Cpu>
Tensor<T, D> inception_input_uint8(const std::uint8_t* pixels, const Shape& nchw,
                                   ResizeKind kind = ResizeKind::PytorchBilinear) {
  require(nchw.rank() == 4 && nchw[0] >= 1 && nchw[1] == 3 && nchw[2] >= 1 && nchw[3] >= 1,
          "inception_input_uint8: images must be N×3×H×W, got ", nchw);
  Tensor<T, Cpu> host(nchw);
  for (index_t i = 0; i < host.numel(); ++i) host.data()[i] = static_cast<T>(pixels[i]) / T(255);
  Tensor<T, D> x = resize_bilinear(to_device<D>(host), kInceptionSize, kInceptionSize, kind);
  return add_scalar(mul_scalar(x, T(2)), T(-1));
}

}  // namespace structgan::nn
