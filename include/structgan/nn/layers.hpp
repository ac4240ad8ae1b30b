#pragma once
/// \file Linear and Conv2d (each with an optional bias and optional spectral normalization),
/// activations, pooling and upsampling as modules (SPEC §1).
#include <string>

#include "structgan/nn/init.hpp"
#include "structgan/nn/module.hpp"
#include "structgan/nn/spectral_norm.hpp"
#include "structgan/ops/conv_pool.hpp"

namespace structgan::nn {

/// Options of Linear: y = x Wᵀ + b with W of shape out × in.
struct LinearOptions {
  index_t in = 0, out = 0;
  bool bias = true;
  bool spectral_norm = false;  ///< W / σ(W) (spectral_norm.hpp)
  double sn_eps = 1e-6;
  WeightInit init = WeightInit::PyTorchDefault;
  LinearOptions() = default;
  LinearOptions(index_t in_, index_t out_) : in(in_), out(out_) {}
};

/// y = x·Wᵀ + b (PyTorch's nn.Linear), x of shape N × in, y of shape N × out.
/// Parameters `weight` [out, in] and `bias` [out] (if any); buffers `sn.u`, `sn.v` with spectral norm.
/// Initialization draws the weight, then the bias (U(±1/√in)), then the spectral-norm vectors.
/// \code
///   Rng rng(0);
///   nn::Linear<float> fc(nn::LinearOptions(512, 128), rng);
///   Tensor<float> y = fc(x);             // x: N×512 → N×128
///   Var<float> yv = fc(Var<float>(x));   // recorded: backward fills fc.weight.grad
/// \endcode
template <class T, class D = Cpu>
struct Linear : Module<Linear<T, D>> {
  using value_type = T;
  using device_type = D;

  Parameter<T, D> weight, bias;
  SpectralNorm<T, D> sn;

  Linear() = default;
  Linear(const LinearOptions& o, Rng& rng) {
    require(o.in >= 1 && o.out >= 1, "Linear: needs in ≥ 1 and out ≥ 1, got ", o.in, " → ", o.out);
    weight.value = init_weight<T, D>(Shape{o.out, o.in}, o.init, rng);
    if (o.bias) bias.value = init_bias<T, D>(o.out, o.in, rng);
    if (o.spectral_norm) sn = SpectralNorm<T, D>(o.out, o.in, rng, o.sn_eps);
  }
  index_t in_features() const { return weight.value.dim(1); }
  index_t out_features() const { return weight.value.dim(0); }

  /// The weight as the forward pass uses it (W, or W/σ with spectral norm).
  template <class V>
  V effective_weight() {
    return sn.enabled() ? sn.template apply<V>(weight, this->training) : lift<V>(weight);
  }
  /// x (N × in) → N × out.
  template <class V>
  V operator()(const V& x) {
    require(x.shape().rank() == 2 && x.shape()[1] == in_features(), "Linear: input ", x.shape(), " for ", in_features(),
            " → ", out_features());
    return linear(x, effective_weight<V>(), bias.value.defined() ? lift<V>(bias) : V());
  }
  template <class F>
  void members(F&& f) {
    f("weight", weight);
    if (bias.value.defined()) f("bias", bias);
    f("sn", sn);
  }
};

/// Options of Conv2d: a kernel of kernel_h × kernel_w (each < 0: `kernel`), one stride for both
/// axes, zero padding of padding_h rows and padding_w columns each side (each < 0: `padding`, and
/// when that is < 0 too, that side's kernel / 2: "same" for odd kernels).
struct Conv2dOptions {
  index_t in = 0, out = 0, kernel = 3, stride = 1;
  index_t padding = -1;  ///< < 0: kernel / 2 on each side
  index_t kernel_h = -1, kernel_w = -1, padding_h = -1, padding_w = -1;  ///< rectangular forms (1×7, 7×1)
  bool bias = true;
  bool spectral_norm = false;
  double sn_eps = 1e-6;
  WeightInit init = WeightInit::PyTorchDefault;
  Conv2dOptions() = default;
  Conv2dOptions(index_t in_, index_t out_, index_t kernel_ = 3) : in(in_), out(out_), kernel(kernel_) {}
};

/// 2-D convolution (PyTorch's nn.Conv2d, cross-correlation): N×in×H×W → N×out×Ho×Wo.
/// Parameters `weight` [out, in, kh, kw] and `bias` [out] (if any); buffers `sn.u`, `sn.v` with
/// spectral norm. Initialization draws the weight, the bias (U(±1/√(in·kh·kw))), then the SN vectors.
/// \code
///   nn::Conv2dOptions o(3, 64, 3);
///   o.bias = false;
///   o.init = nn::WeightInit::KaimingNormalFanOut;
///   nn::Conv2d<float> conv(o, rng);
///   auto y = conv(x);  // N×3×32×32 → N×64×32×32
/// \endcode
template <class T, class D = Cpu>
struct Conv2d : Module<Conv2d<T, D>> {
  using value_type = T;
  using device_type = D;

