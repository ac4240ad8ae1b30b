#pragma once
/// \file The reference device `Ref`: every kernel of the backend contract (backend/contract.hpp)
/// as the plainest loop that states it, single-threaded, on host memory.
///
/// It exists to check the other backends and the code above them, without a GPU:
/// - the CPU backend's kernels (Winograd, broadcast plans, blocked reductions) are compared with
///   these on random shapes (tests/backend/test_kernels_vs_ref.cpp);
/// - the generic code runs on it as it would on CUDA: `Tensor<T, Ref>` has no host element access
///   (operator[], at(), array() are the CPU's only), so reading a device value on the host must go
///   through to_host(), which the counters see. A host round trip added anywhere in a training step
///   raises `counters(Ref{}).to_host`, which a test asserts (tests/train/test_ref_device.cpp);
/// - fresh memory is filled with NaN, so a kernel or op that reads what nobody wrote poisons its
///   result instead of reading yesterday's values.
///
/// Sums accumulate in double (long double for double data) so that the reference is at least as
/// accurate as what it checks. It is the worked example of adding a backend (docs/architecture.md).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <utility>
#include <vector>

#include "structgan/backend/contract.hpp"
#include "structgan/core/error.hpp"

namespace structgan {

template <>
struct Allocator<Ref> {
  template <class T>
  static std::shared_ptr<T> allocate(std::size_t n) {
    const std::size_t count = n == 0 ? 1 : n;
    std::shared_ptr<T> p(new T[count], std::default_delete<T[]>());
    // NaN for values; for indices (index_t) the most negative one, which no row has.
    const T poison = std::numeric_limits<T>::has_quiet_NaN ? std::numeric_limits<T>::quiet_NaN() : std::numeric_limits<T>::lowest();
    std::fill(p.get(), p.get() + count, poison);
    backend::counters(Ref{}).allocation(count * sizeof(T));
    return p;
  }
};

namespace backend {

namespace ref {
/// The accumulator of sums over T: wider than T, so the reference rounds less than what it checks.
template <class T>
using Acc = std::conditional_t<std::is_same_v<T, float>, double, long double>;

/// Row-major offset of index (i0, i1, i2, i3) in a rank-4 shape, 0 along dimensions of size 1
/// (that is what broadcasting means).
inline index_t broadcast_offset(const std::array<index_t, 4>& shape, const std::array<index_t, 4>& idx) {
  index_t off = 0;
  for (int d = 0; d < 4; ++d) off = off * shape[d] + (shape[d] == 1 ? 0 : idx[d]);
  return off;
}

/// Calls f(idx) for every index of a rank-4 shape, in row-major order.
template <class F>
void for_each_index(const std::array<index_t, 4>& shape, F&& f) {
  std::array<index_t, 4> i{};
  for (i[0] = 0; i[0] < shape[0]; ++i[0])
    for (i[1] = 0; i[1] < shape[1]; ++i[1])
      for (i[2] = 0; i[2] < shape[2]; ++i[2])
        for (i[3] = 0; i[3] < shape[3]; ++i[3]) f(i);
}

/// Calls f(q) for every position of pooling window (oy, ox) inside the image, in row-major
/// order, q the offset into the plane; returns how many there were. Written from the window's
/// definition alone (all k×k positions, the padded ones skipped), independently of the
/// PoolGeometry helpers the other backends use.
template <class F>
index_t for_window(const PoolGeometry& g, index_t oy, index_t ox, F&& f) {
  index_t inside = 0;
  for (index_t i = 0; i < g.k; ++i)
    for (index_t j = 0; j < g.k; ++j) {
      const index_t iy = oy * g.stride - g.pad + i, ix = ox * g.stride - g.pad + j;
      if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
      f(iy * g.w + ix);
      ++inside;
    }
  return inside;
}

/// The first maximal element of window (oy, ox) of a plane, as an offset into the plane.
template <class T>
index_t window_argmax(const PoolGeometry& g, const T* plane, index_t oy, index_t ox) {
  index_t best = -1;
  for_window(g, oy, ox, [&](index_t q) {
    if (best < 0 || plane[q] > plane[best]) best = q;
  });
  return best;
}
}  // namespace ref

// ---- memory ------------------------------------------------------------------------------------

template <class T>
void copy_to_host(Ref, index_t n, const T* src, T* host_dst) {
  counters(Ref{}).copy_to_host(static_cast<std::uint64_t>(std::max<index_t>(n, 0)) * sizeof(T));
  if (n > 0) std::memcpy(host_dst, src, static_cast<std::size_t>(n) * sizeof(T));
}

template <class T>
void copy_from_host(Ref, index_t n, const T* host_src, T* dst) {
  counters(Ref{}).copy_from_host(static_cast<std::uint64_t>(std::max<index_t>(n, 0)) * sizeof(T));
  if (n > 0) std::memcpy(dst, host_src, static_cast<std::size_t>(n) * sizeof(T));
}

template <class T>
void copy(Ref, index_t n, const T* x, T* y) {
  for (index_t i = 0; i < n; ++i) y[i] = x[i];
}

inline void synchronize(Ref) { ++counters(Ref{}).synchronizations; }

// ---- element-wise ----------------------------------------------------------------------------

template <class T>
void fill(Ref, index_t n, T value, T* y) {
  for (index_t i = 0; i < n; ++i) y[i] = value;
}

template <class T>
void unary(Ref, UnaryOp op, T a, index_t n, const T* x, T* y) {
  for (index_t i = 0; i < n; ++i) {
    const T v = x[i];
    T r = v;
    switch (op) {
      case UnaryOp::Neg: r = -v; break;
      case UnaryOp::Exp: r = std::exp(v); break;
      case UnaryOp::Log: r = std::log(v); break;
      case UnaryOp::Sqrt: r = std::sqrt(v); break;
      case UnaryOp::Tanh: r = std::tanh(v); break;
      case UnaryOp::Elu: r = v > 0 ? v : a * (std::exp(v) - 1); break;
      case UnaryOp::EluDeriv: r = v > 0 ? T(1) : a * std::exp(v); break;
      case UnaryOp::EluDeriv2: r = v > 0 ? T(0) : a * std::exp(v); break;
      case UnaryOp::Relu: r = v > 0 ? v : T(0); break;
      case UnaryOp::Step: r = v > a ? T(1) : T(0); break;
      case UnaryOp::Abs: r = std::abs(v); break;
      case UnaryOp::Sign: r = v > 0 ? T(1) : v < 0 ? T(-1) : T(0); break;
      case UnaryOp::Square: r = v * v; break;
      case UnaryOp::Pow: r = std::pow(v, a); break;
      case UnaryOp::AddScalar: r = v + a; break;
      case UnaryOp::MulScalar: r = v * a; break;
      case UnaryOp::ClampMin: r = v > a ? v : a; break;
      case UnaryOp::Reciprocal: r = T(1) / v; break;
    }
    y[i] = r;
  }
}

template <class T>
void axpy(Ref, index_t n, T alpha, const T* x, T* y) {
  for (index_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

template <class T>
void binary(Ref, BinaryOp op, const std::array<index_t, 4>& out, const T* a, const std::array<index_t, 4>& as,
            const T* b, const std::array<index_t, 4>& bs, T* y) {
  ref::for_each_index(out, [&](const std::array<index_t, 4>& i) {
    const T u = a[ref::broadcast_offset(as, i)], v = b[ref::broadcast_offset(bs, i)];
    T r = 0;
    switch (op) {
      case BinaryOp::Add: r = u + v; break;
      case BinaryOp::Sub: r = u - v; break;
      case BinaryOp::Mul: r = u * v; break;
      case BinaryOp::Div: r = u / v; break;
      case BinaryOp::EluTangent: r = u > 0 ? v : std::exp(u) * v; break;
      case BinaryOp::EluCurvature: r = u > 0 ? T(0) : std::exp(u) * v; break;
    }
    y[ref::broadcast_offset(out, i)] = r;
  });
}

template <class T>
void reduce_sum(Ref, const T* x, const std::array<index_t, 4>& xs, T* y, const std::array<index_t, 4>& ys) {
  index_t ny = 1;
  for (index_t d : ys) ny *= d;
  std::vector<ref::Acc<T>> acc(static_cast<std::size_t>(ny), 0);
  ref::for_each_index(xs, [&](const std::array<index_t, 4>& i) {
    acc[static_cast<std::size_t>(ref::broadcast_offset(ys, i))] += x[ref::broadcast_offset(xs, i)];
  });
  for (index_t j = 0; j < ny; ++j) y[j] = static_cast<T>(acc[static_cast<std::size_t>(j)]);
}

template <class F, class... P>
void map(Ref, index_t n, F f, P*... p) {
  for (index_t i = 0; i < n; ++i) f(p[i]...);
}

// ---- matrix multiply ---------------------------------------------------------------------------

template <class T>
void gemm(Ref, bool ta, bool tb, index_t m, index_t n, index_t k, T alpha, const T* a, index_t lda, const T* b,
          index_t ldb, T beta, T* c, index_t ldc) {
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < n; ++j) {
      ref::Acc<T> s = 0;
      for (index_t l = 0; l < k; ++l) s += ref::Acc<T>(ta ? a[l * lda + i] : a[i * lda + l]) * (tb ? b[j * ldb + l] : b[l * ldb + j]);
      T& cij = c[i * ldc + j];
      cij = static_cast<T>(ref::Acc<T>(alpha) * s + (beta == T(0) ? ref::Acc<T>(0) : ref::Acc<T>(beta) * cij));
    }
}

// ---- convolution -------------------------------------------------------------------------------

/// The input element read by output (oy, ox) through kernel tap (ki, kj), or -1 in the padding.
inline index_t conv_input_offset(const ConvGeometry& g, index_t oy, index_t ox, index_t ki, index_t kj) {
  const index_t iy = oy * g.stride - g.pad_h + ki, ix = ox * g.stride - g.pad_w + kj;
  return iy < 0 || iy >= g.h || ix < 0 || ix >= g.w ? -1 : iy * g.w + ix;
}

template <class T>
void conv2d_forward(Ref, const ConvGeometry& g, const T* x, const T* w, T* y) {
  const index_t ho = g.ho(), wo = g.wo();
  for (index_t n = 0; n < g.n; ++n)
    for (index_t o = 0; o < g.o; ++o)
      for (index_t oy = 0; oy < ho; ++oy)
        for (index_t ox = 0; ox < wo; ++ox) {
          ref::Acc<T> s = 0;
          for (index_t c = 0; c < g.c; ++c)
            for (index_t ki = 0; ki < g.kh; ++ki)
              for (index_t kj = 0; kj < g.kw; ++kj) {
                const index_t q = conv_input_offset(g, oy, ox, ki, kj);
                if (q >= 0) s += ref::Acc<T>(x[(n * g.c + c) * g.h * g.w + q]) * w[((o * g.c + c) * g.kh + ki) * g.kw + kj];
              }
          y[((n * g.o + o) * ho + oy) * wo + ox] = static_cast<T>(s);
        }
}

template <class T>
void conv2d_backward(Ref, const ConvGeometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  const index_t ho = g.ho(), wo = g.wo();
  std::vector<ref::Acc<T>> gx(dx ? static_cast<std::size_t>(g.n * g.c * g.h * g.w) : 0, 0);
  std::vector<ref::Acc<T>> gw(dw ? static_cast<std::size_t>(g.o * g.c * g.kh * g.kw) : 0, 0);
  for (index_t n = 0; n < g.n; ++n)
    for (index_t o = 0; o < g.o; ++o)
      for (index_t oy = 0; oy < ho; ++oy)
        for (index_t ox = 0; ox < wo; ++ox) {
          const ref::Acc<T> d = dy[((n * g.o + o) * ho + oy) * wo + ox];
          for (index_t c = 0; c < g.c; ++c)
            for (index_t ki = 0; ki < g.kh; ++ki)
              for (index_t kj = 0; kj < g.kw; ++kj) {
                const index_t q = conv_input_offset(g, oy, ox, ki, kj);
                if (q < 0) continue;
                const index_t xi = (n * g.c + c) * g.h * g.w + q, wi = ((o * g.c + c) * g.kh + ki) * g.kw + kj;
                if (dx) gx[static_cast<std::size_t>(xi)] += d * w[wi];
                if (dw) gw[static_cast<std::size_t>(wi)] += d * x[xi];
              }
        }
  for (std::size_t i = 0; i < gx.size(); ++i) dx[i] = static_cast<T>(gx[i]);
  for (std::size_t i = 0; i < gw.size(); ++i) dw[i] = static_cast<T>(ref::Acc<T>(dw[i]) + gw[i]);
}

// ---- pooling and upsampling ----------------------------------------------------------------------

template <class T>
void pool2d_forward(Ref, bool max, const PoolGeometry& g, const T* x, T* y) {
  const index_t ho = g.ho(), wo = g.wo();
  for (index_t p = 0; p < g.n * g.c; ++p)
    for (index_t oy = 0; oy < ho; ++oy)
      for (index_t ox = 0; ox < wo; ++ox) {
        const T* plane = x + p * g.h * g.w;
        T& out = y[(p * ho + oy) * wo + ox];
        if (max) {
          out = plane[ref::window_argmax(g, plane, oy, ox)];
          continue;
        }
        ref::Acc<T> sum = 0;
        const index_t inside = ref::for_window(g, oy, ox, [&](index_t q) { sum += plane[q]; });
        out = static_cast<T>(sum / ref::Acc<T>(g.count_padding ? g.k * g.k : inside));
      }
}

template <class T>
void pool2d_backward(Ref, bool max, const PoolGeometry& g, const T* x, const T* dy, T* dx) {
  const index_t ho = g.ho(), wo = g.wo(), hw = g.h * g.w;
  std::fill(dx, dx + g.n * g.c * hw, T(0));
  for (index_t p = 0; p < g.n * g.c; ++p)
    for (index_t oy = 0; oy < ho; ++oy)
      for (index_t ox = 0; ox < wo; ++ox) {
        const T d = dy[(p * ho + oy) * wo + ox];
        T* grad = dx + p * hw;
        if (max) {
          grad[ref::window_argmax(g, x + p * hw, oy, ox)] += d;
          continue;
        }
        const index_t inside = ref::for_window(g, oy, ox, [](index_t) {});
        const T divisor = T(g.count_padding ? g.k * g.k : inside);
        ref::for_window(g, oy, ox, [&](index_t q) { grad[q] += d / divisor; });
      }
}

template <class T>
void max_pool2d_select(Ref, const PoolGeometry& g, const T* x, const T* t, T* y) {
  const index_t ho = g.ho(), wo = g.wo(), hw = g.h * g.w;
  for (index_t p = 0; p < g.n * g.c; ++p)
    for (index_t oy = 0; oy < ho; ++oy)
      for (index_t ox = 0; ox < wo; ++ox) y[(p * ho + oy) * wo + ox] = t[p * hw + ref::window_argmax(g, x + p * hw, oy, ox)];
}

template <class T>
void upsample2x_forward(Ref, index_t planes, index_t h, index_t w, const T* x, T* y) {
  for (index_t p = 0; p < planes; ++p)
    for (index_t i = 0; i < 2 * h; ++i)
      for (index_t j = 0; j < 2 * w; ++j) y[(p * 2 * h + i) * 2 * w + j] = x[(p * h + i / 2) * w + j / 2];
}

template <class T>
void upsample2x_backward(Ref, index_t planes, index_t h, index_t w, const T* dy, T* dx) {
  std::fill(dx, dx + planes * h * w, T(0));
  for (index_t p = 0; p < planes; ++p)
    for (index_t i = 0; i < 2 * h; ++i)
      for (index_t j = 0; j < 2 * w; ++j) dx[(p * h + i / 2) * w + j / 2] += dy[(p * 2 * h + i) * 2 * w + j];
}

// ---- standardization ------------------------------------------------------------------------------

namespace ref {
/// Calls f(offset) for every element of group g.
template <class F>
void for_group(const StandardizeLayout& s, index_t g, F&& f) {
  for (index_t p = 0; p < s.p; ++p)
    for (index_t l = 0; l < s.l; ++l) f((p * s.g + g) * s.l + l);
}
/// Σ of f(offset) over group g, accumulated wide.
template <class T, class F>
Acc<T> group_sum(const StandardizeLayout& s, index_t g, F&& f) {
  Acc<T> sum = 0;
  for_group(s, g, [&](index_t i) { sum += f(i); });
  return sum;
}
}  // namespace ref

template <class T>
void standardize_forward(Ref, const StandardizeLayout& s, T eps, const T* x, T* xhat, T* mean, T* rstd) {
  using A = ref::Acc<T>;
  for (index_t g = 0; g < s.g; ++g) {
    const A m = ref::group_sum<T>(s, g, [&](index_t i) { return A(x[i]); }) / A(s.count());
    const A var = ref::group_sum<T>(s, g, [&](index_t i) { return (x[i] - m) * (x[i] - m); }) / A(s.count());
    const A r = 1 / std::sqrt(var + A(eps));
    ref::for_group(s, g, [&](index_t i) { xhat[i] = static_cast<T>((x[i] - m) * r); });
    mean[g] = static_cast<T>(m);
    rstd[g] = static_cast<T>(r);
  }
}

template <class T>
void standardize_jacobian(Ref, const StandardizeLayout& s, const T* xhat, const T* rstd, const T* t, T* y) {
  using A = ref::Acc<T>;
  for (index_t g = 0; g < s.g; ++g) {
    const A mt = ref::group_sum<T>(s, g, [&](index_t i) { return A(t[i]); }) / A(s.count());
    const A mxt = ref::group_sum<T>(s, g, [&](index_t i) { return A(xhat[i]) * t[i]; }) / A(s.count());
    ref::for_group(s, g, [&](index_t i) { y[i] = static_cast<T>(rstd[g] * (t[i] - mt - xhat[i] * mxt)); });
  }
}

template <class T>
void standardize_jacobian_backward(Ref, const StandardizeLayout& s, const T* xhat, const T* rstd, const T* t, const T* y,
                                   const T* dy, T* dxhat, T* drstd) {
  using A = ref::Acc<T>;
  for (index_t g = 0; g < s.g; ++g) {
    const A mxt = ref::group_sum<T>(s, g, [&](index_t i) { return A(xhat[i]) * t[i]; }) / A(s.count());
    const A mgx = ref::group_sum<T>(s, g, [&](index_t i) { return A(dy[i]) * xhat[i]; }) / A(s.count());
    const A sgy = ref::group_sum<T>(s, g, [&](index_t i) { return A(dy[i]) * y[i]; });
    if (dxhat) ref::for_group(s, g, [&](index_t i) { dxhat[i] = static_cast<T>(-A(rstd[g]) * (dy[i] * mxt + t[i] * mgx)); });
    if (drstd) drstd[g] = static_cast<T>(sgy / rstd[g]);
  }
}

template <class T>
void scale_groups(Ref, const StandardizeLayout& s, const T* x, const T* c, T* y) {
  for (index_t p = 0; p < s.p; ++p)
    for (index_t g = 0; g < s.g; ++g)
      for (index_t l = 0; l < s.l; ++l) y[(p * s.g + g) * s.l + l] = x[(p * s.g + g) * s.l + l] * c[g];
}

/// Fused GroupNorm, written out from its definition (three passes per group, wide accumulators).
template <class T>
void group_norm_forward(Ref, const GroupNormGeometry& g, T eps, const T* x, const T* w, const T* b, T* y, T* mean, T* rstd) {
  using A = ref::Acc<T>;
  const index_t len = g.group_size();
  for (index_t q = 0; q < g.statistics(); ++q) {
    A m = 0, var = 0;
    for (index_t i = 0; i < len; ++i) m += x[q * len + i];
    m /= A(len);
    for (index_t i = 0; i < len; ++i) var += (x[q * len + i] - m) * (x[q * len + i] - m);
    const A r = 1 / std::sqrt(var / A(len) + A(eps));
    for (index_t i = 0; i < len; ++i) {
      const index_t c = (q % g.groups) * g.channels_per_group() + i / g.hw;
      y[q * len + i] = static_cast<T>((x[q * len + i] - m) * r * (w ? A(w[c]) : A(1)) + (b ? A(b[c]) : A(0)));
    }
    mean[q] = static_cast<T>(m);
    rstd[q] = static_cast<T>(r);
  }
}

template <class T>
void group_norm_backward(Ref, const GroupNormGeometry& g, const T* x, const T* mean, const T* rstd, const T* w, const T* dy,
                         T* dx, T* dw, T* db) {
  using A = ref::Acc<T>;
  const index_t len = g.group_size(), cpg = g.channels_per_group();
  if (dw) std::fill(dw, dw + g.c, T(0));
  if (db) std::fill(db, db + g.c, T(0));
  std::vector<A> sw(std::size_t(g.c), A(0)), sb(std::size_t(g.c), A(0));
  for (index_t q = 0; q < g.statistics(); ++q) {
    auto chan = [&](index_t i) { return (q % g.groups) * cpg + i / g.hw; };
    auto xhat = [&](index_t i) { return (A(x[q * len + i]) - A(mean[q])) * A(rstd[q]); };
    A mg = 0, mgx = 0;  // means of the upstream gradient through the affine map, g = w·dy, and of g·xhat
    for (index_t i = 0; i < len; ++i) {
      const A gi = A(dy[q * len + i]) * (w ? A(w[chan(i)]) : A(1));
      mg += gi;
      mgx += gi * xhat(i);
      sw[std::size_t(chan(i))] += A(dy[q * len + i]) * xhat(i);
      sb[std::size_t(chan(i))] += A(dy[q * len + i]);
    }
    mg /= A(len);
    mgx /= A(len);
    if (dx)
      for (index_t i = 0; i < len; ++i) {
        const A gi = A(dy[q * len + i]) * (w ? A(w[chan(i)]) : A(1));
        dx[q * len + i] = static_cast<T>(A(rstd[q]) * (gi - mg - xhat(i) * mgx));
      }
  }
  for (index_t c = 0; c < g.c; ++c) {
    if (dw) dw[c] = static_cast<T>(sw[std::size_t(c)]);
    if (db) db[c] = static_cast<T>(sb[std::size_t(c)]);
  }
}

template <class T>
void group_norm_jvp(Ref, const GroupNormGeometry& g, const T* x, const T* mean, const T* rstd, const T* w, const T* xdot,
                    const T* wdot, const T* bdot, T* ydot) {
  using A = ref::Acc<T>;
  const index_t len = g.group_size(), cpg = g.channels_per_group();
  for (index_t q = 0; q < g.statistics(); ++q) {
    auto xhat = [&](index_t i) { return (A(x[q * len + i]) - A(mean[q])) * A(rstd[q]); };
    A mt = 0, mxt = 0;
    for (index_t i = 0; i < len; ++i) {
      mt += xdot[q * len + i];
      mxt += xhat(i) * xdot[q * len + i];
    }
    mt /= A(len);
    mxt /= A(len);
    for (index_t i = 0; i < len; ++i) {
      const index_t c = (q % g.groups) * cpg + i / g.hw;
      const A jac = A(rstd[q]) * (A(xdot[q * len + i]) - mt - xhat(i) * mxt);
      ydot[q * len + i] = static_cast<T>(jac * (w ? A(w[c]) : A(1)) + xhat(i) * (wdot ? A(wdot[c]) : A(0)) +
                                         (bdot ? A(bdot[c]) : A(0)));
    }
  }
}

/// BatchNorm with an affine map per (sample, channel) and an optional ReLU, from its definition.
template <class T>
void batch_norm_affine_forward(Ref, const StandardizeLayout& s, T eps, bool relu, const T* x, const T* scale, const T* shift,
                               T* y, T* mean, T* rstd) {
  using A = ref::Acc<T>;
  if (s.count() == 0) return;
  for (index_t g = 0; g < s.g; ++g) {
    auto at = [&](index_t p, index_t l) { return (p * s.g + g) * s.l + l; };
    A m = 0, var = 0;
    for (index_t p = 0; p < s.p; ++p)
      for (index_t l = 0; l < s.l; ++l) m += x[at(p, l)];
    m /= A(s.count());
    for (index_t p = 0; p < s.p; ++p)
      for (index_t l = 0; l < s.l; ++l) var += (x[at(p, l)] - m) * (x[at(p, l)] - m);
    const A r = 1 / std::sqrt(var / A(s.count()) + A(eps));
    for (index_t p = 0; p < s.p; ++p)
      for (index_t l = 0; l < s.l; ++l) {
        const index_t q = p * s.g + g;
        const A z = (x[at(p, l)] - m) * r * (scale ? A(scale[q]) : A(1)) + (shift ? A(shift[q]) : A(0));
        y[at(p, l)] = static_cast<T>(relu && !(z > 0) ? A(0) : z);
      }
    mean[g] = static_cast<T>(m);
    rstd[g] = static_cast<T>(r);
  }
}

template <class T>
void batch_norm_affine_backward(Ref, const StandardizeLayout& s, bool relu, const T* x, const T* mean, const T* rstd,
                                const T* scale, const T* y, const T* dy, T* dx, T* dscale, T* dshift) {
  using A = ref::Acc<T>;
  for (index_t g = 0; g < s.g; ++g) {
    auto at = [&](index_t p, index_t l) { return (p * s.g + g) * s.l + l; };
    auto xhat = [&](index_t p, index_t l) { return (A(x[at(p, l)]) - A(mean[g])) * A(rstd[g]); };
    auto dz = [&](index_t p, index_t l) { return relu && !(y[at(p, l)] > T(0)) ? A(0) : A(dy[at(p, l)]); };
    auto a = [&](index_t p) { return scale ? A(scale[p * s.g + g]) : A(1); };
    A mg = 0, mgx = 0;  // the means of dxhat = dz·a and of dxhat·xhat over the channel
    for (index_t p = 0; p < s.p; ++p) {
      A sd = 0, sdx = 0;
      for (index_t l = 0; l < s.l; ++l) {
        sd += dz(p, l);
        sdx += dz(p, l) * xhat(p, l);
      }
      if (dshift) dshift[p * s.g + g] = static_cast<T>(sd);
      if (dscale) dscale[p * s.g + g] = static_cast<T>(sdx);
      mg += a(p) * sd;
      mgx += a(p) * sdx;
    }
    if (!dx || s.count() == 0) continue;
    mg /= A(s.count());
    mgx /= A(s.count());
    for (index_t p = 0; p < s.p; ++p)
      for (index_t l = 0; l < s.l; ++l)
        dx[at(p, l)] = static_cast<T>(A(rstd[g]) * (dz(p, l) * a(p) - mg - xhat(p, l) * mgx));
  }
}

// ---- rows, selection, cross-entropy ----------------------------------------------------------------

template <class T>
void copy_rows(Ref, index_t rows, index_t len, const T* src, index_t src_stride, T* dst, index_t dst_stride, bool accumulate) {
  for (index_t r = 0; r < rows; ++r)
    for (index_t i = 0; i < len; ++i) {
      T& d = dst[r * dst_stride + i];
      d = accumulate ? d + src[r * src_stride + i] : src[r * src_stride + i];
    }
}

template <class T>
void gather_rows(Ref, const T* src, index_t rows, index_t width, const index_t* index, index_t count, index_t offset, T* out) {
  for (index_t i = 0; i < count; ++i) {
    const index_t r = index[i] - offset;
    for (index_t j = 0; j < width; ++j) out[i * width + j] = r >= 0 && r < rows ? src[r * width + j] : T(0);
  }
}

template <class T>
void scatter_add_rows(Ref, const T* g, index_t width, const index_t* index, index_t count, index_t offset, T* dst, index_t rows) {
  for (index_t i = 0; i < count; ++i) {
    const index_t r = index[i] - offset;
    if (r >= 0 && r < rows)
      for (index_t j = 0; j < width; ++j) dst[r * width + j] += g[i * width + j];
  }
}

/// A stable sort of each row by decreasing value: ties keep the smaller index first.
template <class T>
void topk_rows(Ref, const T* x, index_t rows, index_t cols, index_t k, T* values, index_t* indices) {
  require(k >= 0 && k <= cols, "topk_rows: k = ", k, " for ", cols, " columns");
  std::vector<index_t> order(static_cast<std::size_t>(cols));
  for (index_t r = 0; r < rows; ++r) {
    const T* row = x + r * cols;
    std::iota(order.begin(), order.end(), index_t(0));
    std::stable_sort(order.begin(), order.end(), [row](index_t i, index_t j) { return row[i] > row[j]; });
    for (index_t t = 0; t < k; ++t) {
      indices[r * k + t] = order[static_cast<std::size_t>(t)];
      if (values) values[r * k + t] = row[order[static_cast<std::size_t>(t)]];
    }
  }
}

/// Both lists of a row in one, sorted by (value descending, index ascending), its first
/// min(k, na + nb) entries kept.
template <class T>
void topk_merge_rows(Ref, index_t rows, index_t k, index_t na, T* a_values, index_t* a_indices, index_t nb, const T* b_values,
                     const index_t* b_indices, index_t b_offset) {
  require(na >= 0 && na <= k && nb >= 0, "topk_merge_rows: ", na, " + ", nb, " entries for k = ", k);
  std::vector<std::pair<T, index_t>> all;
  for (index_t r = 0; r < rows; ++r) {
    all.clear();
    for (index_t t = 0; t < na; ++t) all.emplace_back(a_values[r * k + t], a_indices[r * k + t]);
    for (index_t t = 0; t < nb; ++t) all.emplace_back(b_values[r * nb + t], b_indices[r * nb + t] + b_offset);
    std::stable_sort(all.begin(), all.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    for (index_t t = 0; t < std::min<index_t>(k, na + nb); ++t) {
      a_values[r * k + t] = all[static_cast<std::size_t>(t)].first;
      a_indices[r * k + t] = all[static_cast<std::size_t>(t)].second;
    }
  }
}

template <class T>
void softmax_rows(Ref, index_t rows, index_t cols, bool log, const T* x, T* y) {
  using A = ref::Acc<T>;
  for (index_t r = 0; r < rows && cols > 0; ++r) {
    const T* z = x + r * cols;
    const A m = *std::max_element(z, z + cols);
    A sum = 0;
    for (index_t j = 0; j < cols; ++j) sum += std::exp(A(z[j]) - m);
    for (index_t j = 0; j < cols; ++j)
      y[r * cols + j] = static_cast<T>(log ? A(z[j]) - m - std::log(sum) : std::exp(A(z[j]) - m) / sum);
  }
}

template <class T>
void softmax_cross_entropy(Ref, const T* logits, index_t n, index_t k, const std::vector<int>& labels, T* loss, T* grad) {
  using A = ref::Acc<T>;
  check_labels("softmax_cross_entropy", n, k, labels);
  A total = 0;
  for (index_t i = 0; i < n; ++i) {
    const int y = labels[static_cast<std::size_t>(i)];
    const T* z = logits + i * k;
    const A m = *std::max_element(z, z + k);
    A sum = 0;
    for (index_t j = 0; j < k; ++j) sum += std::exp(z[j] - m);
    const A lse = m + std::log(sum);
    total += lse - z[y];
    if (grad)
      for (index_t j = 0; j < k; ++j) grad[i * k + j] = static_cast<T>((std::exp(z[j] - lse) - (j == y ? 1 : 0)) / A(n));
  }
  loss[0] = n > 0 ? static_cast<T>(total / A(n)) : T(0);
}

template <class T>
void argmax_accuracy(Ref, const T* logits, index_t n, index_t k, const std::vector<int>& labels, T* accuracy) {
  check_labels("argmax_accuracy", n, k, labels);
  index_t hits = 0;
  for (index_t i = 0; i < n; ++i) {
    const T* z = logits + i * k;
    hits += std::max_element(z, z + k) - z == labels[static_cast<std::size_t>(i)];  // the first maximum
  }
  accuracy[0] = n > 0 ? static_cast<T>(ref::Acc<T>(hits) / ref::Acc<T>(n)) : T(0);
}

// ---- symmetric positive definite matrices ----------------------------------------------------------

/// The Cholesky–Banachiewicz recurrence in Acc, column by column: L_jj = √(a_jj − Σ_k<j L_jk²),
/// L_ij = (a_ij − Σ_k<j L_ik·L_jk)/L_jj for i > j. Stops at the first pivot that is not finite and
/// > 0 (info 1; l is then all NaN).
template <class T>
void cholesky(Ref, index_t p, const T* a, T* l, T* info) {
  using A = ref::Acc<T>;
  std::vector<A> f(static_cast<std::size_t>(p * p), A(0));
  auto at = [&](index_t i, index_t j) -> A& { return f[static_cast<std::size_t>(i * p + j)]; };
  std::fill(l, l + p * p, std::numeric_limits<T>::quiet_NaN());
  info[0] = T(0);
  for (index_t j = 0; j < p; ++j) {
    A d = a[j * p + j];
    for (index_t k = 0; k < j; ++k) d -= at(j, k) * at(j, k);
    if (!(d > 0) || !std::isfinite(d)) {
      info[0] = T(1);
      return;
    }
    at(j, j) = std::sqrt(d);
    for (index_t i = j + 1; i < p; ++i) {
      A s = a[i * p + j];
      for (index_t k = 0; k < j; ++k) s -= at(i, k) * at(j, k);
      at(i, j) = s / at(j, j);
    }
  }
  for (index_t i = 0; i < p; ++i)
    for (index_t j = 0; j < p; ++j) l[i * p + j] = static_cast<T>(at(i, j));
}

template <class T>
void cholesky_logdet(Ref, index_t p, const T* l, T* y) {
  ref::Acc<T> sum = 0;
  for (index_t i = 0; i < p; ++i) sum += std::log(ref::Acc<T>(l[i * p + i]));
  y[0] = static_cast<T>(2 * sum);
}

/// (L·Lᵀ)⁻¹ = L⁻ᵀ·L⁻¹ = ZᵀZ with Z = L⁻¹ (lower, by forward substitution): entry (i, j) is
/// Σ_k Z_ki·Z_kj over k ≥ max(i, j), the same sum for (j, i), so y is exactly symmetric.
template <class T>
void cholesky_inverse(Ref, index_t p, const T* l, T* y) {
  using A = ref::Acc<T>;
  std::vector<A> z(static_cast<std::size_t>(p * p), A(0));
  auto zat = [&](index_t i, index_t j) -> A& { return z[static_cast<std::size_t>(i * p + j)]; };
  for (index_t j = 0; j < p; ++j) {  // column j of Z solves L·z = e_j
    zat(j, j) = A(1) / l[j * p + j];
    for (index_t i = j + 1; i < p; ++i) {
      A s = 0;
      for (index_t k = j; k < i; ++k) s += A(l[i * p + k]) * zat(k, j);
      zat(i, j) = -s / l[i * p + i];
    }
  }
  for (index_t i = 0; i < p; ++i)
    for (index_t j = 0; j < p; ++j) {
      A s = 0;
      for (index_t k = std::max(i, j); k < p; ++k) s += zat(k, i) * zat(k, j);
      y[i * p + j] = static_cast<T>(s);
    }
}

/// Σ over the tensors in order, each over its values in order, in the wide accumulator.
template <class T>
void sum_of_squares(Ref, index_t tensors, const T* const* x, const index_t* sizes, T* y) {
  using A = ref::Acc<T>;
  require(tensors >= 0, "sum_of_squares: ", tensors, " tensors");
  A total = 0;
  for (index_t t = 0; t < tensors; ++t) {
    require(sizes[t] >= 0, "sum_of_squares: tensor ", t, " has ", sizes[t], " values");
    for (index_t i = 0; i < sizes[t]; ++i) total += A(x[t][i]) * A(x[t][i]);
  }
  *y = static_cast<T>(total);
}

}  // namespace backend
}  // namespace structgan

static_assert(structgan::backend::conforms<structgan::Ref, float>() && structgan::backend::conforms<structgan::Ref, double>(),
              "the reference device implements the backend contract");
