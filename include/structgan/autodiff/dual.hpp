#pragma once
/// \file Dual<T>: a forward-mode scalar a + b·ε (ε² = 0) for element-wise math and tests.
/// Usable as an Eigen scalar through NumTraits. The hot path uses DualTensor instead (a dual
/// GEMM on Eigen matrices of Dual loses SIMD and BLAS; STYLE.md, Autodiff).
#include <cmath>
#include <ostream>

#include <Eigen/Core>

namespace structgan {

template <class T>
struct Dual {
  T val{};  ///< primal value a
  T eps{};  ///< tangent b
  constexpr Dual() = default;
  constexpr Dual(T v) : val(v) {}  // NOLINT: implicit from a constant, as a real number
  constexpr Dual(T v, T d) : val(v), eps(d) {}

  Dual& operator+=(const Dual& o) { val += o.val; eps += o.eps; return *this; }
  Dual& operator-=(const Dual& o) { val -= o.val; eps -= o.eps; return *this; }
  Dual& operator*=(const Dual& o) { eps = eps * o.val + val * o.eps; val *= o.val; return *this; }
  Dual& operator/=(const Dual& o) { eps = (eps * o.val - val * o.eps) / (o.val * o.val); val /= o.val; return *this; }
  friend Dual operator+(Dual a, const Dual& b) { return a += b; }
  friend Dual operator-(Dual a, const Dual& b) { return a -= b; }
  friend Dual operator*(Dual a, const Dual& b) { return a *= b; }
  friend Dual operator/(Dual a, const Dual& b) { return a /= b; }
  friend Dual operator-(const Dual& a) { return {-a.val, -a.eps}; }
  friend Dual operator+(const Dual& a) { return a; }
  friend bool operator<(const Dual& a, const Dual& b) { return a.val < b.val; }
  friend bool operator>(const Dual& a, const Dual& b) { return a.val > b.val; }
  friend bool operator<=(const Dual& a, const Dual& b) { return a.val <= b.val; }
  friend bool operator>=(const Dual& a, const Dual& b) { return a.val >= b.val; }
  friend bool operator==(const Dual& a, const Dual& b) { return a.val == b.val; }
  friend bool operator!=(const Dual& a, const Dual& b) { return a.val != b.val; }
  friend std::ostream& operator<<(std::ostream& os, const Dual& a) { return os << a.val << "+" << a.eps << "e"; }
};

// Elementary functions: f(a + bε) = f(a) + f'(a)·b·ε.
template <class T> Dual<T> exp(const Dual<T>& x) { const T e = std::exp(x.val); return {e, e * x.eps}; }
template <class T> Dual<T> log(const Dual<T>& x) { return {std::log(x.val), x.eps / x.val}; }
template <class T> Dual<T> sqrt(const Dual<T>& x) { const T s = std::sqrt(x.val); return {s, x.eps / (T(2) * s)}; }
template <class T> Dual<T> tanh(const Dual<T>& x) { const T t = std::tanh(x.val); return {t, (T(1) - t * t) * x.eps}; }
template <class T> Dual<T> abs(const Dual<T>& x) { return {std::abs(x.val), x.val < T(0) ? -x.eps : x.eps}; }
template <class T> Dual<T> pow(const Dual<T>& x, T a) { const T p = std::pow(x.val, a - T(1)); return {p * x.val, a * p * x.eps}; }
template <class T> Dual<T> elu(const Dual<T>& x) {
  if (x.val > T(0)) return x;
  const T e = std::exp(x.val);
  return {e - T(1), e * x.eps};
}
template <class T> T value_of(const Dual<T>& x) { return x.val; }
template <class T> T tangent_of(const Dual<T>& x) { return x.eps; }

}  // namespace structgan

namespace Eigen {
template <class T>
struct NumTraits<structgan::Dual<T>> : NumTraits<T> {
  using Real = structgan::Dual<T>;
  using NonInteger = structgan::Dual<T>;
  using Nested = structgan::Dual<T>;
  using Literal = structgan::Dual<T>;
  enum { IsComplex = 0, IsInteger = 0, IsSigned = 1, RequireInitialization = 1, ReadCost = 2, AddCost = 2, MulCost = 4 };
};
template <class T, class BinaryOp>
struct ScalarBinaryOpTraits<structgan::Dual<T>, T, BinaryOp> { using ReturnType = structgan::Dual<T>; };
template <class T, class BinaryOp>
struct ScalarBinaryOpTraits<T, structgan::Dual<T>, BinaryOp> { using ReturnType = structgan::Dual<T>; };
}  // namespace Eigen