  Parameter<T, D> weight, bias;
  SpectralNorm<T, D> sn;
  index_t stride = 1, pad_h = 0, pad_w = 0;

  Conv2d() = default;
  Conv2d(const Conv2dOptions& o, Rng& rng) : stride(o.stride) {
    const index_t kh = o.kernel_h < 0 ? o.kernel : o.kernel_h, kw = o.kernel_w < 0 ? o.kernel : o.kernel_w;
    pad_h = o.padding_h >= 0 ? o.padding_h : o.padding >= 0 ? o.padding : kh / 2;
    pad_w = o.padding_w >= 0 ? o.padding_w : o.padding >= 0 ? o.padding : kw / 2;
    require(o.in >= 1 && o.out >= 1 && kh >= 1 && kw >= 1 && o.stride >= 1, "Conv2d: bad options in ", o.in, " out ",
            o.out, " kernel ", kh, "×", kw, " stride ", o.stride);
    weight.value = init_weight<T, D>(Shape{o.out, o.in, kh, kw}, o.init, rng);
    if (o.bias) bias.value = init_bias<T, D>(o.out, o.in * kh * kw, rng);
    if (o.spectral_norm) sn = SpectralNorm<T, D>(o.out, o.in * kh * kw, rng, o.sn_eps);
  }
  index_t in_channels() const { return weight.value.dim(1); }
  index_t out_channels() const { return weight.value.dim(0); }

  template <class V>
  V effective_weight() {
    return sn.enabled() ? sn.template apply<V>(weight, this->training) : lift<V>(weight);
  }
  template <class V>
  V operator()(const V& x) {
    V y = conv2d(x, effective_weight<V>(), stride, pad_h, pad_w);
    if (bias.value.defined()) y = add(y, reshape(lift<V>(bias), Shape{1, out_channels(), 1, 1}));
    return y;
  }
  template <class F>
  void members(F&& f) {
    f("weight", weight);
    if (bias.value.defined()) f("bias", bias);
    f("sn", sn);
  }
};

/// A module without parameters applying f; the activations, pooling and upsampling below.
#define STRUCTGAN_NN_STATELESS(Name, expr)                \
  struct Name : Module<Name> {                            \
    template <class V>                                    \
    V operator()(const V& x) const { return expr; }       \
    template <class F>                                    \
    void members(F&&) {}                                  \
  };

/// ELU (α = 1): x > 0 ? x : eˣ − 1 (D's activation, SPEC §1).
STRUCTGAN_NN_STATELESS(Elu, elu(x))
/// ReLU (G's activation).
STRUCTGAN_NN_STATELESS(Relu, relu(x))
/// tanh (G's output).
STRUCTGAN_NN_STATELESS(Tanh, tanh(x))
/// Nearest-neighbour upsampling by 2 (G's blocks).
STRUCTGAN_NN_STATELESS(UpsampleNearest2x, upsample_nearest2x(x))
#undef STRUCTGAN_NN_STATELESS

/// Average pooling with a k×k window and stride k (AvgPool2d(k)); identity for k = 1.
struct AvgPool2d : Module<AvgPool2d> {
  index_t kernel = 2;
  explicit AvgPool2d(index_t k = 2) : kernel(k) {}
  template <class V>
  V operator()(const V& x) const { return kernel == 1 ? x : avg_pool2d(x, kernel); }
  template <class F>
  void members(F&&) {}
};
/// Max pooling with a k×k window and stride k (MaxPool2d(k)).
struct MaxPool2d : Module<MaxPool2d> {
  index_t kernel = 2;
  explicit MaxPool2d(index_t k = 2) : kernel(k) {}
  template <class V>
  V operator()(const V& x) const { return kernel == 1 ? x : max_pool2d(x, kernel); }
  template <class F>
  void members(F&&) {}
};

}  // namespace structgan::nn
