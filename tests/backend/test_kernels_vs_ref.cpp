// Every kernel of the CPU backend against the reference device (backend/ref.hpp) on random shapes
// (odd, tiny and empty ones too), in float and double. Both backends work on host memory, so the
// kernels are called on the same host buffers; the reference accumulates in a wider type, so a
// difference beyond rounding is the CPU kernel's.
#define BOOST_TEST_MODULE backend_kernels_vs_ref
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <limits>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "structgan/backend/cpu.hpp"
#include "structgan/backend/device_indices.hpp"
#include "structgan/backend/ref.hpp"
#include "structgan/backend/tensor_util.hpp"
#include "structgan/core/random.hpp"

#include <Eigen/Cholesky>

using namespace structgan;
using A4 = std::array<index_t, 4>;

namespace {

template <class T>
constexpr double tolerance() { return std::is_same_v<T, float> ? 2e-5 : 1e-12; }

template <class T>
std::vector<T> random_values(Rng& rng, index_t n, double scale = 1.0) {
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = static_cast<T>(scale * rng.normal());
  return v;
}

/// Values from a small set of integers, so that maxima and top-k have ties.
template <class T>
std::vector<T> tied_values(Rng& rng, index_t n) {
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = static_cast<T>(static_cast<int>(rng.below(5)) - 2);
  return v;
}

index_t random_dim(Rng& rng, index_t hi) { return static_cast<index_t>(rng.below(static_cast<std::uint64_t>(hi) + 1)); }

/// max |got − want| ≤ tol · (1 + max |want|), with the worst element named on failure.
template <class T>
void check_close(const std::string& what, const std::vector<T>& got, const std::vector<T>& want, double tol) {
  BOOST_REQUIRE_EQUAL(got.size(), want.size());
  double scale = 0, worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    scale = std::max(scale, std::abs(double(want[i])));
    const double d = std::isnan(double(got[i])) != std::isnan(double(want[i])) ? INFINITY : std::abs(double(got[i]) - double(want[i]));
    if (!(d <= worst)) worst = d, at = i;
  }
  BOOST_TEST(worst <= tol * (1 + scale), what << ": element " << at << " cpu " << (got.empty() ? 0 : got[at]) << " ref "
                                              << (want.empty() ? 0 : want[at]) << " (|diff| " << worst << ", scale " << scale << ")");
}

const UnaryOp all_unary[] = {UnaryOp::Neg,  UnaryOp::Exp,       UnaryOp::Log,      UnaryOp::Sqrt,      UnaryOp::Tanh,
                             UnaryOp::Elu,  UnaryOp::EluDeriv,  UnaryOp::EluDeriv2, UnaryOp::Relu,     UnaryOp::Step,
                             UnaryOp::Abs,  UnaryOp::Sign,      UnaryOp::Square,   UnaryOp::Pow,       UnaryOp::AddScalar,
                             UnaryOp::MulScalar, UnaryOp::ClampMin, UnaryOp::Reciprocal};
const BinaryOp all_binary[] = {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::EluTangent,
                               BinaryOp::EluCurvature};

