#pragma once
/// \file Spectral normalization of a weight (Miyato et al. 2018; SPEC §1: every conv and linear of
/// G): W / σ with σ ≈ the largest singular value of W reshaped to out × rest, estimated by one
/// power iteration per training forward pass on persistent vectors u (out) and v (rest).
///
/// As PyTorch's torch.nn.utils.spectral_norm does: in training, v ← normalize(Wᵀu),
/// u ← normalize(W v) (no gradient; both stored); in evaluation the stored u and v are used as
/// they are. Then σ = uᵀ W v with u and v treated as constants, so ∂σ/∂W = u vᵀ and the gradient
/// flows through both W and σ. normalize divides by max(‖·‖, eps), eps = 1e-6 (the released code).
#include <string>

#include "structgan/nn/init.hpp"
#include "structgan/nn/module.hpp"
#include "structgan/ops/composite.hpp"

namespace structgan::nn {

template <class T, class D = Cpu>
struct SpectralNorm : Module<SpectralNorm<T, D>> {
  using value_type = T;
  using device_type = D;

  Tensor<T, D> u;  ///< left singular vector estimate, [out] (a buffer)
  Tensor<T, D> v;  ///< right singular vector estimate, [rest] (a buffer)
  T eps = T(1e-6);

  SpectralNorm() = default;
  /// Vectors for a weight whose first dimension is `rows` and the product of the others `cols`,
  /// initialized to normalized N(0, I) draws.
  SpectralNorm(index_t rows, index_t cols, Rng& rng, double eps_ = 1e-6) : eps(static_cast<T>(eps_)) {
    require(rows >= 1 && cols >= 1, "SpectralNorm: weight of ", rows, " × ", cols);
    u = to_device<D>(unit(randn<double>(Shape{rows}, rng)));
    v = to_device<D>(unit(randn<double>(Shape{cols}, rng)));
  }
  /// Whether spectral normalization is on (a default-constructed SpectralNorm is off).
  bool enabled() const { return u.defined(); }
  index_t rows() const { return u.numel(); }
  index_t cols() const { return v.numel(); }

  /// One power iteration on w (no gradient): v ← normalize(Wᵀu), u ← normalize(W v), in place.
  void power_iteration(const Tensor<T, D>& w) {
    const Tensor<T, D> wm = matrix_of(w);
    Tensor<T, D> v_new = row_normalize(matmul(u.reshape(Shape{1, rows()}), wm), eps);
    Tensor<T, D> u_new = row_normalize(matmul(v_new, wm, false, true), eps);
    assign(v, v_new);
    assign(u, u_new);
  }
  /// σ = uᵀ W v with the stored vectors (a host number, for monitoring and tests).
  double sigma(const Tensor<T, D>& w) const {
    const Tensor<T, D> s = matmul(matmul(u.reshape(Shape{1, rows()}), matrix_of(w)), v.reshape(Shape{cols(), 1}));
    return static_cast<double>(to_host(s)[0]);
  }
  /// W / σ as seen by value type V: one power iteration first when `training`.
  template <class V>
  V apply(Parameter<T, D>& w, bool training) {
    require(enabled(), "SpectralNorm::apply: not initialized");
    if (training) power_iteration(w.value);
    V wv = lift<V>(w);
    // Copies of u and v: a later training pass updates them in place while this graph may still
    // be waiting for its backward pass (PyTorch clones them for the same reason).
    V sig = matmul(matmul(constant<V>(clone(u).reshape(Shape{1, rows()})), reshape(wv, Shape{rows(), cols()})),
                   constant<V>(clone(v).reshape(Shape{cols(), 1})));
    return div(wv, reshape(sig, Shape{1}));
  }

  template <class F>
  void members(F&& f) {
    if (!enabled()) return;
    f("u", u);
    f("v", v);
  }

 private:
  Tensor<T, D> matrix_of(const Tensor<T, D>& w) const {
    require(w.numel() == rows() * cols() && w.rank() >= 1 && w.dim(0) == rows(), "SpectralNorm: weight ", w.shape(),
            " does not match vectors of ", rows(), " and ", cols());
    return w.reshape(Shape{rows(), cols()});
  }
  static Tensor<T, Cpu> unit(const Tensor<double, Cpu>& x) {
    const double n = std::max(x.matrix().norm(), 1e-12);
    Tensor<T, Cpu> y(x.shape());
    for (index_t i = 0; i < x.numel(); ++i) y[i] = static_cast<T>(x[i] / n);
    return y;
  }
};

}  // namespace structgan::nn
