#define BOOST_TEST_MODULE cuda_tf32_gpu
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

// TF32 (backend/cuda/tf32.hpp): which GEMMs round their float operands to TF32, and how accurate
// TF32 and full FP32 GEMMs and convolutions are against double (docs/cuda.md, "TF32").
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "structgan/backend/cuda.hpp"  // first: Eigen stays host code
#include "gpu_test_main.hpp"
#include "structgan/backend/transfer.hpp"
#include "structgan/core/random.hpp"

using namespace structgan;
namespace bc = structgan::backend::cuda;  // (a namespace `cuda` exists at global scope: CUDA C++)
using bc::GemmUse;
using bc::Tf32Options;

namespace {

/// TF32 tensor cores exist from compute capability 8.0 (Ampere); before, cuBLAS computes
/// CUBLAS_COMPUTE_32F_FAST_TF32 in FP32.
bool device_has_tf32() {
  int dev = 0, major = 0;
  STRUCTGAN_CUDA_CHECK(cudaGetDevice(&dev));
  STRUCTGAN_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  return major >= 8;
}

Tensor<float, Cpu> constant(const Shape& s, float v) {
  Tensor<float, Cpu> t(s);
  std::fill(t.data(), t.data() + t.numel(), v);
  return t;
}

/// Row-major C (m×n) = A (m×k) · B (k×n) on the GPU, as a matrix product or a convolution's GEMM.
Tensor<float, Cpu> gpu_gemm(GemmUse use, const Tensor<float, Cpu>& a, const Tensor<float, Cpu>& b) {
  const index_t m = a.dim(0), k = a.dim(1), n = b.dim(1);
  const Tensor<float, Cuda> ag = to_device<Cuda>(a), bg = to_device<Cuda>(b);
  Tensor<float, Cuda> cg(Shape{m, n});
  bc::gemm_for(use, false, false, m, n, k, 1.f, ag.data(), k, bg.data(), n, 0.f, cg.data(), n);
  return to_host(cg);
}

Tensor<float, Cpu> gpu_conv(const ConvGeometry& g, const Tensor<float, Cpu>& x, const Tensor<float, Cpu>& w) {
  const Tensor<float, Cuda> xg = to_device<Cuda>(x), wg = to_device<Cuda>(w);
  Tensor<float, Cuda> yg(Shape{g.n, g.o, g.ho(), g.wo()});
  backend::conv2d_forward(Cuda{}, g, xg.data(), wg.data(), yg.data());
  return to_host(yg);
}

/// The largest |got − exact| / Σ|terms| over the outputs: the error relative to the sum of the
/// products' magnitudes, which rounding bounds whatever the cancellation (`exact` and `scale` in
/// double from the same float inputs).
double worst_error(const Tensor<float, Cpu>& got, const std::vector<double>& exact, const std::vector<double>& scale) {
  double worst = 0;
  for (index_t i = 0; i < got.numel(); ++i)
    worst = std::max(worst, std::abs(double(got[i]) - exact[std::size_t(i)]) / scale[std::size_t(i)]);
  return worst;
}

bool all_equal(const Tensor<float, Cpu>& t, float v) {
  return std::all_of(t.data(), t.data() + t.numel(), [v](float x) { return x == v; });
}

}  // namespace

