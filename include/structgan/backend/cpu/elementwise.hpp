#pragma once
/// \file CPU element-wise kernels: Eigen array expressions (vectorized), split across threads.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include <Eigen/Core>

#include "structgan/backend/contract.hpp"
#include "structgan/backend/cpu/parallel.hpp"

namespace structgan::backend {

namespace cpu {
template <class T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
constexpr index_t elementwise_grain = 1 << 15;

template <class T>
void unary_segment(UnaryOp op, T alpha, ConstArrayMap<T> x, ArrayMap<T> y) {
  switch (op) {
    case UnaryOp::Neg: y = -x; break;
    case UnaryOp::Exp: y = x.exp(); break;
    case UnaryOp::Log: y = x.log(); break;
    case UnaryOp::Sqrt: y = x.sqrt(); break;
    case UnaryOp::Tanh: y = x.tanh(); break;
    // Eigen's select() is not vectorized (and calls scalar expf); these forms are, and equal it:
    // x > 0 gives exp(min(x, 0)) = 1.
    case UnaryOp::Elu: y = x.max(T(0)) + alpha * (x.min(T(0)).exp() - T(1)); break;
    case UnaryOp::EluDeriv:
      if (alpha == T(1)) y = x.min(T(0)).exp();
      else y = (x > T(0)).select(T(1), alpha * x.exp());
      break;
    case UnaryOp::EluDeriv2: y = (x > T(0)).select(T(0), alpha * x.exp()); break;
    case UnaryOp::Relu: y = x.max(T(0)); break;
    case UnaryOp::Step: y = (x > alpha).template cast<T>(); break;
    case UnaryOp::Abs: y = x.abs(); break;
    case UnaryOp::Sign: y = (x > T(0)).template cast<T>() - (x < T(0)).template cast<T>(); break;
    case UnaryOp::Square: y = x.square(); break;
    case UnaryOp::Pow: y = x.pow(alpha); break;
    case UnaryOp::AddScalar: y = x + alpha; break;
    case UnaryOp::MulScalar: y = x * alpha; break;
    case UnaryOp::ClampMin: y = x.max(alpha); break;
    case UnaryOp::Reciprocal: y = x.inverse(); break;
  }
}
}  // namespace cpu

/// y[i] = op(x[i]) for i < n (y may alias x).
template <class T>
void unary(Cpu, UnaryOp op, T alpha, index_t n, const T* x, T* y) {
  cpu::parallel_for(n, cpu::elementwise_grain, [&](index_t b, index_t e) {
    cpu::unary_segment<T>(op, alpha, cpu::ConstArrayMap<T>(x + b, e - b), cpu::ArrayMap<T>(y + b, e - b));
  });
}

/// y = a + alpha·x, in place on y (the accumulation of gradients).
template <class T>
void axpy(Cpu, index_t n, T alpha, const T* x, T* y) {
  cpu::parallel_for(n, cpu::elementwise_grain, [&](index_t b, index_t e) {
    cpu::ArrayMap<T>(y + b, e - b) += alpha * cpu::ConstArrayMap<T>(x + b, e - b);
  });
}

/// y[i] = value.
template <class T>
void fill(Cpu, index_t n, T value, T* y) {
  cpu::parallel_for(n, cpu::elementwise_grain, [&](index_t b, index_t e) { std::fill(y + b, y + e, value); });
}

/// Copies n values (host to host).
template <class T>
void copy(Cpu, index_t n, const T* x, T* y) {
  cpu::parallel_for(n, cpu::elementwise_grain, [&](index_t b, index_t e) {
    if (e > b) std::memcpy(y + b, x + b, static_cast<std::size_t>(e - b) * sizeof(T));
  });
}

/// f(p₀[i], p₁[i], …) for i < n: a fused element-wise loop (optimizer updates, EMA), split
/// across threads like the other element-wise kernels.
template <class F, class... P>
void map(Cpu, index_t n, F f, P*... p) {
  cpu::parallel_for(n, cpu::elementwise_grain, [&](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) f(p[i]...);
  });
}

namespace cpu {
/// out[i] = a[i] > 0 ? 0 : e^a[i]·b[i] (BinaryOp::EluCurvature, ELU's tangent's reverse rule) in
/// Eigen's packets. As an array expression, (a <= 0).cast<T>() · exp(min(a, 0)) · b, Eigen took
/// it one element at a time with the C library's exp: 7 ms for 4M floats on 2 Zen 4 cores, 8×
/// elu_tangent's time (docs/performance.md, twenty-fifth session). The last partial packet goes
/// through a zero-padded copy, so every value takes the same exp whatever its place; NaN in a
/// gives NaN, as the reference device's definition does.
template <class T>
void elu_curvature_run(index_t n, const T* a, const T* b, T* out) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<T>::type;
  constexpr index_t W = ei::packet_traits<T>::size;
  const P zero = ei::pset1<P>(T(0));
  auto packet = [&](const T* pa, const T* pb, T* po) {
    const P x = ei::ploadu<P>(pa);
    const P e = ei::pexp(ei::pmin<Eigen::PropagateNaN>(x, zero));
    ei::pstoreu(po, ei::pandnot(ei::pmul(e, ei::ploadu<P>(pb)), ei::pcmp_lt(zero, x)));
  };
  index_t i = 0;
  for (; i + W <= n; i += W) packet(a + i, b + i, out + i);
  if (i < n) {
    alignas(64) T pa[W] = {}, pb[W] = {}, po[W];
    std::copy(a + i, a + n, pa);
    std::copy(b + i, b + n, pb);
    packet(pa, pb, po);
    std::copy(po, po + (n - i), out + i);
  }
}