using Scalars = std::tuple<float, double>;

}  // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(elu_curvature_at_its_edges, T, Scalars) {
  // EluCurvature, a > 0 ? 0 : eᵃ·b, runs in SIMD packets on the CPU (the last one padded): +0 for
  // every positive a whatever b, b at a = 0, NaN for NaN a, the same as the reference in every
  // position of a packet and of the padded tail (n = 37).
  const index_t n = 37;
  std::vector<T> a(n), b(n), got(n), want(n);
  for (index_t i = 0; i < n; ++i) {
    a[std::size_t(i)] = i % 4 == 0 ? T(0.5) + T(i) : i % 4 == 1 ? T(-0.25) * T(i) : i % 4 == 2 ? T(0) : (i % 8 == 3 ? T(NAN) : T(1e-30));
    b[std::size_t(i)] = i % 3 == 0 ? T(-2) : T(1.5) + T(i);
  }
  const std::array<index_t, 4> shape{1, 1, 1, n};
  binary(Cpu{}, BinaryOp::EluCurvature, shape, a.data(), shape, b.data(), shape, got.data());
  binary(Ref{}, BinaryOp::EluCurvature, shape, a.data(), shape, b.data(), shape, want.data());
  for (index_t i = 0; i < n; ++i) {
    const T ai = a[std::size_t(i)], g = got[std::size_t(i)], w = want[std::size_t(i)];
    BOOST_TEST_CONTEXT("i " << i << ", a " << ai) {
      if (std::isnan(ai)) {
        BOOST_TEST(std::isnan(g));
      } else if (ai > 0) {
        BOOST_TEST((g == T(0) && !std::signbit(g)));
      } else if (ai == 0) {
        BOOST_TEST(g == b[std::size_t(i)]);
      } else {
        BOOST_TEST(std::abs(double(g) - double(w)) <= 4 * std::numeric_limits<T>::epsilon() * std::abs(double(w)));
      }
      BOOST_TEST(std::isnan(g) == std::isnan(w));
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(memory_and_element_wise, T, Scalars) {
  Rng rng(1);
  for (index_t n : {index_t(0), index_t(1), index_t(7), index_t(1000), index_t(70001)}) {
    const auto x = random_values<T>(rng, n);
    std::vector<T> a(x.size()), b(x.size());
    copy_to_host(Cpu{}, n, x.data(), a.data());
    copy_to_host(Ref{}, n, x.data(), b.data());
    check_close("copy_to_host n=" + std::to_string(n), a, b, 0);
    copy_from_host(Cpu{}, n, x.data(), a.data());
    copy_from_host(Ref{}, n, x.data(), b.data());
    check_close("copy_from_host", a, b, 0);
    fill(Cpu{}, n, T(2.5), a.data());
    fill(Ref{}, n, T(2.5), b.data());
    check_close("fill", a, b, 0);
    for (UnaryOp op : all_unary) {
      // Log, Sqrt and Pow on positive values; Reciprocal away from 0.
      auto in = x;
      if (op == UnaryOp::Log || op == UnaryOp::Sqrt || op == UnaryOp::Pow || op == UnaryOp::Reciprocal)
        for (auto& v : in) v = std::abs(v) + T(0.1);
      const T alpha = op == UnaryOp::Pow ? T(1.7) : T(0.3);
      unary(Cpu{}, op, alpha, n, in.data(), a.data());
      unary(Ref{}, op, alpha, n, in.data(), b.data());
      check_close("unary " + std::to_string(int(op)) + " n=" + std::to_string(n), a, b, tolerance<T>());
    }
    const auto y = random_values<T>(rng, n);
    a = y, b = y;
    axpy(Cpu{}, n, T(-0.7), x.data(), a.data());
    axpy(Ref{}, n, T(-0.7), x.data(), b.data());
    check_close("axpy", a, b, tolerance<T>());
    a = y, b = y;
    std::vector<T> a2 = x, b2 = x;
    const backend::contract_detail::AxpbyFunctor<T> f{T(0.9)};
    map(Cpu{}, n, f, a.data(), static_cast<const T*>(x.data()));
    map(Ref{}, n, f, b.data(), static_cast<const T*>(x.data()));
    check_close("map", a, b, tolerance<T>());
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(broadcast_and_reduction, T, Scalars) {
  Rng rng(2);
  for (int trial = 0; trial < 300; ++trial) {
    A4 out{}, as{}, bs{}, ys{};
    for (int d = 0; d < 4; ++d) {
      out[d] = trial % 37 == 0 ? random_dim(rng, 3) : 1 + random_dim(rng, 6);  // some empty shapes
      as[d] = rng.below(3) == 0 ? 1 : out[d];
      bs[d] = rng.below(3) == 0 ? 1 : out[d];
      ys[d] = rng.below(2) == 0 ? 1 : out[d];
    }
    const auto numel = [](const A4& s) { return s[0] * s[1] * s[2] * s[3]; };
    const auto a = random_values<T>(rng, numel(as)), b = random_values<T>(rng, numel(bs));
    for (BinaryOp op : all_binary) {
      std::vector<T> got(static_cast<std::size_t>(numel(out))), want(got.size());
      binary(Cpu{}, op, out, a.data(), as, b.data(), bs, got.data());
      binary(Ref{}, op, out, a.data(), as, b.data(), bs, want.data());
      check_close("binary " + std::to_string(int(op)) + " trial " + std::to_string(trial), got, want, tolerance<T>());
    }
    const auto x = random_values<T>(rng, numel(out));
    std::vector<T> got(static_cast<std::size_t>(numel(ys))), want(got.size());
    reduce_sum(Cpu{}, x.data(), out, got.data(), ys);
    reduce_sum(Ref{}, x.data(), out, want.data(), ys);
    check_close("reduce_sum trial " + std::to_string(trial), got, want, tolerance<T>() * 10);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(gemm_every_transpose_and_beta, T, Scalars) {
  Rng rng(3);
  for (int trial = 0; trial < 120; ++trial) {
    const index_t m = random_dim(rng, 40), n = random_dim(rng, 40), k = trial % 10 == 0 ? 0 : 1 + random_dim(rng, 70);
    const bool ta = rng.below(2), tb = rng.below(2);
    const index_t lda = (ta ? m : k) + random_dim(rng, 2), ldb = (tb ? k : n) + random_dim(rng, 2), ldc = n + random_dim(rng, 2);
    const auto a = random_values<T>(rng, (ta ? k : m) * lda + 1), b = random_values<T>(rng, (tb ? n : k) * ldb + 1);
    const T beta = trial % 3 == 0 ? T(0) : trial % 3 == 1 ? T(1) : T(-0.5);
    const auto c = random_values<T>(rng, m * ldc + 1);
    auto got = c, want = c;
    gemm(Cpu{}, ta, tb, m, n, k, T(1.3), a.data(), lda, b.data(), ldb, beta, got.data(), ldc);
    gemm(Ref{}, ta, tb, m, n, k, T(1.3), a.data(), lda, b.data(), ldb, beta, want.data(), ldc);
    check_close("gemm " + std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + (ta ? " Aᵀ" : "") + (tb ? " Bᵀ" : ""),
                got, want, tolerance<T>() * std::sqrt(double(k + 1)));
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(convolution_forward_and_backward, T, Scalars) {
  Rng rng(4);
  // The CPU's three paths: Winograd F(4×4) (maps of 4×4 and more), F(2×2), and im2col + GEMM;
  // then rectangular kernels and padding (Inception-v3's 1×7, 7×1, 1×3, 3×1), which im2col takes.
  std::vector<ConvGeometry> geometries = {
      {3, 16, 8, 8, 16, 3, 3, 1, 1, 1}, {2, 17, 5, 7, 19, 3, 3, 1, 1, 1}, {2, 16, 3, 2, 16, 3, 3, 1, 1, 1},
      {1, 3, 9, 9, 5, 3, 3, 2, 1, 1},   {2, 4, 6, 5, 3, 1, 1, 1, 0, 0},   {1, 2, 7, 7, 3, 4, 4, 2, 1, 1},
      {0, 4, 5, 5, 4, 3, 3, 1, 1, 1},   {1, 1, 1, 1, 1, 1, 1, 1, 0, 0},   {2, 5, 6, 6, 7, 3, 3, 1, 0, 0},
      {2, 5, 9, 7, 4, 1, 7, 1, 0, 3},   {2, 5, 7, 9, 4, 7, 1, 1, 3, 0},   {2, 3, 5, 5, 4, 1, 7, 1, 0, 3},
      {3, 4, 7, 9, 5, 1, 3, 1, 0, 1},   {3, 4, 9, 7, 5, 3, 1, 1, 1, 0},   {2, 3, 9, 11, 4, 3, 3, 2, 0, 0},
      {2, 3, 8, 10, 4, 3, 3, 2, 0, 0},  {2, 3, 7, 6, 4, 1, 7, 2, 0, 3},   {2, 3, 6, 7, 4, 7, 1, 2, 3, 0},
      {2, 16, 6, 6, 16, 3, 3, 1, 1, 0}, {2, 16, 6, 6, 16, 3, 3, 1, 0, 1}, {1, 2, 5, 6, 3, 3, 5, 1, 2, 1}};
  for (int trial = 0; trial < 8; ++trial)
    geometries.push_back({1 + random_dim(rng, 2), 1 + random_dim(rng, 6), 3 + random_dim(rng, 6), 3 + random_dim(rng, 6),
                          1 + random_dim(rng, 6), 1 + random_dim(rng, 1) * 2, 1 + random_dim(rng, 1) * 2, 1 + random_dim(rng, 1),
                          random_dim(rng, 1), random_dim(rng, 1)});
  for (const ConvGeometry& g : geometries) {
    const std::string name = "conv " + std::to_string(g.n) + "×" + std::to_string(g.c) + "×" + std::to_string(g.h) + "×" +
                             std::to_string(g.w) + " → " + std::to_string(g.o) + " k" + std::to_string(g.kh) + "×" +
                             std::to_string(g.kw) + " s" + std::to_string(g.stride) + " p(" + std::to_string(g.pad_h) + ", " +
                             std::to_string(g.pad_w) + ")";
    const index_t nx = g.n * g.c * g.h * g.w, nw = g.o * g.c * g.kh * g.kw, ny = g.n * g.o * g.ho() * g.wo();
    const auto x = random_values<T>(rng, nx), w = random_values<T>(rng, nw), dy = random_values<T>(rng, ny);
    std::vector<T> got(static_cast<std::size_t>(ny)), want(got.size());
    conv2d_forward(Cpu{}, g, x.data(), w.data(), got.data());
    conv2d_forward(Ref{}, g, x.data(), w.data(), want.data());
    const double tol = tolerance<T>() * std::sqrt(double(g.patch()));
    check_close(name + " forward", got, want, tol);
    const auto dw0 = random_values<T>(rng, nw);
    std::vector<T> dx_got(static_cast<std::size_t>(nx)), dx_want(dx_got.size()), dw_got = dw0, dw_want = dw0;
    conv2d_backward(Cpu{}, g, x.data(), w.data(), dy.data(), dx_got.data(), dw_got.data());
    conv2d_backward(Ref{}, g, x.data(), w.data(), dy.data(), dx_want.data(), dw_want.data());
    check_close(name + " dx", dx_got, dx_want, tol);
    check_close(name + " dw (accumulated)", dw_got, dw_want, tol * std::sqrt(double(g.n * g.ho() * g.wo() + 1)));
    // Either output alone.
    std::vector<T> dx_only(static_cast<std::size_t>(nx)), dw_only = dw0;
    conv2d_backward(Cpu{}, g, x.data(), w.data(), dy.data(), dx_only.data(), static_cast<T*>(nullptr));
    check_close(name + " dx alone", dx_only, dx_want, tol);
    conv2d_backward(Cpu{}, g, x.data(), w.data(), dy.data(), static_cast<T*>(nullptr), dw_only.data());
    check_close(name + " dw alone", dw_only, dw_want, tol * std::sqrt(double(g.n * g.ho() * g.wo() + 1)));
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(pooling_and_upsampling, T, Scalars) {
  Rng rng(5);
  struct Case {
    index_t n, c, h, w, k, s, pad;
  };
  // Unpadded windows, then padded ones (Inception-v3: k3 s1 p1 average pooling, k3 s2 max pooling).
  for (const Case& c : {Case{1, 3, 4, 4, 2, 2, 0}, Case{2, 1, 5, 7, 2, 2, 0}, Case{1, 1, 6, 6, 3, 3, 0},
                        Case{2, 2, 3, 3, 3, 1, 0}, Case{0, 3, 4, 4, 2, 2, 0}, Case{1, 1, 1, 1, 1, 1, 0},
                        Case{5, 1, 8, 6, 2, 1, 0}, Case{2, 3, 5, 7, 3, 1, 1}, Case{2, 3, 6, 5, 3, 2, 1},
                        Case{1, 2, 7, 8, 3, 2, 0}, Case{2, 2, 1, 1, 3, 1, 1}, Case{1, 2, 2, 3, 3, 2, 1},
                        Case{1, 3, 9, 8, 5, 2, 2}, Case{3, 1, 4, 4, 2, 1, 1}}) {
    for (bool count_padding : {true, false}) {
      const PoolGeometry g{c.n, c.c, c.h, c.w, c.k, c.s, c.pad, count_padding};
      const index_t nx = g.planes() * c.h * c.w, ny = g.planes() * g.ho() * g.wo();
      for (bool tied : {false, true}) {
        const auto x = tied ? tied_values<T>(rng, nx) : random_values<T>(rng, nx), dy = random_values<T>(rng, ny),
                   t = random_values<T>(rng, nx);
        const std::string where = std::to_string(g.planes()) + "×" + std::to_string(c.h) + "×" + std::to_string(c.w) + " k" +
                                  std::to_string(c.k) + " s" + std::to_string(c.s) + " p" + std::to_string(c.pad) +
                                  (tied ? " (ties)" : "");
        for (bool max : {false, true}) {
          const std::string name = std::string(max ? "max" : count_padding ? "avg (padding counted)" : "avg (padding not counted)") +
                                   " pool " + where;
          std::vector<T> got(static_cast<std::size_t>(ny)), want(got.size());
          pool2d_forward(Cpu{}, max, g, x.data(), got.data());
          pool2d_forward(Ref{}, max, g, x.data(), want.data());
          check_close(name + " forward", got, want, tolerance<T>());
          std::vector<T> dx_got(static_cast<std::size_t>(nx)), dx_want(dx_got.size());
          pool2d_backward(Cpu{}, max, g, x.data(), dy.data(), dx_got.data());
          pool2d_backward(Ref{}, max, g, x.data(), dy.data(), dx_want.data());
          check_close(name + " backward", dx_got, dx_want, tolerance<T>());
        }
        std::vector<T> got(static_cast<std::size_t>(ny)), want(got.size());
        max_pool2d_select(Cpu{}, g, x.data(), t.data(), got.data());
        max_pool2d_select(Ref{}, g, x.data(), t.data(), want.data());
        check_close("max_pool2d_select " + where, got, want, 0);
      }
    }
    const index_t planes = c.n * c.c, nx = planes * c.h * c.w;
    const auto u = random_values<T>(rng, nx), du = random_values<T>(rng, 4 * nx);
    std::vector<T> up_got(static_cast<std::size_t>(4 * nx)), up_want(up_got.size());
    upsample2x_forward(Cpu{}, planes, c.h, c.w, u.data(), up_got.data());
    upsample2x_forward(Ref{}, planes, c.h, c.w, u.data(), up_want.data());
    check_close("upsample2x forward", up_got, up_want, 0);
    std::vector<T> dn_got(static_cast<std::size_t>(nx)), dn_want(dn_got.size());
    upsample2x_backward(Cpu{}, planes, c.h, c.w, du.data(), dn_got.data());
    upsample2x_backward(Ref{}, planes, c.h, c.w, du.data(), dn_want.data());
    check_close("upsample2x backward", dn_got, dn_want, tolerance<T>());
  }
}

/// The reference device against values worked out by hand (and matching PyTorch 1.13's
/// avg_pool2d / max_pool2d): a 3×3 image 1…9 pooled k3 s1 p1. The corner window holds 1, 2, 4, 5:
/// 12/4 = 3 without the padding, 12/9 with it; max pooling ignores the padding even for an
/// all-negative image.
BOOST_AUTO_TEST_CASE(padded_pooling_by_hand) {
  const std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<double> y(9);
  pool2d_forward(Ref{}, false, PoolGeometry{1, 1, 3, 3, 3, 1, 1, false}, x.data(), y.data());
  const std::vector<double> excluded = {3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7};
  check_close("avg pool, padding not counted", y, excluded, 1e-15);
  pool2d_forward(Ref{}, false, PoolGeometry{1, 1, 3, 3, 3, 1, 1, true}, x.data(), y.data());
  const std::vector<double> counted = {12. / 9, 21. / 9, 16. / 9, 27. / 9, 45. / 9, 33. / 9, 24. / 9, 39. / 9, 28. / 9};
  check_close("avg pool, padding counted", y, counted, 1e-15);
  const std::vector<double> negative = {-1, -2, -3, -4, -5, -6, -7, -8, -9};
  pool2d_forward(Ref{}, true, PoolGeometry{1, 1, 3, 3, 3, 1, 1, true}, negative.data(), y.data());
  check_close("max pool of negative values", y, std::vector<double>{-1, -1, -2, -1, -1, -2, -4, -4, -5}, 0);
  // k3 s2 p1 on 3×3: a 2×2 output of the four 2×2 corners' means (top-left 1, 2, 4, 5: 3).
  std::vector<double> y2(4);
  pool2d_forward(Ref{}, false, PoolGeometry{1, 1, 3, 3, 3, 2, 1, false}, x.data(), y2.data());
  check_close("avg pool k3 s2 p1, padding not counted", y2, std::vector<double>{3, 4, 6, 7}, 1e-15);
  // The gradient of the uncounted average: each window's dy shared among its 4 in-image positions.
  std::vector<double> dx(9);
  pool2d_backward(Ref{}, false, PoolGeometry{1, 1, 3, 3, 3, 2, 1, false}, x.data(), std::vector<double>{4, 8, 12, 16}.data(),
                  dx.data());
  check_close("avg pool k3 s2 p1 backward", dx, std::vector<double>{1, 3, 2, 4, 10, 6, 3, 7, 4}, 1e-15);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(standardization, T, Scalars) {
  Rng rng(6);
  for (const StandardizeLayout& s : {StandardizeLayout{1, 6, 37}, StandardizeLayout{4, 3, 5}, StandardizeLayout{2, 1, 1},
                                     StandardizeLayout{1, 2, 1000}, StandardizeLayout{3, 0, 4}, StandardizeLayout{7, 5, 16}}) {
    const std::string name = "standardize (" + std::to_string(s.p) + ", " + std::to_string(s.g) + ", " + std::to_string(s.l) + ")";
    const index_t n = s.p * s.g * s.l;
    const auto x = random_values<T>(rng, n, 3.0), t = random_values<T>(rng, n), dy = random_values<T>(rng, n),
               c = random_values<T>(rng, s.g);
    std::vector<T> xhat(static_cast<std::size_t>(n)), xhat_ref(xhat.size()), mean(static_cast<std::size_t>(s.g)),
        mean_ref(mean.size()), rstd(mean.size()), rstd_ref(mean.size());
    standardize_forward(Cpu{}, s, T(1e-5), x.data(), xhat.data(), mean.data(), rstd.data());
    standardize_forward(Ref{}, s, T(1e-5), x.data(), xhat_ref.data(), mean_ref.data(), rstd_ref.data());
    check_close(name + " xhat", xhat, xhat_ref, tolerance<T>());
    check_close(name + " mean", mean, mean_ref, tolerance<T>());
    check_close(name + " rstd", rstd, rstd_ref, tolerance<T>());
    // The Jacobian kernels on the reference's statistics, so that each is checked alone.
    std::vector<T> y(static_cast<std::size_t>(n)), y_ref(y.size());
    standardize_jacobian(Cpu{}, s, xhat_ref.data(), rstd_ref.data(), t.data(), y.data());
    standardize_jacobian(Ref{}, s, xhat_ref.data(), rstd_ref.data(), t.data(), y_ref.data());
    check_close(name + " jacobian", y, y_ref, tolerance<T>() * 10);
    std::vector<T> dxhat(static_cast<std::size_t>(n)), dxhat_ref(dxhat.size()), drstd(mean.size()), drstd_ref(mean.size());
    standardize_jacobian_backward(Cpu{}, s, xhat_ref.data(), rstd_ref.data(), t.data(), y_ref.data(), dy.data(), dxhat.data(),
                                  drstd.data());
    standardize_jacobian_backward(Ref{}, s, xhat_ref.data(), rstd_ref.data(), t.data(), y_ref.data(), dy.data(),
                                  dxhat_ref.data(), drstd_ref.data());
    check_close(name + " jacobian backward dxhat", dxhat, dxhat_ref, tolerance<T>() * 10);
    check_close(name + " jacobian backward drstd", drstd, drstd_ref, tolerance<T>() * std::sqrt(double(s.count() + 1)));
    std::vector<T> sc(static_cast<std::size_t>(n)), sc_ref(sc.size());
    scale_groups(Cpu{}, s, x.data(), c.data(), sc.data());
    scale_groups(Ref{}, s, x.data(), c.data(), sc_ref.data());
    check_close(name + " scale_groups", sc, sc_ref, tolerance<T>());
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(fused_group_norm, T, Scalars) {
  Rng rng(8);
  // (n, c, hw, groups); the last ones: one channel per group, an empty batch, a mean far from 0
  const std::vector<std::pair<GroupNormGeometry, double>> cases = {
      {{2, 32, 16, 2}, 0}, {{3, 12, 7, 3}, 0}, {{1, 4, 1, 1}, 0}, {{2, 6, 5, 6}, 0}, {{0, 8, 4, 2}, 0}, {{2, 16, 9, 4}, 50}};
  for (const auto& [g, offset] : cases) {
    const std::string name = "group_norm (" + std::to_string(g.n) + ", " + std::to_string(g.c) + ", " + std::to_string(g.hw) +
                             ", " + std::to_string(g.groups) + ")";
    const index_t n = g.n * g.c * g.hw;
    auto x = random_values<T>(rng, n, 3.0);
    for (T& v : x) v += T(offset);
    const auto w = random_values<T>(rng, g.c), b = random_values<T>(rng, g.c), dy = random_values<T>(rng, n),
               xt = random_values<T>(rng, n), wt = random_values<T>(rng, g.c), bt = random_values<T>(rng, g.c);
    const std::size_t ns = static_cast<std::size_t>(g.statistics()), nc = static_cast<std::size_t>(g.c);
    for (const bool affine : {true, false}) {
      const std::string nm = name + (affine ? " affine" : " plain");
      const T* wp = affine ? w.data() : nullptr;
      const T* bp = affine ? b.data() : nullptr;
      std::vector<T> y(static_cast<std::size_t>(n)), y_ref(y.size()), mean(ns), mean_ref(ns), rstd(ns), rstd_ref(ns);
      group_norm_forward(Cpu{}, g, T(1e-5), x.data(), wp, bp, y.data(), mean.data(), rstd.data());
      group_norm_forward(Ref{}, g, T(1e-5), x.data(), wp, bp, y_ref.data(), mean_ref.data(), rstd_ref.data());
      // the statistics in float carry the shifted sums' rounding: the tolerance grows with the mean
      const double tol = tolerance<T>() * (1 + offset);
      check_close(nm + " y", y, y_ref, tol);
      check_close(nm + " mean", mean, mean_ref, tolerance<T>());
      check_close(nm + " rstd", rstd, rstd_ref, tol);
      // backward and tangent on the reference's statistics, so that each is checked alone
      std::vector<T> dx(y.size()), dx_ref(y.size()), dw(nc), dw_ref(nc), db(nc), db_ref(nc);
      group_norm_backward(Cpu{}, g, x.data(), mean_ref.data(), rstd_ref.data(), wp, dy.data(), dx.data(), dw.data(), db.data());
      group_norm_backward(Ref{}, g, x.data(), mean_ref.data(), rstd_ref.data(), wp, dy.data(), dx_ref.data(), dw_ref.data(),
                          db_ref.data());
      const double sums = tol * std::sqrt(double(g.n * g.hw + 1));
      check_close(nm + " dx", dx, dx_ref, tol * 10);
      check_close(nm + " dw", dw, dw_ref, sums);
      check_close(nm + " db", db, db_ref, sums);
      // only dw requested: the same dw, dx and db left alone
      std::vector<T> dw_only(nc);
      group_norm_backward(Cpu{}, g, x.data(), mean_ref.data(), rstd_ref.data(), wp, dy.data(), static_cast<T*>(nullptr), dw_only.data(),
                          static_cast<T*>(nullptr));
      check_close(nm + " dw alone", dw_only, dw_ref, sums);
      std::vector<T> yt(y.size()), yt_ref(y.size());
      group_norm_jvp(Cpu{}, g, x.data(), mean_ref.data(), rstd_ref.data(), wp, xt.data(), affine ? wt.data() : nullptr,
                     affine ? bt.data() : nullptr, yt.data());
      group_norm_jvp(Ref{}, g, x.data(), mean_ref.data(), rstd_ref.data(), wp, xt.data(), affine ? wt.data() : nullptr,
                     affine ? bt.data() : nullptr, yt_ref.data());
      check_close(nm + " jvp", yt, yt_ref, tol * 10);
    }
  }
  // The reference against the definition on one small case: y·rstd⁻¹ recovers x − mean.
  const GroupNormGeometry g{1, 2, 2, 1};
  const std::vector<double> x{1, 2, 3, 6}, w{1, 1}, b{0, 0};
  std::vector<double> y(4), mean(1), rstd(1);
  group_norm_forward(Ref{}, g, 0.0, x.data(), w.data(), b.data(), y.data(), mean.data(), rstd.data());
  check_close("group_norm reference mean", mean, std::vector<double>{3}, 1e-15);
  check_close("group_norm reference rstd", rstd, std::vector<double>{1 / std::sqrt(3.5)}, 1e-15);
  check_close("group_norm reference y", y, std::vector<double>{-2 / std::sqrt(3.5), -1 / std::sqrt(3.5), 0, 3 / std::sqrt(3.5)},
              1e-15);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(batch_norm_affine, T, Scalars) {
  Rng rng(9);
  // (N, C, H·W) and an offset of the values; the last: one value per plane, a mean far from 0
  const std::vector<std::pair<StandardizeLayout, double>> cases = {
      {{4, 8, 16}, 0}, {{3, 5, 7}, 0}, {{2, 3, 1}, 0}, {{1, 6, 9}, 0}, {{5, 4, 33}, 20}};
  for (const auto& [s, offset] : cases) {
    const std::string name = "batch_norm_affine (" + std::to_string(s.p) + ", " + std::to_string(s.g) + ", " +
                             std::to_string(s.l) + ")";
    const index_t n = s.p * s.g * s.l, planes = s.p * s.g;
    auto x = random_values<T>(rng, n, 2.0);
    for (T& v : x) v += T(offset);
    const auto scale = random_values<T>(rng, planes), shift = random_values<T>(rng, planes), dy = random_values<T>(rng, n);
    for (const bool affine : {true, false})
      for (const bool relu : {true, false}) {
        const std::string nm = name + (affine ? " affine" : " plain") + (relu ? " relu" : "");
        const T* sp = affine ? scale.data() : nullptr;
        const T* hp = affine ? shift.data() : nullptr;
        const std::size_t ng = static_cast<std::size_t>(s.g), np = static_cast<std::size_t>(planes);
        std::vector<T> y(static_cast<std::size_t>(n)), y_ref(y.size()), mean(ng), mean_ref(ng), rstd(ng), rstd_ref(ng);
        batch_norm_affine_forward(Cpu{}, s, T(1e-5), relu, x.data(), sp, hp, y.data(), mean.data(), rstd.data());
        batch_norm_affine_forward(Ref{}, s, T(1e-5), relu, x.data(), sp, hp, y_ref.data(), mean_ref.data(), rstd_ref.data());
        const double tol = tolerance<T>() * (1 + offset);
        check_close(nm + " y", y, y_ref, tol);
        check_close(nm + " mean", mean, mean_ref, tolerance<T>() * (1 + offset));
        check_close(nm + " rstd", rstd, rstd_ref, tol);
        if (relu) {
          int cut = 0;
          for (const T v : y_ref) cut += v == T(0);
          BOOST_TEST(cut > 0, nm << ": the ReLU cut nothing");
        }
        // the backward on the reference's statistics and output, so that it is checked alone
        std::vector<T> dx(y.size()), dx_ref(y.size()), ds(np), ds_ref(np), dh(np), dh_ref(np);
        batch_norm_affine_backward(Cpu{}, s, relu, x.data(), mean_ref.data(), rstd_ref.data(), sp, y_ref.data(), dy.data(),
                                   dx.data(), ds.data(), dh.data());
        batch_norm_affine_backward(Ref{}, s, relu, x.data(), mean_ref.data(), rstd_ref.data(), sp, y_ref.data(), dy.data(),
                                   dx_ref.data(), ds_ref.data(), dh_ref.data());
        const double sums = tol * std::sqrt(double(s.l + 1));
        check_close(nm + " dx", dx, dx_ref, tol * 10);
        check_close(nm + " dscale", ds, ds_ref, sums);
        check_close(nm + " dshift", dh, dh_ref, sums);
        // only dscale requested: the same values, dx and dshift left alone
        std::vector<T> ds_only(np);
        batch_norm_affine_backward(Cpu{}, s, relu, x.data(), mean_ref.data(), rstd_ref.data(), sp, y_ref.data(), dy.data(),
                                   static_cast<T*>(nullptr), ds_only.data(), static_cast<T*>(nullptr));
        check_close(nm + " dscale alone", ds_only, ds_ref, sums);
      }
  }
  // The reference against the definition on one small case: two samples of one channel, 2 values each.
  const StandardizeLayout s{2, 1, 2};
  const std::vector<double> x{1, 2, 3, 6}, scale{2, -1}, shift{0.5, 0};
  std::vector<double> y(4), mean(1), rstd(1);
  batch_norm_affine_forward(Ref{}, s, 0.0, true, x.data(), scale.data(), shift.data(), y.data(), mean.data(), rstd.data());
  const double r = 1 / std::sqrt(3.5);
  check_close("batch_norm_affine reference mean", mean, std::vector<double>{3}, 1e-15);
  check_close("batch_norm_affine reference rstd", rstd, std::vector<double>{r}, 1e-15);
  check_close("batch_norm_affine reference y", y, std::vector<double>{0, std::max(-2 * r + 0.5, 0.0), 0, 0}, 1e-15);
  std::vector<double> y2(4);
  batch_norm_affine_forward(Ref{}, s, 0.0, false, x.data(), scale.data(), shift.data(), y2.data(), mean.data(), rstd.data());
  check_close("batch_norm_affine reference y without the ReLU", y2, std::vector<double>{-4 * r + 0.5, -2 * r + 0.5, 0, -3 * r},
              1e-15);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(rows_selection_and_cross_entropy, T, Scalars) {
  Rng rng(7);
  for (int trial = 0; trial < 40; ++trial) {
    const index_t rows = random_dim(rng, 9), len = random_dim(rng, 40000 / (rows + 1)), ss = len + random_dim(rng, 3),
                  ds = len + random_dim(rng, 3);
    const auto src = random_values<T>(rng, rows * ss + 1), dst = random_values<T>(rng, rows * ds + 1);
    for (bool acc : {false, true}) {
      auto got = dst, want = dst;
      copy_rows(Cpu{}, rows, len, src.data(), ss, got.data(), ds, acc);
      copy_rows(Ref{}, rows, len, src.data(), ss, want.data(), ds, acc);
      check_close(std::string("copy_rows") + (acc ? " accumulate" : ""), got, want, tolerance<T>());
    }
    // Gather and scatter with an offset: indices outside [offset, offset + table) give zero rows
    // (gather) and are skipped (scatter); repeats add up.
    const index_t width = 1 + random_dim(rng, 9), table = 1 + random_dim(rng, 12), picks = random_dim(rng, 20);
    const index_t offset = random_dim(rng, 4);
    std::vector<index_t> index(static_cast<std::size_t>(picks));
    for (auto& i : index) i = static_cast<index_t>(rng.below(static_cast<std::uint64_t>(table + 6))) + offset - 3;
    const auto tab = random_values<T>(rng, table * width), g = random_values<T>(rng, picks * width);
    std::vector<T> out(static_cast<std::size_t>(picks * width), T(7)), out_ref(out.size(), T(-7));
    gather_rows(Cpu{}, tab.data(), table, width, index.data(), picks, offset, out.data());
    gather_rows(Ref{}, tab.data(), table, width, index.data(), picks, offset, out_ref.data());
    check_close("gather_rows", out, out_ref, 0);
    for (index_t i = 0; i < picks; ++i) {  // and what it should be, stated once more
      const index_t r = index[static_cast<std::size_t>(i)] - offset;
      for (index_t j = 0; j < width; ++j)
        BOOST_TEST(out[static_cast<std::size_t>(i * width + j)] == (r >= 0 && r < table ? tab[static_cast<std::size_t>(r * width + j)] : T(0)));
    }
    auto sc = tab, sc_ref = tab;
    scatter_add_rows(Cpu{}, g.data(), width, index.data(), picks, offset, sc.data(), table);
    scatter_add_rows(Ref{}, g.data(), width, index.data(), picks, offset, sc_ref.data(), table);
    check_close("scatter_add_rows", sc, sc_ref, tolerance<T>());
    const index_t cols = 1 + random_dim(rng, 60), k = random_dim(rng, cols);
    for (bool tied : {false, true}) {
      const auto x = tied ? tied_values<T>(rng, rows * cols) : random_values<T>(rng, rows * cols);
      std::vector<index_t> top(static_cast<std::size_t>(rows * k), -1), top_ref(top.size(), -2), top_only(top.size(), -3);
      std::vector<T> val(top.size()), val_ref(top.size());
      topk_rows(Cpu{}, x.data(), rows, cols, k, val.data(), top.data());
      topk_rows(Ref{}, x.data(), rows, cols, k, val_ref.data(), top_ref.data());
      topk_rows(Cpu{}, x.data(), rows, cols, k, static_cast<T*>(nullptr), top_only.data());
      BOOST_TEST(top == top_ref, "topk_rows " << rows << "×" << cols << " k=" << k << (tied ? " (ties)" : ""));
      BOOST_TEST(top_only == top_ref, "topk_rows without values " << rows << "×" << cols << " k=" << k);
      check_close("topk_rows values", val, val_ref, 0);
    }
    const index_t classes = 1 + random_dim(rng, 12), n = random_dim(rng, 16) + 1;
    const auto logits = random_values<T>(rng, n * classes, 4.0);
    std::vector<int> labels(static_cast<std::size_t>(n));
    for (auto& y : labels) y = static_cast<int>(rng.below(static_cast<std::uint64_t>(classes)));
    std::vector<T> grad(logits.size()), grad_ref(logits.size()), loss(1), loss_ref(1), loss_only(1);
    softmax_cross_entropy(Cpu{}, logits.data(), n, classes, labels, loss.data(), grad.data());
    softmax_cross_entropy(Ref{}, logits.data(), n, classes, labels, loss_ref.data(), grad_ref.data());
    check_close("softmax_cross_entropy loss", loss, loss_ref, tolerance<T>());
    check_close("softmax_cross_entropy grad", grad, grad_ref, tolerance<T>());
    softmax_cross_entropy(Cpu{}, logits.data(), n, classes, labels, loss_only.data(), static_cast<T*>(nullptr));
    check_close("softmax_cross_entropy loss without grad", loss_only, loss, 0);
  }
  // A label outside [0, k) is an error on both; no rows: the loss is 0.
  const std::vector<T> z(6, T(0));
  std::vector<T> loss(1, T(7)), loss_ref(1, T(7));
  BOOST_CHECK_THROW(softmax_cross_entropy(Cpu{}, z.data(), 2, 3, std::vector<int>{0, 3}, loss.data(), static_cast<T*>(nullptr)), Error);
  BOOST_CHECK_THROW(softmax_cross_entropy(Ref{}, z.data(), 2, 3, std::vector<int>{-1, 0}, loss.data(), static_cast<T*>(nullptr)), Error);
  softmax_cross_entropy(Cpu{}, z.data(), 0, 3, std::vector<int>{}, loss.data(), static_cast<T*>(nullptr));
  softmax_cross_entropy(Ref{}, z.data(), 0, 3, std::vector<int>{}, loss_ref.data(), static_cast<T*>(nullptr));
  check_close("softmax_cross_entropy of no rows", loss, std::vector<T>{0}, 0);
  check_close("softmax_cross_entropy of no rows (ref)", loss_ref, std::vector<T>{0}, 0);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(row_softmax_and_argmax_accuracy, T, Scalars) {
  Rng rng(11);
  // Empty, tiny, odd and long rows (the CPU splits rows over threads); logits up to ±80 (exp
  // overflows float at 88 without the max shift) and tied values.
  const std::vector<std::pair<index_t, index_t>> shapes = {{0, 0}, {0, 5}, {3, 0}, {1, 1}, {1, 2}, {7, 13}, {64, 1}, {5, 1000},
                                                           {300, 37}, {2, 4097}};
  for (const auto& [rows, cols] : shapes)
    for (int values = 0; values < 3; ++values) {
      const std::string nm = std::to_string(rows) + "×" + std::to_string(cols) + (values == 1 ? " large" : values == 2 ? " tied" : "");
      const auto x = values == 2 ? tied_values<T>(rng, rows * cols) : random_values<T>(rng, rows * cols, values == 1 ? 40.0 : 1.0);
      for (bool log : {false, true}) {
        std::vector<T> y(x.size(), T(-7)), y_ref(x.size(), T(-7));
        softmax_rows(Cpu{}, rows, cols, log, x.data(), y.data());
        softmax_rows(Ref{}, rows, cols, log, x.data(), y_ref.data());
        check_close(std::string(log ? "log_softmax " : "softmax ") + nm, y, y_ref, tolerance<T>() * (log ? 10 : 1));
        for (T v : y) BOOST_TEST(std::isfinite(double(v)), (log ? "log_softmax " : "softmax ") << nm << ": " << v);
      }
      // Each softmax row sums to 1 (the reference against the definition).
      std::vector<T> p(x.size());
      softmax_rows(Ref{}, rows, cols, false, x.data(), p.data());
      for (index_t r = 0; r < rows && cols > 0; ++r) {
        double s = 0;
        for (index_t j = 0; j < cols; ++j) s += double(p[static_cast<std::size_t>(r * cols + j)]);
        BOOST_TEST(std::abs(s - 1) < 10 * tolerance<T>(), "softmax " << nm << " row " << r << " sums to " << s);
      }
      if (cols == 0) continue;
      // Labels: the first maximal column for about half of the rows, so the accuracy is not 0 or 1.
      std::vector<int> labels(static_cast<std::size_t>(rows));
      index_t want_hits = 0;
      for (index_t r = 0; r < rows; ++r) {
        const T* z = x.data() + r * cols;
        const int first_max = static_cast<int>(std::max_element(z, z + cols) - z);
        int& y = labels[static_cast<std::size_t>(r)];
        y = rng.below(2) ? first_max : static_cast<int>(rng.below(static_cast<std::uint64_t>(cols)));
        want_hits += y == first_max;
      }
      std::vector<T> acc(1, T(-1)), acc_ref(1, T(-1));
      argmax_accuracy(Cpu{}, x.data(), rows, cols, labels, acc.data());
      argmax_accuracy(Ref{}, x.data(), rows, cols, labels, acc_ref.data());
      const T want = rows > 0 ? T(double(want_hits) / double(rows)) : T(0);
      check_close("argmax_accuracy " + nm, acc, std::vector<T>{want}, tolerance<T>());
      check_close("argmax_accuracy (ref) " + nm, acc_ref, std::vector<T>{want}, tolerance<T>());
    }
  // Ties go to the first maximal column; a label outside [0, k) is an error.
  const std::vector<T> z = {1, 3, 3, 0, 2, 2};
  std::vector<T> acc(1);
  argmax_accuracy(Cpu{}, z.data(), 2, 3, std::vector<int>{1, 1}, acc.data());
  BOOST_TEST(acc[0] == T(1));
  argmax_accuracy(Ref{}, z.data(), 2, 3, std::vector<int>{2, 2}, acc.data());
  BOOST_TEST(acc[0] == T(0));
  BOOST_CHECK_THROW(argmax_accuracy(Cpu{}, z.data(), 2, 3, std::vector<int>{1, 3}, acc.data()), Error);
  BOOST_CHECK_THROW(argmax_accuracy(Ref{}, z.data(), 2, 3, std::vector<int>{1}, acc.data()), Error);
}

namespace {
/// A random symmetric positive definite p×p matrix, row-major: B·Bᵀ/p + c·I with B p×(p + 1)
/// (c = 0.05 makes it moderately ill-conditioned, c = 1 well-conditioned).
template <class T>
std::vector<T> random_spd(Rng& rng, index_t p, double c) {
  const auto b = random_values<double>(rng, p * (p + 1));
  std::vector<T> a(static_cast<std::size_t>(p * p));
  for (index_t i = 0; i < p; ++i)
    for (index_t j = 0; j <= i; ++j) {
      double s = i == j ? c : 0.0;
      for (index_t k = 0; k <= p; ++k) s += b[std::size_t(i * (p + 1) + k)] * b[std::size_t(j * (p + 1) + k)] / double(p);
      a[std::size_t(i * p + j)] = a[std::size_t(j * p + i)] = static_cast<T>(s);
    }
  return a;
}
}  // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(cholesky_logdet_and_inverse, T, Scalars) {
  Rng rng(12);
  for (index_t p : {index_t(0), index_t(1), index_t(2), index_t(5), index_t(17), index_t(64)})
    for (double c : {1.0, 0.05}) {
      const std::string where = " p=" + std::to_string(p) + " c=" + std::to_string(c);
      auto a = random_spd<T>(rng, p, c);
      // Only the lower triangle is read: NaN in the strict upper one changes nothing.
      for (index_t i = 0; i < p; ++i)
        for (index_t j = i + 1; j < p; ++j) a[std::size_t(i * p + j)] = std::numeric_limits<T>::quiet_NaN();
      const std::size_t pp = std::size_t(p * p);
      std::vector<T> l(pp), l_ref(pp), info{T(-1)}, info_ref{T(-1)};
      cholesky(Cpu{}, p, a.data(), l.data(), info.data());
      cholesky(Ref{}, p, a.data(), l_ref.data(), info_ref.data());
      BOOST_TEST(info[0] == T(0), "cholesky info" << where);
      BOOST_TEST(info_ref[0] == T(0), "cholesky info (ref)" << where);
      check_close("cholesky" + where, l, l_ref, tolerance<T>());
      // L is lower triangular with a positive diagonal and L·Lᵀ = a (independently of both kernels).
      double worst = 0;
      for (index_t i = 0; i < p; ++i)
        for (index_t j = 0; j < p; ++j) {
          if (j > i) BOOST_TEST(l[std::size_t(i * p + j)] == T(0));
          if (j > i) continue;
          double s = 0;
          for (index_t k = 0; k <= j; ++k) s += double(l[std::size_t(i * p + k)]) * double(l[std::size_t(j * p + k)]);
          worst = std::max(worst, std::abs(s - double(a[std::size_t(i * p + j)])));
        }
      BOOST_TEST(worst <= 10 * tolerance<T>() * (1 + c), "L·Lᵀ − a" << where << ": " << worst);
      // log det and inverse, each backend from the same factor.
      std::vector<T> ld{T(0)}, ld_ref{T(0)};
      cholesky_logdet(Cpu{}, p, l.data(), ld.data());
      cholesky_logdet(Ref{}, p, l.data(), ld_ref.data());
      check_close("cholesky_logdet" + where, ld, ld_ref, tolerance<T>());
      if (p == 0) BOOST_TEST(ld[0] == T(0));
      std::vector<T> inv(pp), inv_ref(pp);
      cholesky_inverse(Cpu{}, p, l.data(), inv.data());
      cholesky_inverse(Ref{}, p, l.data(), inv_ref.data());
      // The inverse's rounding grows with the condition number (c = 0.05: about 10³).
      check_close("cholesky_inverse" + where, inv, inv_ref, (c < 1 ? 2e3 : 20) * tolerance<T>());
      for (index_t i = 0; i < p; ++i)
        for (index_t j = 0; j < i; ++j) {
          BOOST_TEST(inv[std::size_t(i * p + j)] == inv[std::size_t(j * p + i)]);
          BOOST_TEST(inv_ref[std::size_t(i * p + j)] == inv_ref[std::size_t(j * p + i)]);
        }
    }
  // Not positive definite, or a NaN or Inf in the lower triangle: info is nonzero on both.
  for (index_t p : {index_t(1), index_t(3), index_t(9)}) {
    std::vector<std::vector<T>> bad;
    bad.push_back(random_spd<T>(rng, p, 1.0));
    for (index_t i = 0; i < p; ++i) bad.back()[std::size_t(i * p + i)] -= T(5);  // a − 5·I: eigenvalues < 0
    bad.push_back(random_spd<T>(rng, p, 1.0));
    bad.back()[std::size_t(p * p - 1)] = -bad.back()[std::size_t(p * p - 1)] - T(1);  // the last pivot < 0
    bad.push_back(random_spd<T>(rng, p, 1.0));
    bad.back()[std::size_t((p - 1) * p)] = std::numeric_limits<T>::quiet_NaN();  // lower-left corner
    bad.push_back(random_spd<T>(rng, p, 1.0));
    bad.back()[std::size_t((p - 1) * p)] = std::numeric_limits<T>::infinity();
    for (std::size_t k = 0; k < bad.size(); ++k) {
      std::vector<T> l(std::size_t(p * p)), info{T(0)}, info_ref{T(0)};
      cholesky(Cpu{}, p, bad[k].data(), l.data(), info.data());
      cholesky(Ref{}, p, bad[k].data(), l.data(), info_ref.data());
      BOOST_TEST(info[0] != T(0), "cpu: bad matrix " << k << " p=" << p);
      BOOST_TEST(info_ref[0] != T(0), "ref: bad matrix " << k << " p=" << p);
    }
  }
}

/// The CPU kernels in double are those of today's Eigen LLT path bit for bit (ops/linalg.hpp's
/// results did not move when it went through them).
BOOST_AUTO_TEST_CASE(cpu_cholesky_kernels_equal_eigen_llt_bit_for_bit) {
  using M = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Rng rng(13);
  for (index_t p : {index_t(1), index_t(3), index_t(16), index_t(33)}) {
    const auto a = random_spd<double>(rng, p, 0.1);
    const Eigen::LLT<M> llt(Eigen::Map<const M>(a.data(), p, p));
    std::vector<double> l(std::size_t(p * p)), info{1}, ld{0}, inv(std::size_t(p * p));
    cholesky(Cpu{}, p, a.data(), l.data(), info.data());
    cholesky_logdet(Cpu{}, p, l.data(), ld.data());
    cholesky_inverse(Cpu{}, p, l.data(), inv.data());
    BOOST_TEST(info[0] == 0.0);
    BOOST_TEST((Eigen::Map<const M>(l.data(), p, p) == M(llt.matrixL())), "factor p=" << p);
    BOOST_TEST(ld[0] == 2.0 * llt.matrixLLT().diagonal().array().log().sum(), "log det p=" << p);
    M want = llt.solve(M::Identity(p, p));
    want = (0.5 * (want + want.transpose())).eval();
    BOOST_TEST((Eigen::Map<const M>(inv.data(), p, p) == want), "inverse p=" << p);
  }
}

/// Each row's top k of x (rows × cols, Ref: a stable sort), values and indices.
template <class T>
void reference_topk(const std::vector<T>& x, index_t rows, index_t cols, index_t k, std::vector<T>& v, std::vector<index_t>& i) {
  v.assign(static_cast<std::size_t>(rows * k), T(0));
  i.assign(static_cast<std::size_t>(rows * k), 0);
  topk_rows(Ref{}, x.data(), rows, cols, k, v.data(), i.data());
}

// The blocked selection of the kNN search: each block's top-k merged into the running best gives
// what one selection over the whole row gives (ties to the smaller index included), on the CPU
// and on Ref; and the two merges agree on arbitrary sorted lists.
BOOST_AUTO_TEST_CASE_TEMPLATE(topk_merge_of_blocks_equals_one_selection, T, Scalars) {
  Rng rng(8);
  for (int trial = 0; trial < 60; ++trial) {
    const index_t rows = random_dim(rng, 7), cols = 1 + random_dim(rng, 50), k = 1 + random_dim(rng, cols - 1);
    const index_t block = 1 + random_dim(rng, cols);
    for (bool tied : {false, true}) {
      const auto x = tied ? tied_values<T>(rng, rows * cols) : random_values<T>(rng, rows * cols);
      std::vector<T> want_v;
      std::vector<index_t> want_i;
      reference_topk(x, rows, cols, k, want_v, want_i);
      // The blocks: columns [c0, c0 + nb) of every row, copied out, selected and merged.
      std::vector<T> best_v(static_cast<std::size_t>(rows * k)), best_v_ref = best_v;
      std::vector<index_t> best_i(best_v.size()), best_i_ref(best_v.size());
      index_t have = 0;
      for (index_t c0 = 0; c0 < cols; c0 += block) {
        const index_t nb = std::min(block, cols - c0), kb = std::min(k, nb);
        std::vector<T> part(static_cast<std::size_t>(rows * nb));
        for (index_t r = 0; r < rows; ++r)
          for (index_t j = 0; j < nb; ++j) part[static_cast<std::size_t>(r * nb + j)] = x[static_cast<std::size_t>(r * cols + c0 + j)];
        std::vector<T> bv(static_cast<std::size_t>(rows * kb));
        std::vector<index_t> bi(bv.size());
        topk_rows(Cpu{}, part.data(), rows, nb, kb, bv.data(), bi.data());
        topk_merge_rows(Cpu{}, rows, k, have, best_v.data(), best_i.data(), kb, bv.data(), bi.data(), c0);
        topk_merge_rows(Ref{}, rows, k, have, best_v_ref.data(), best_i_ref.data(), kb, bv.data(), bi.data(), c0);
        have = std::min(k, have + kb);
      }
      BOOST_TEST(best_i == want_i, "blocked top-k (cpu) " << rows << "×" << cols << " k=" << k << " block " << block
                                                          << (tied ? " (ties)" : ""));
      BOOST_TEST(best_i_ref == want_i, "blocked top-k (ref) " << rows << "×" << cols << " k=" << k << " block " << block);
      check_close("blocked top-k values", best_v, want_v, 0);
      check_close("blocked top-k values (ref)", best_v_ref, want_v, 0);
    }
    // Two arbitrary sorted lists (na ≤ k, any nb, overlapping index ranges): the CPU's in-place
    // merge against Ref's sort of both.
    const index_t k2 = 1 + random_dim(rng, 6), na = random_dim(rng, k2), nb = random_dim(rng, 6), shift = random_dim(rng, 3);
    const auto xa = tied_values<T>(rng, rows * 8), xb = tied_values<T>(rng, rows * 8);
    std::vector<T> av, bv;
    std::vector<index_t> ai, bi;
    reference_topk(xa, rows, 8, na, av, ai);
    reference_topk(xb, rows, 8, nb, bv, bi);
    std::vector<T> a_v(static_cast<std::size_t>(rows * k2), T(0));
    std::vector<index_t> a_i(a_v.size(), 0);
    for (index_t r = 0; r < rows; ++r)
      for (index_t t = 0; t < na; ++t) {
        a_v[static_cast<std::size_t>(r * k2 + t)] = av[static_cast<std::size_t>(r * na + t)];
        a_i[static_cast<std::size_t>(r * k2 + t)] = ai[static_cast<std::size_t>(r * na + t)];
      }
    auto a_v_ref = a_v;
    auto a_i_ref = a_i;
    topk_merge_rows(Cpu{}, rows, k2, na, a_v.data(), a_i.data(), nb, bv.data(), bi.data(), shift);
    topk_merge_rows(Ref{}, rows, k2, na, a_v_ref.data(), a_i_ref.data(), nb, bv.data(), bi.data(), shift);
    BOOST_TEST(a_i == a_i_ref, "merge " << rows << " rows, k " << k2 << ", " << na << " + " << nb << " entries, shift " << shift);
    check_close("merge values", a_v, a_v_ref, 0);
  }
  // Empty: no rows, or nothing to merge, leaves everything as it was.
  std::vector<T> v{T(3)};
  std::vector<index_t> i{4};
  topk_merge_rows(Cpu{}, 0, 1, 0, v.data(), i.data(), 1, v.data(), i.data(), 0);
  topk_merge_rows(Cpu{}, 1, 1, 1, v.data(), i.data(), 0, v.data(), i.data(), 9);
  BOOST_TEST(v[0] == T(3));
  BOOST_TEST(i[0] == 4);
  BOOST_CHECK_THROW(topk_merge_rows(Cpu{}, 1, 1, 2, v.data(), i.data(), 0, v.data(), i.data(), 0), Error);
  BOOST_CHECK_THROW(topk_rows(Ref{}, v.data(), 1, 1, 2, v.data(), i.data()), Error);
}

// Index buffers on the reference device: fresh ones hold no valid row, and reading them back is a
// counted transfer (DeviceIndices, backend/device_indices.hpp).
BOOST_AUTO_TEST_CASE(reference_index_memory_is_poisoned_and_counted) {
  auto& counters = backend::counters(Ref{});
  counters.reset();
  DeviceIndices<Ref> fresh(2, 3);
  BOOST_TEST(counters.allocations == 1u);
  BOOST_TEST(counters.allocated_bytes == 6 * sizeof(index_t));
  for (index_t j : to_host(fresh)) BOOST_TEST(j < 0);
  BOOST_TEST(counters.to_host == 1u);
  BOOST_TEST(counters.to_host_bytes == 6 * sizeof(index_t));
  const auto up = DeviceIndices<Ref>::from_host(1, 3, {5, 0, 2});
  BOOST_TEST(counters.from_host == 1u);
  DeviceIndices<Ref> copied(1, 3);
  copy_rows(Ref{}, 1, 3, up.data(), 3, copied.data(), 3, false);
  BOOST_TEST(to_host(copied) == (std::vector<index_t>{5, 0, 2}));
  BOOST_TEST(counters.to_host == 2u);
  BOOST_CHECK_THROW(DeviceIndices<Ref>::from_host(2, 2, {1, 2, 3}), Error);
  // The CPU's index memory is the host's: no counters, same values.
  const auto cpu = DeviceIndices<Cpu>::from_host(3, 1, {7, 8, 9});
  BOOST_TEST(to_host(cpu) == (std::vector<index_t>{7, 8, 9}));
}

namespace {
/// Σ_t Σ_i x_t[i]² in long double: the reference the multi-tensor kernel is held to.
template <class T>
long double long_double_square_sum(const std::vector<std::vector<T>>& tensors) {
  long double s = 0;
  for (const auto& t : tensors)
    for (T v : t) s += static_cast<long double>(v) * static_cast<long double>(v);
  return s;
}

/// sum_of_squares of `tensors` on device D (host memory on both the CPU and Ref); empty
/// tensors are passed as null pointers, as an undefined gradient would be.
template <class D, class T>
T square_sum_on(const std::vector<std::vector<T>>& tensors) {
  std::vector<const T*> x;
  std::vector<index_t> sizes;
  for (const auto& t : tensors) {
    x.push_back(t.empty() ? nullptr : t.data());
    sizes.push_back(static_cast<index_t>(t.size()));
  }
  T y = std::numeric_limits<T>::quiet_NaN();
  sum_of_squares(D{}, static_cast<index_t>(tensors.size()), x.data(), sizes.data(), &y);
  return y;
}

/// Rounding: for float, the double sum written as float (half an ulp); for double, the double
/// accumulation of up to 2^13 values per accumulator, whose errors grow like √n·ε ≈ 1e-14.
template <class T>
constexpr double square_sum_tolerance() { return std::is_same_v<T, float> ? std::numeric_limits<float>::epsilon() : 1e-13; }
}  // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(multi_tensor_sum_of_squares, T, Scalars) {
  Rng rng(9);
  // No tensors, only empty ones, tiny and odd ones, and several chunks (2^15 values each on the
  // CPU) within one tensor and across tensors, with scales over six orders of magnitude.
  std::vector<std::vector<std::vector<T>>> cases{{}, {{}, {}}, {{T(3)}}, {{T(1), T(-2)}, {}, {T(0.5)}}};
  for (index_t count : {index_t(1), index_t(5), index_t(17), index_t(60)}) {
    std::vector<std::vector<T>> tensors;
    for (index_t t = 0; t < count; ++t) {
      const index_t n = rng.below(4) == 0 ? random_dim(rng, 9) : random_dim(rng, count > 17 ? 3000 : 70001);
      tensors.push_back(random_values<T>(rng, n, std::pow(10.0, static_cast<double>(rng.below(7)) - 3)));
    }
    cases.push_back(tensors);
  }
  cases.push_back({random_values<T>(rng, 32768), random_values<T>(rng, 32769), random_values<T>(rng, 200001, 1e-2)});
  for (const auto& tensors : cases) {
    index_t values = 0;
    for (const auto& t : tensors) values += static_cast<index_t>(t.size());
    const std::string what = "sum_of_squares of " + std::to_string(tensors.size()) + " tensors, " + std::to_string(values) + " values";
    const long double want = long_double_square_sum(tensors);
    const T cpu = square_sum_on<Cpu>(tensors), ref = square_sum_on<Ref>(tensors);
    const double tol = square_sum_tolerance<T>() * static_cast<double>(want);
    BOOST_TEST(std::abs(static_cast<double>(cpu - want)) <= tol, what << ": cpu " << cpu << " long double " << static_cast<double>(want));
    BOOST_TEST(std::abs(static_cast<double>(ref - want)) <= tol, what << ": ref " << ref << " long double " << static_cast<double>(want));
    if (values == 0) BOOST_TEST((cpu == T(0) && ref == T(0)), what << ": not 0");
  }
  // A NaN or an infinity anywhere reaches the sum (the trainer's finite check of ‖∇‖ relies on it).
  auto poisoned = cases.back();
  poisoned[1][5] = std::numeric_limits<T>::quiet_NaN();
  BOOST_TEST(std::isnan(square_sum_on<Cpu>(poisoned)));
  BOOST_TEST(std::isnan(square_sum_on<Ref>(poisoned)));
  poisoned[1][5] = std::numeric_limits<T>::infinity();
  BOOST_TEST(std::isinf(square_sum_on<Cpu>(poisoned)));
  BOOST_TEST(std::isinf(square_sum_on<Ref>(poisoned)));
  // A negative size is an error on both.
  const index_t bad = -1;
  const T* none = nullptr;
  T y = 0;
  BOOST_CHECK_THROW(sum_of_squares(Cpu{}, 1, &none, &bad, &y), Error);
  BOOST_CHECK_THROW(sum_of_squares(Ref{}, 1, &none, &bad, &y), Error);
}

boost::test_tools::assertion_result has_openmp(boost::unit_test::test_unit_id) {
#ifdef _OPENMP
  return true;
#else
  boost::test_tools::assertion_result r(false);
  r.message() << "needs OpenMP (1, 2 and 3 threads are compared)";
  return r;
#endif
}

#ifdef _OPENMP
namespace {
/// sum_of_squares on 1, 2 and 3 threads against the chunk-order sum of its chunks' partial sums.
template <class T>
void check_thread_counts_agree() {
  Rng rng(10);
  // 24 tensors of two chunks each (2^15 + 7232 values), scales 10^-3 … 10^3 in random order: the
  // 48 partial sums differ in magnitude, so adding them in another order (e.g. each thread's
  // first, then the threads') rounds differently in double.
  std::vector<std::vector<T>> tensors;
  for (int t = 0; t < 24; ++t) tensors.push_back(random_values<T>(rng, 40000, std::pow(10.0, 6 * rng.uniform() - 3)));
  double chunk_order = 0;
  for (const auto& x : tensors)
    for (std::size_t b = 0; b < x.size(); b += backend::cpu::square_sum_chunk)
      chunk_order += backend::cpu::chunk_square_sum(x.data() + b, std::min<index_t>(backend::cpu::square_sum_chunk, static_cast<index_t>(x.size() - b)));
  const T want = static_cast<T>(chunk_order);
  const int before = omp_get_max_threads();
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    BOOST_TEST_REQUIRE(backend::cpu::num_threads() == threads);
    const T got = square_sum_on<Cpu>(tensors);
    BOOST_TEST(std::memcmp(&got, &want, sizeof(T)) == 0,
               threads << " threads: " << std::setprecision(17) << got << ", chunk order " << want);
  }
  omp_set_num_threads(before);
  const long double exact = long_double_square_sum(tensors);
  BOOST_TEST(std::abs(static_cast<double>(want - exact)) <= square_sum_tolerance<T>() * static_cast<double>(exact));
}
}  // namespace
#endif

// The CPU's partition into chunks, not its threads, fixes the order of the additions: 1, 2 and 3
// threads give the bits of the partial sums added in chunk order. (The test has teeth in double:
// a float result rounds the double sum, which hides almost any difference of order.) A build
// without OpenMP reports this case as skipped.
BOOST_AUTO_TEST_CASE(sum_of_squares_does_not_depend_on_the_thread_count, *boost::unit_test::precondition(has_openmp)) {
#ifdef _OPENMP
  check_thread_counts_agree<float>();
  check_thread_counts_agree<double>();
#endif
}

BOOST_AUTO_TEST_CASE(reference_memory_starts_as_nan_and_is_counted) {
  auto& counters = backend::counters(Ref{});
  counters.reset();
  Tensor<float, Ref> t(Shape{5});
  BOOST_TEST(counters.allocations == 1u);
  BOOST_TEST(counters.allocated_bytes == 5 * sizeof(float));
  const Tensor<float, Cpu> h = to_host(t);
  BOOST_TEST(counters.to_host == 1u);
  BOOST_TEST(counters.to_host_bytes == 5 * sizeof(float));
  for (index_t i = 0; i < 5; ++i) BOOST_TEST(std::isnan(h[i]));
  const Tensor<float, Ref> back = to_device<Ref>(from_vector<float>(Shape{2}, {1.f, 2.f}));
  BOOST_TEST(counters.from_host == 1u);
  BOOST_TEST(to_host(back)[1] == 2.f);
  synchronize(Ref{});
  BOOST_TEST(counters.synchronizations == 1u);
}