BOOST_AUTO_TEST_CASE(tf32_rounds_float_operands_only_of_the_gemms_it_is_allowed_for) {
  // Operands 1 + 2⁻¹³ (13 mantissa bits; TF32 keeps 10, so it becomes 1) times ones: FP32 gives
  // k·(1 + 2⁻¹³) exactly (every partial sum is representable), TF32 gives k.
  const bool tf32 = device_has_tf32();
  const index_t m = 128, n = 128, k = 256;
  const float x = 1.f + std::ldexp(1.f, -13);
  const Tensor<float, Cpu> a = constant(Shape{m, k}, x), b = constant(Shape{k, n}, 1.f);
  const float full = float(k) * x, rounded = tf32 ? float(k) : full;
  {
    bc::Tf32Scope scope(Tf32Options{});  // PyTorch's defaults: convolutions TF32, matrix products FP32
    BOOST_TEST(all_equal(gpu_gemm(GemmUse::matmul, a, b), full));
    BOOST_TEST(all_equal(gpu_gemm(GemmUse::conv, a, b), rounded));
  }
  {
    bc::Tf32Scope scope(Tf32Options{false, true});
    BOOST_TEST(all_equal(gpu_gemm(GemmUse::matmul, a, b), rounded));
    BOOST_TEST(all_equal(gpu_gemm(GemmUse::conv, a, b), full));
  }
  {
    bc::Tf32Scope scope(Tf32Options{false, false});
    BOOST_TEST(all_equal(gpu_gemm(GemmUse::matmul, a, b), full));
    BOOST_TEST(all_equal(gpu_gemm(GemmUse::conv, a, b), full));
  }
  // backend::gemm (the ops' matrix products) follows the matmul option.
  {
    bc::Tf32Scope scope(Tf32Options{false, true});
    const Tensor<float, Cuda> ag = to_device<Cuda>(a), bg = to_device<Cuda>(b);
    Tensor<float, Cuda> cg(Shape{m, n});
    gemm(Cuda{}, false, false, m, n, k, 1.f, ag.data(), k, bg.data(), n, 0.f, cg.data(), n);
    BOOST_TEST(all_equal(to_host(cg), rounded));
  }
  // A convolution (no padding: every output sums C·kh·kw = 144 products) follows the conv option.
  const ConvGeometry g{2, 16, 10, 10, 64, 3, 3, 1, 0, 0};
  const Tensor<float, Cpu> xs = constant(Shape{g.n, g.c, g.h, g.w}, x), ws = constant(Shape{g.o, g.c, g.kh, g.kw}, 1.f);
  {
    bc::Tf32Scope scope(Tf32Options{true, false});
    BOOST_TEST(all_equal(gpu_conv(g, xs, ws), tf32 ? 144.f : 144.f * x));
  }
  {
    bc::Tf32Scope scope(Tf32Options{false, true});
    BOOST_TEST(all_equal(gpu_conv(g, xs, ws), 144.f * x));
  }
  // Double is never TF32: 1 + 2⁻³⁰ survives with every option on.
  {
    bc::Tf32Scope scope(Tf32Options{true, true});
    const double xd = 1 + std::ldexp(1.0, -30);
    Tensor<double, Cpu> ad(Shape{4, 8}), bd(Shape{8, 4});
    std::fill(ad.data(), ad.data() + ad.numel(), xd);
    std::fill(bd.data(), bd.data() + bd.numel(), 1.0);
    const Tensor<double, Cuda> ag = to_device<Cuda>(ad), bg = to_device<Cuda>(bd);
    Tensor<double, Cuda> cg(Shape{4, 4});
    bc::gemm_for(GemmUse::conv, false, false, 4, 4, 8, 1.0, ag.data(), 8, bg.data(), 4, 0.0, cg.data(), 4);
    const Tensor<double, Cpu> c = to_host(cg);
    BOOST_TEST(std::all_of(c.data(), c.data() + c.numel(), [&](double v) { return v == 8 * xd; }));
  }
}

