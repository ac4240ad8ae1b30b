#pragma once
/// \file Convolution, pooling and upsampling on NCHW tensors, with their three rules.
#include "structgan/ops/elementwise.hpp"

namespace structgan {

namespace detail {
inline ConvGeometry conv_geometry(const Shape& x, const Shape& w, index_t stride, index_t pad_h, index_t pad_w) {
  require(x.rank() == 4, "conv2d: input must be N×C×H×W, got ", x);
  require(w.rank() == 4, "conv2d: weight must be O×C×kh×kw, got ", w);
  require(x[1] == w[1], "conv2d: input ", x, " has ", x[1], " channels but weight ", w, " expects ", w[1]);
  require(stride >= 1, "conv2d: stride ", stride, " must be ≥ 1");
  require(pad_h >= 0 && pad_w >= 0, "conv2d: padding (", pad_h, ", ", pad_w, ") must be ≥ 0");
  require(x[2] + 2 * pad_h >= w[2] && x[3] + 2 * pad_w >= w[3], "conv2d: kernel ", w, " larger than input ", x,
          " padded by (", pad_h, ", ", pad_w, ")");
  return ConvGeometry{x[0], x[1], x[2], x[3], w[0], w[2], w[3], stride, pad_h, pad_w};
}
/// The geometry of `op` (a pooling) on x; s = 0 means s = k. Rejects what PyTorch rejects:
/// padding beyond half the window, a window larger than the padded input.
inline PoolGeometry pool_geometry(const char* op, const Shape& x, index_t k, index_t s, index_t pad, bool count_padding) {
  s = s ? s : k;
  require(x.rank() == 4, op, ": input must be N×C×H×W, got ", x);
  require(k >= 1 && s >= 1, op, ": window ", k, " and stride ", s, " must be ≥ 1");
  require(pad >= 0 && 2 * pad <= k, op, ": pad should be at most half of kernel size, got pad ", pad, " for window ", k);
  require(x[2] + 2 * pad >= k && x[3] + 2 * pad >= k, op, ": window ", k, " stride ", s, " pad ", pad, " does not fit ", x);
  return PoolGeometry{x[0], x[1], x[2], x[3], k, s, pad, count_padding};
}
inline Shape pool_shape(const PoolGeometry& g) { return Shape{g.n, g.c, g.ho(), g.wo()}; }
}  // namespace detail

/// 2-D cross-correlation (PyTorch's conv2d) of x (N×C×H×W) with w (O×C×kh×kw), one stride for
/// both axes, zero padding of pad_h rows above and below and pad_w columns left and right, no
/// bias: N×O×Ho×Wo. Any kernel size (1×7 with padding (0, 3) in Inception-v3).
template <class T, class D>
Tensor<T, D> conv2d(const Tensor<T, D>& x, const Tensor<T, D>& w, index_t stride, index_t pad_h, index_t pad_w) {
  const ConvGeometry g = detail::conv_geometry(x.shape(), w.shape(), stride, pad_h, pad_w);
  Tensor<T, D> y(Shape{g.n, g.o, g.ho(), g.wo()});
  conv2d_forward(D{}, g, x.data(), w.data(), y.data());
  return y;
}
template <class T, class D>
Var<T, D> conv2d(const Var<T, D>& x, const Var<T, D>& w, index_t stride, index_t pad_h, index_t pad_w) {
  const Tensor<T, D> xv = x.value(), wv = w.value();
  const ConvGeometry g = detail::conv_geometry(xv.shape(), wv.shape(), stride, pad_h, pad_w);
  return Var<T, D>::op(conv2d(xv, wv, stride, pad_h, pad_w), {&x, &w}, [xv, wv, g](auto& n) {
    Tensor<T, D> dx = needs_grad(n, 0) ? Tensor<T, D>(xv.shape()) : Tensor<T, D>();
    Tensor<T, D> dw = needs_grad(n, 1) ? filled<T, D>(wv.shape(), T(0)) : Tensor<T, D>();
    conv2d_backward(D{}, g, xv.data(), wv.data(), n.grad.data(), dx.defined() ? dx.data() : nullptr,
                    dw.defined() ? dw.data() : nullptr);
    if (dx.defined()) send_grad(n, 0, dx);
    if (dw.defined()) send_grad(n, 1, dw);
  });
}
template <class V>
DualTensor<V> conv2d(const DualTensor<V>& x, const DualTensor<V>& w, index_t stride, index_t pad_h, index_t pad_w) {
  V y = primal_value([&] { return conv2d(x.primal, w.primal, stride, pad_h, pad_w); });
  return {y, detail::add_optional(x.has_tangent() ? conv2d(x.tangent, w.primal, stride, pad_h, pad_w) : V(),
                                  w.has_tangent() ? conv2d(x.primal, w.tangent, stride, pad_h, pad_w) : V(), y.shape())};
}
/// The same with square padding: pad on every side.
template <class T, class D>
Tensor<T, D> conv2d(const Tensor<T, D>& x, const Tensor<T, D>& w, index_t stride = 1, index_t pad = 0) {
  return conv2d(x, w, stride, pad, pad);
}
template <class T, class D>
Var<T, D> conv2d(const Var<T, D>& x, const Var<T, D>& w, index_t stride = 1, index_t pad = 0) {
  return conv2d(x, w, stride, pad, pad);
}
template <class V>
DualTensor<V> conv2d(const DualTensor<V>& x, const DualTensor<V>& w, index_t stride = 1, index_t pad = 0) {
  return conv2d(x, w, stride, pad, pad);
}

/// Average pooling with a k×k window, stride s (0: k) and zero padding pad ≤ k/2 on each side
/// (PyTorch's avg_pool2d, floor mode): each window's sum divided by k² when count_include_pad,
/// else by the number of its positions inside the image.
template <class T, class D>
Tensor<T, D> avg_pool2d(const Tensor<T, D>& x, index_t k, index_t s = 0, index_t pad = 0, bool count_include_pad = true) {
  const PoolGeometry g = detail::pool_geometry("avg_pool2d", x.shape(), k, s, pad, count_include_pad);
  Tensor<T, D> y(detail::pool_shape(g));
  pool2d_forward(D{}, false, g, x.data(), y.data());
  return y;
}
/// Max pooling with a k×k window, stride s (0: k) and padding pad ≤ k/2 on each side (PyTorch's
/// max_pool2d, floor mode: padded positions are never the maximum); ties go to the first.
template <class T, class D>
Tensor<T, D> max_pool2d(const Tensor<T, D>& x, index_t k, index_t s = 0, index_t pad = 0) {
  const PoolGeometry g = detail::pool_geometry("max_pool2d", x.shape(), k, s, pad, false);
  Tensor<T, D> y(detail::pool_shape(g));
  pool2d_forward(D{}, true, g, x.data(), y.data());
  return y;
}
namespace detail {
template <class T, class D>
Var<T, D> pool_var(bool max, const Var<T, D>& x, const PoolGeometry& g) {
  const Tensor<T, D> xv = x.value();
  Tensor<T, D> y(pool_shape(g));
  pool2d_forward(D{}, max, g, xv.data(), y.data());
  return Var<T, D>::op(y, {&x}, [xv, g, max](auto& n) {
    Tensor<T, D> dx(xv.shape());
    pool2d_backward(D{}, max, g, xv.data(), n.grad.data(), dx.data());
    send_grad(n, 0, dx);
  });
}
}  // namespace detail
template <class T, class D>
Var<T, D> avg_pool2d(const Var<T, D>& x, index_t k, index_t s = 0, index_t pad = 0, bool count_include_pad = true) {
  return detail::pool_var(false, x, detail::pool_geometry("avg_pool2d", x.shape(), k, s, pad, count_include_pad));
}
template <class T, class D>
Var<T, D> max_pool2d(const Var<T, D>& x, index_t k, index_t s = 0, index_t pad = 0) {
  return detail::pool_var(true, x, detail::pool_geometry("max_pool2d", x.shape(), k, s, pad, false));
}

/// t taken where x is maximal in each window of max_pool2d(x, k, s, pad) (the tangent of max
/// pooling; linear in t).
template <class T, class D>
Tensor<T, D> max_pool2d_select(const Tensor<T, D>& x, const Tensor<T, D>& t, index_t k, index_t s, index_t pad = 0) {
  require(x.shape() == t.shape(), "max_pool2d_select: ", x.shape(), " vs ", t.shape());
  const PoolGeometry g = detail::pool_geometry("max_pool2d", x.shape(), k, s, pad, false);
  Tensor<T, D> y(detail::pool_shape(g));
  max_pool2d_select(D{}, g, x.data(), t.data(), y.data());
  return y;
}
template <class T, class D>
Var<T, D> max_pool2d_select(const Tensor<T, D>& x, const Var<T, D>& t, index_t k, index_t s, index_t pad = 0) {
  const PoolGeometry g = detail::pool_geometry("max_pool2d", x.shape(), k, s, pad, false);
  return Var<T, D>::op(max_pool2d_select(x, t.value(), k, s, pad), {&t}, [x, g](auto& n) {
    Tensor<T, D> dt(x.shape());
    pool2d_backward(D{}, true, g, x.data(), n.grad.data(), dt.data());
    send_grad(n, 0, dt);
  });
}
template <class V>
DualTensor<V> avg_pool2d(const DualTensor<V>& x, index_t k, index_t s = 0, index_t pad = 0, bool count_include_pad = true) {
  return {primal_value([&] { return avg_pool2d(x.primal, k, s, pad, count_include_pad); }),
          x.has_tangent() ? avg_pool2d(x.tangent, k, s, pad, count_include_pad) : V()};
}
template <class V>
DualTensor<V> max_pool2d(const DualTensor<V>& x, index_t k, index_t s = 0, index_t pad = 0) {
  return {primal_value([&] { return max_pool2d(x.primal, k, s, pad); }),
          x.has_tangent() ? max_pool2d_select(value_of(x.primal), x.tangent, k, s, pad) : V()};
}

/// Nearest-neighbour upsampling by 2 in H and W.
template <class T, class D>
Tensor<T, D> upsample_nearest2x(const Tensor<T, D>& x) {
  require(x.rank() == 4, "upsample_nearest2x: input must be N×C×H×W, got ", x.shape());
  Tensor<T, D> y(Shape{x.dim(0), x.dim(1), 2 * x.dim(2), 2 * x.dim(3)});
  upsample2x_forward(D{}, x.dim(0) * x.dim(1), x.dim(2), x.dim(3), x.data(), y.data());
  return y;
}
template <class T, class D>
Var<T, D> upsample_nearest2x(const Var<T, D>& x) {
  const Shape from = x.shape();
  return Var<T, D>::op(upsample_nearest2x(x.value()), {&x}, [from](auto& n) {
    Tensor<T, D> dx(from);
    upsample2x_backward(D{}, from[0] * from[1], from[2], from[3], n.grad.data(), dx.data());
    send_grad(n, 0, dx);
  });
}
template <class V>
DualTensor<V> upsample_nearest2x(const DualTensor<V>& x) {
  return {primal_value([&] { return upsample_nearest2x(x.primal); }), x.has_tangent() ? upsample_nearest2x(x.tangent) : V()};
}

}  // namespace structgan