template <class T>
void binary_run(BinaryOp op, index_t n, const T* a, index_t sa, const T* b, index_t sb, T* y) {
  ArrayMap<T> out(y, n);
  if (sa == 1 && sb == 1) {
    ConstArrayMap<T> x(a, n), z(b, n);
    switch (op) {
      case BinaryOp::Add: out = x + z; break;
      case BinaryOp::Sub: out = x - z; break;
      case BinaryOp::Mul: out = x * z; break;
      case BinaryOp::Div: out = x / z; break;
      // vectorized forms (see unary_segment's Elu): exp(min(a, 0)) is 1 where a > 0
      case BinaryOp::EluTangent: out = x.min(T(0)).exp() * z; break;
      case BinaryOp::EluCurvature: elu_curvature_run(n, a, b, y); break;
    }
  } else if (op == BinaryOp::EluTangent || op == BinaryOp::EluCurvature) {  // broadcast: rare, scalar
    const bool tangent = op == BinaryOp::EluTangent;
    for (index_t i = 0; i < n; ++i) {
      const T u = a[i * sa], v = b[i * sb];
      y[i] = u > T(0) ? (tangent ? v : T(0)) : std::exp(u) * v;
    }
  } else if (sb == 0) {
    ConstArrayMap<T> x(a, sa ? n : 1);
    const T s = *b;
    if (sa == 0) { out.setConstant(op == BinaryOp::Add ? x[0] + s : op == BinaryOp::Sub ? x[0] - s : op == BinaryOp::Mul ? x[0] * s : x[0] / s); return; }
    switch (op) {
      case BinaryOp::Add: out = x + s; break;
      case BinaryOp::Sub: out = x - s; break;
      case BinaryOp::Mul: out = x * s; break;
      case BinaryOp::Div: out = x / s; break;
      case BinaryOp::EluTangent:
      case BinaryOp::EluCurvature: break;  // handled above
    }
  } else {  // sa == 0, sb == 1
    ConstArrayMap<T> z(b, n);
    const T s = *a;
    switch (op) {
      case BinaryOp::Add: out = s + z; break;
      case BinaryOp::Sub: out = s - z; break;
      case BinaryOp::Mul: out = s * z; break;
      case BinaryOp::Div: out = s / z; break;
      case BinaryOp::EluTangent:
      case BinaryOp::EluCurvature: break;  // handled above
    }
  }
}
}  // namespace cpu

/// y = op(a, b) with broadcasting: shapes padded to rank 4; each dimension of a and b equals
/// the output's or is 1 (then it repeats).
template <class T>
void binary(Cpu, BinaryOp op, const std::array<index_t, 4>& out_shape, const T* a, const std::array<index_t, 4>& a_shape,
            const T* b, const std::array<index_t, 4>& b_shape, T* y) {
  const BroadcastPlan p = plan_broadcast(out_shape, a_shape, b_shape);
  const int r = p.rank - 1;  // innermost merged dimension runs vectorized
  index_t outer = 1;
  for (int i = 0; i < r; ++i) outer *= p.size[i];
  const index_t inner = p.size[r];
  struct Offsets {
    index_t a = 0, b = 0, y = 0;
  };
  auto run_at = [&](index_t o) {  // where run o starts in a, b and y
    Offsets off;
    for (int i = r - 1; i >= 0; --i) {
      const index_t k = o % p.size[i];
      o /= p.size[i];
      off.a += k * p.sa[i]; off.b += k * p.sb[i]; off.y += k * p.so[i];
    }
    return off;
  };
  if (outer < 2 * cpu::num_threads()) {
    // Few long runs (a contiguous same-shape operation is a single one): split inside each run.
    for (index_t o = 0; o < outer; ++o) {
      const Offsets off = run_at(o);
      cpu::parallel_for(inner, cpu::elementwise_grain, [&](index_t b0, index_t e0) {
        cpu::binary_run<T>(op, e0 - b0, a + off.a + b0 * p.sa[r], p.sa[r], b + off.b + b0 * p.sb[r], p.sb[r], y + off.y + b0);
      });
    }
    return;
  }
  const index_t grain = std::max<index_t>(1, cpu::elementwise_grain / std::max<index_t>(inner, 1));
  cpu::parallel_for(outer, grain, [&](index_t b0, index_t e0) {
    for (index_t o = b0; o < e0; ++o) {
      const Offsets off = run_at(o);
      cpu::binary_run<T>(op, inner, a + off.a, p.sa[r], b + off.b, p.sb[r], y + off.y);
    }
  });
}

/// y = sum of x over the dimensions where y's (padded) shape is 1 and x's is not.
template <class T>
void reduce_sum(Cpu, const T* x, const std::array<index_t, 4>& x_shape, T* y, const std::array<index_t, 4>& y_shape) {
  // Reuse the broadcast plan: x is the "output" grid, y the operand that repeats.
  const BroadcastPlan p = plan_broadcast(x_shape, x_shape, y_shape);
  index_t ny = 1;
  for (int i = 0; i < 4; ++i) ny *= y_shape[i];
  std::fill(y, y + ny, T(0));
  const int r = p.rank - 1;
  index_t outer = 1;
  for (int i = 0; i < r; ++i) outer *= p.size[i];
  const index_t inner = p.size[r];
  for (index_t o = 0; o < outer; ++o) {
    index_t rem = o, ox = 0, oy = 0;
    for (int i = r - 1; i >= 0; --i) {
      const index_t k = rem % p.size[i];
      rem /= p.size[i];
      ox += k * p.so[i]; oy += k * p.sb[i];
    }
    cpu::ConstArrayMap<T> xs(x + ox, inner);
    if (p.sb[r] == 0) y[oy] += xs.sum();
    else cpu::ArrayMap<T>(y + oy, inner) += xs;
  }
}

}  // namespace structgan::backend