BOOST_AUTO_TEST_CASE(tf32_and_fp32_accuracy_against_double) {
  // Random operands with full float mantissas. Bounds per output, relative to Σ|aᵢ·bᵢ|: FP32
  // accumulation at most k·2⁻²⁴; TF32 adds the rounding of both operands to 10 mantissa bits,
  // at most 2·2⁻¹⁰ per product (even if truncated) — documented in docs/cuda.md.
  Rng rng(5);
  const index_t m = 192, n = 160, k = 512;
  const Tensor<float, Cpu> a = rand_uniform<float>(Shape{m, k}, rng, -1, 1), b = rand_uniform<float>(Shape{k, n}, rng, -1, 1);
  std::vector<double> exact(std::size_t(m * n)), scale(std::size_t(m * n));
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < n; ++j) {
      double s = 0, abs_sum = 0;
      for (index_t p = 0; p < k; ++p) {
        const double t = double(a.data()[i * k + p]) * double(b.data()[p * n + j]);
        s += t;
        abs_sum += std::abs(t);
      }
      exact[std::size_t(i * n + j)] = s;
      scale[std::size_t(i * n + j)] = abs_sum;
    }
  const double fp32_bound = double(k) * std::ldexp(1.0, -24), tf32_bound = std::ldexp(1.0, -9) + fp32_bound;
  double fp32_error = 0, tf32_error = 0;
  {
    bc::Tf32Scope scope(Tf32Options{false, false});
    fp32_error = worst_error(gpu_gemm(GemmUse::matmul, a, b), exact, scale);
  }
  {
    bc::Tf32Scope scope(Tf32Options{false, true});
    tf32_error = worst_error(gpu_gemm(GemmUse::matmul, a, b), exact, scale);
  }
  BOOST_TEST_MESSAGE("GEMM " << m << "×" << k << "·" << k << "×" << n << ": worst error / Σ|products|: FP32 "
                             << fp32_error << " (bound " << fp32_bound << "), TF32 " << tf32_error << " (bound "
                             << tf32_bound << ")");
  BOOST_TEST(fp32_error <= fp32_bound);
  BOOST_TEST(tf32_error <= tf32_bound);
  if (device_has_tf32()) BOOST_TEST(tf32_error > 10 * fp32_error, "TF32 was not used: " << tf32_error);

  // A convolution with padding, against double on the host, with and without TF32.
  const ConvGeometry g{3, 24, 12, 12, 64, 3, 3, 1, 1, 1};
  const Tensor<float, Cpu> x = rand_uniform<float>(Shape{g.n, g.c, g.h, g.w}, rng, -1, 1);
  const Tensor<float, Cpu> w = rand_uniform<float>(Shape{g.o, g.c, g.kh, g.kw}, rng, -1, 1);
  const index_t ho = g.ho(), wo = g.wo();
  std::vector<double> cexact(std::size_t(g.n * g.o * ho * wo)), cscale(cexact.size());
  for (index_t i = 0; i < g.n; ++i)
    for (index_t o = 0; o < g.o; ++o)
      for (index_t oy = 0; oy < ho; ++oy)
        for (index_t ox = 0; ox < wo; ++ox) {
          double s = 0, abs_sum = 0;
          for (index_t c = 0; c < g.c; ++c)
            for (index_t ky = 0; ky < g.kh; ++ky)
              for (index_t kx = 0; kx < g.kw; ++kx) {
                const index_t iy = oy * g.stride - g.pad_h + ky, ix = ox * g.stride - g.pad_w + kx;
                if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                const double t = double(x.data()[((i * g.c + c) * g.h + iy) * g.w + ix]) *
                                 double(w.data()[((o * g.c + c) * g.kh + ky) * g.kw + kx]);
                s += t;
                abs_sum += std::abs(t);
              }
          const std::size_t at = std::size_t(((i * g.o + o) * ho + oy) * wo + ox);
          cexact[at] = s;
          cscale[at] = abs_sum;
        }
  const double conv_fp32_bound = double(g.patch()) * std::ldexp(1.0, -24);
  const double conv_tf32_bound = std::ldexp(1.0, -9) + conv_fp32_bound;
  double conv_fp32 = 0, conv_tf32 = 0;
  {
    bc::Tf32Scope scope(Tf32Options{false, false});
    conv_fp32 = worst_error(gpu_conv(g, x, w), cexact, cscale);
  }
  {
    bc::Tf32Scope scope(Tf32Options{true, false});
    conv_tf32 = worst_error(gpu_conv(g, x, w), cexact, cscale);
  }
  BOOST_TEST_MESSAGE("conv 3×3, " << g.c << " → " << g.o << " channels: worst error / Σ|products|: FP32 " << conv_fp32
                                  << " (bound " << conv_fp32_bound << "), TF32 " << conv_tf32 << " (bound "
                                  << conv_tf32_bound << ")");
  BOOST_TEST(conv_fp32 <= conv_fp32_bound);
  BOOST_TEST(conv_tf32 <= conv_tf32_bound);
  if (device_has_tf32()) BOOST_TEST(conv_tf32 > 10 * conv_fp32, "TF32 was not used in the convolution: " << conv_tf32);
}
