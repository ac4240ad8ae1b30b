#pragma once
/// \file Convolution, pooling and upsampling on NCHW tensors, with their three rules.
#include "structgan/ops/elementwise.hpp"

namespace structgan {

namespace detail {
inline ConvGeometry conv_geometry(const Shape& x, const Shape& w, index_t stride, index_t pad) {
  require(x.rank() == 4, "conv2d: input must be N×C×H×W, got ", x);
  require(w.rank() == 4, "conv2d: weight must be O×C×kh×kw, got ", w);
  require(x[1] == w[1], "conv2d: input ", x, " has ", x[1], " channels but weight ", w, " expects ", w[1]);
  require(stride >= 1 && pad >= 0, "conv2d: stride ", stride, " and padding ", pad, " must be ≥ 1 and ≥ 0");
  ConvGeometry g{x[0], x[1], x[2], x[3], w[0], w[2], w[3], stride, pad};
  require(x[2] + 2 * pad >= w[2] && x[3] + 2 * pad >= w[3], "conv2d: kernel ", w, " larger than padded input ", x);
  return g;
}
inline Shape pool_shape(const char* op, const Shape& x, index_t k, index_t s) {
  require(x.rank() == 4, op, ": input must be N×C×H×W, got ", x);
  require(k >= 1 && s >= 1 && x[2] >= k && x[3] >= k, op, ": window ", k, " stride ", s, " does not fit ", x);
  return Shape{x[0], x[1], (x[2] - k) / s + 1, (x[3] - k) / s + 1};
}
}  // namespace detail

/// 2-D cross-correlation (PyTorch's conv2d) of x (N×C×H×W) with w (O×C×kh×kw), square stride
/// and zero padding, no bias: N×O×Ho×Wo. Any kernel size.
template <class T, class D>
Tensor<T, D> conv2d(const Tensor<T, D>& x, const Tensor<T, D>& w, index_t stride = 1, index_t pad = 0) {
  const ConvGeometry g = detail::conv_geometry(x.shape(), w.shape(), stride, pad);
  Tensor<T, D> y(Shape{g.n, g.o, g.ho(), g.wo()});
  conv2d_forward(D{}, g, x.data(), w.data(), y.data());
  return y;
}
template <class T, class D>
Var<T, D> conv2d(const Var<T, D>& x, const Var<T, D>& w, index_t stride = 1, index_t pad = 0) {
  const Tensor<T, D> xv = x.value(), wv = w.value();
  const ConvGeometry g = detail::conv_geometry(xv.shape(), wv.shape(), stride, pad);
  return Var<T, D>::op(conv2d(xv, wv, stride, pad), {&x, &w}, [xv, wv, g](auto& n) {
    Tensor<T, D> dx = needs_grad(n, 0) ? Tensor<T, D>(xv.shape()) : Tensor<T, D>();
    Tensor<T, D> dw = needs_grad(n, 1) ? filled<T, D>(wv.shape(), T(0)) : Tensor<T, D>();
    conv2d_backward(D{}, g, xv.data(), wv.data(), n.grad.data(), dx.defined() ? dx.data() : nullptr,
                    dw.defined() ? dw.data() : nullptr);
    if (dx.defined()) send_grad(n, 0, dx);
    if (dw.defined()) send_grad(n, 1, dw);
  });
}
template <class V>
DualTensor<V> conv2d(const DualTensor<V>& x, const DualTensor<V>& w, index_t stride = 1, index_t pad = 0) {
  V y = primal_value([&] { return conv2d(x.primal, w.primal, stride, pad); });
  return {y, detail::add_optional(x.has_tangent() ? conv2d(x.tangent, w.primal, stride, pad) : V(),
                                  w.has_tangent() ? conv2d(x.primal, w.tangent, stride, pad) : V(), y.shape())};
}

/// Average pooling with a k×k window and stride s (default k), no padding.
template <class T, class D>
Tensor<T, D> avg_pool2d(const Tensor<T, D>& x, index_t k, index_t s = 0) {
  s = s ? s : k;
  Tensor<T, D> y(detail::pool_shape("avg_pool2d", x.shape(), k, s));
  pool2d_forward(D{}, false, x.dim(0) * x.dim(1), x.dim(2), x.dim(3), k, s, x.data(), y.data());
  return y;
}
/// Max pooling with a k×k window and stride s (default k), no padding; ties go to the first.
template <class T, class D>
Tensor<T, D> max_pool2d(const Tensor<T, D>& x, index_t k, index_t s = 0) {
  s = s ? s : k;
  Tensor<T, D> y(detail::pool_shape("max_pool2d", x.shape(), k, s));
  pool2d_forward(D{}, true, x.dim(0) * x.dim(1), x.dim(2), x.dim(3), k, s, x.data(), y.data());
  return y;
}
namespace detail {
template <class T, class D>
Var<T, D> pool_var(bool max, const Var<T, D>& x, index_t k, index_t s) {
  s = s ? s : k;
  const Tensor<T, D> xv = x.value();
  Tensor<T, D> y = max ? max_pool2d(xv, k, s) : avg_pool2d(xv, k, s);
  return Var<T, D>::op(y, {&x}, [xv, k, s, max](auto& n) {
    Tensor<T, D> dx(xv.shape());
    pool2d_backward(D{}, max, xv.dim(0) * xv.dim(1), xv.dim(2), xv.dim(3), k, s, xv.data(), n.grad.data(), dx.data());
    send_grad(n, 0, dx);
  });
}
}  // namespace detail
template <class T, class D>
Var<T, D> avg_pool2d(const Var<T, D>& x, index_t k, index_t s = 0) { return detail::pool_var(false, x, k, s); }
template <class T, class D>
Var<T, D> max_pool2d(const Var<T, D>& x, index_t k, index_t s = 0) { return detail::pool_var(true, x, k, s); }

/// t taken where x is maximal in each window (the tangent of max pooling; linear in t).
template <class T, class D>
Tensor<T, D> max_pool2d_select(const Tensor<T, D>& x, const Tensor<T, D>& t, index_t k, index_t s) {
  require(x.shape() == t.shape(), "max_pool2d_select: ", x.shape(), " vs ", t.shape());
  Tensor<T, D> y(detail::pool_shape("max_pool2d", x.shape(), k, s));
  max_pool2d_select(D{}, x.dim(0) * x.dim(1), x.dim(2), x.dim(3), k, s, x.data(), t.data(), y.data());
  return y;
}
template <class T, class D>
Var<T, D> max_pool2d_select(const Tensor<T, D>& x, const Var<T, D>& t, index_t k, index_t s) {
  return Var<T, D>::op(max_pool2d_select(x, t.value(), k, s), {&t}, [x, k, s](auto& n) {
    Tensor<T, D> dt(x.shape());
    pool2d_backward(D{}, true, x.dim(0) * x.dim(1), x.dim(2), x.dim(3), k, s, x.data(), n.grad.data(), dt.data());
    send_grad(n, 0, dt);
  });
}
template <class V>
DualTensor<V> avg_pool2d(const DualTensor<V>& x, index_t k, index_t s = 0) {
  return {primal_value([&] { return avg_pool2d(x.primal, k, s); }), x.has_tangent() ? avg_pool2d(x.tangent, k, s) : V()};
}
template <class V>
DualTensor<V> max_pool2d(const DualTensor<V>& x, index_t k, index_t s = 0) {
  s = s ? s : k;
  return {primal_value([&] { return max_pool2d(x.primal, k, s); }),
          x.has_tangent() ? max_pool2d_select(value_of(x.primal), x.tangent, k, s) : V()};
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
