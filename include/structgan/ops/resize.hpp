#pragma once
/// \file Bilinear resizing of N×C×H×W tensors, with its three rules. Bilinear resizing is
/// separable and linear: y = M_h · x · M_wᵀ per image and channel, with M_h (out_h × H) and M_w
/// (out_w × W) interpolation matrices built on the host. So it runs as GEMMs on every device and
/// needs no kernel of its own; its reverse rule applies the transposed matrices.
///
/// Two conventions (issue #23):
///   - ResizeKind::PytorchBilinear: `F.interpolate(x, size, mode="bilinear", align_corners=False)`,
///     the resize of pytorch-fid (its published statistics were computed through it);
///   - ResizeKind::Tf1Bilinear: TensorFlow 1.x's `tf.image.resize_bilinear` (align_corners=False, no
///     half-pixel centres), as torch-fidelity's `interpolate_bilinear_2d_like_tensorflow1x`
///     reproduces it: the original TF FID/IS code's resize.
/// \code
///   Tensor<float> y = resize_bilinear(x, 299, 299, ResizeKind::PytorchBilinear);  // N×3×32×32 → N×3×299×299
/// \endcode
#include <cmath>

#include "structgan/backend/transfer.hpp"
#include "structgan/core/row_matrix.hpp"
#include "structgan/ops/linalg.hpp"

namespace structgan {

/// Which bilinear convention resize_bilinear follows (see the file comment).
enum class ResizeKind { PytorchBilinear, Tf1Bilinear };

inline const char* resize_kind_name(ResizeKind k) { return k == ResizeKind::PytorchBilinear ? "pytorch" : "tf1"; }

/// The out × in matrix M of one axis: resized[i] = Σ_j M(i, j) · source[j]. Each row holds at most
/// two non-zero weights, summing to 1.
inline RowMatrixD resize_matrix(index_t in, index_t out, ResizeKind kind) {
  require(in >= 1 && out >= 1, "resize_matrix: sizes must be ≥ 1, got ", in, " → ", out);
  RowMatrixD m = RowMatrixD::Zero(out, in);
  for (index_t i = 0; i < out; ++i) {
    index_t lo = 0, hi = 0;
    double frac = 0;
    if (kind == ResizeKind::PytorchBilinear) {
      // ATen's upsample_bilinear2d, align_corners=False and a size (no scale factor): source
      // coordinate scale·(i + ½) − ½ with scale = in/out, clamped at 0; the upper neighbour is the
      // lower one at the last pixel. Computed in double (ATen's accumulate type for double input).
      const double scale = static_cast<double>(in) / static_cast<double>(out);
      double src = scale * (static_cast<double>(i) + 0.5) - 0.5;
      if (src < 0) src = 0;
      lo = static_cast<index_t>(src);
      hi = lo + (lo < in - 1 ? 1 : 0);
      frac = src - static_cast<double>(lo);
    } else {
      // TensorFlow 1.x (image_resizer_state.h, resize_bilinear_op.cc): scale = in/out and the
      // source coordinate i·scale in float32, floor, upper neighbour clamped to the last pixel.
      // torch-fidelity multiplies by the scale as a float32 tensor too, so these weights are
      // exactly the ones both use for float32 images.
      const float scale = static_cast<float>(in) / static_cast<float>(out);
      const float src = static_cast<float>(i) * scale;
      lo = static_cast<index_t>(std::floor(src));
      hi = std::min(lo + 1, in - 1);
      frac = static_cast<double>(src - static_cast<float>(lo));
    }
    m(i, lo) += 1.0 - frac;
    m(i, hi) += frac;
  }
  return m;
}

namespace detail {

/// y[n, c] = mh · x[n, c] · mwᵀ for x N×C×H×W, mh (oh × H) and mw (ow × W) on the device: one
/// GEMM for the rows of all images ((N·C·H) × W times W × ow), then one per image and channel.
template <class T, class D>
Tensor<T, D> separable_map(const Tensor<T, D>& x, const Tensor<T, D>& mh, const Tensor<T, D>& mw) {
  const index_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3), oh = mh.dim(0), ow = mw.dim(0);
  Tensor<T, D> rows = matmul(x.reshape(Shape{n * c * h, w}), mw, false, true);  // (N·C·H) × ow
  Tensor<T, D> y(Shape{n, c, oh, ow});
  for (index_t k = 0; k < n * c; ++k)
    gemm(D{}, false, false, oh, ow, h, T(1), mh.data(), h, rows.data() + k * h * ow, ow, T(0), y.data() + k * oh * ow, ow);
  return y;
}

template <class T, class D>
Tensor<T, D> matrix_on_device(const RowMatrixD& m, bool transpose) {
  Tensor<T, Cpu> host(transpose ? Shape{m.cols(), m.rows()} : Shape{m.rows(), m.cols()});
  for (index_t i = 0; i < m.rows(); ++i)
    for (index_t j = 0; j < m.cols(); ++j) host.data()[transpose ? j * m.rows() + i : i * m.cols() + j] = static_cast<T>(m(i, j));
  return to_device<D>(host);
}

inline void check_resize(const Shape& x, index_t out_h, index_t out_w) {
  require(x.rank() == 4, "resize_bilinear: input must be N×C×H×W, got ", x);
  require(x[2] >= 1 && x[3] >= 1, "resize_bilinear: empty image ", x);
  require(out_h >= 1 && out_w >= 1, "resize_bilinear: output size must be ≥ 1, got ", out_h, "×", out_w);
}

}  // namespace detail

/// x (N×C×H×W) resized to N×C×out_h×out_w with the given convention. The same size returns a copy
/// of x's values (both conventions are the identity then).
template <class T, class D>
Tensor<T, D> resize_bilinear(const Tensor<T, D>& x, index_t out_h, index_t out_w,
                             ResizeKind kind = ResizeKind::PytorchBilinear) {
  detail::check_resize(x.shape(), out_h, out_w);
  if (x.dim(2) == out_h && x.dim(3) == out_w) return clone(x);
  return detail::separable_map(x, detail::matrix_on_device<T, D>(resize_matrix(x.dim(2), out_h, kind), false),
                               detail::matrix_on_device<T, D>(resize_matrix(x.dim(3), out_w, kind), false));
}
template <class T, class D>
Var<T, D> resize_bilinear(const Var<T, D>& x, index_t out_h, index_t out_w, ResizeKind kind = ResizeKind::PytorchBilinear) {
  const Shape from = x.shape();
  detail::check_resize(from, out_h, out_w);
  return Var<T, D>::op(resize_bilinear(x.value(), out_h, out_w, kind), {&x}, [from, out_h, out_w, kind](auto& n) {
    // The adjoint of y = M_h x M_wᵀ is x̄ = M_hᵀ ȳ M_w.
    send_grad(n, 0, detail::separable_map(n.grad, detail::matrix_on_device<T, D>(resize_matrix(from[2], out_h, kind), true),
                                          detail::matrix_on_device<T, D>(resize_matrix(from[3], out_w, kind), true)));
  });
}
template <class V>
DualTensor<V> resize_bilinear(const DualTensor<V>& x, index_t out_h, index_t out_w,
                              ResizeKind kind = ResizeKind::PytorchBilinear) {
  // Linear: the tangent is resized like the primal.
  return {primal_value([&] { return resize_bilinear(x.primal, out_h, out_w, kind); }),
          x.has_tangent() ? resize_bilinear(x.tangent, out_h, out_w, kind) : V()};
}

}  // namespace structgan
