#define BOOST_TEST_MODULE backend_conv_paths
#include <boost/test/unit_test.hpp>
// The CPU convolution's code paths that the benchmarks drive (backend/cpu/conv.hpp): one image
// per thread or several, several im2col chunks per thread, a batch smaller than the thread count
// (Eigen's parallel GEMM), stride 2 and 1×1 kernels, and Winograd's F(4×4, 3×3) and F(2×2, 3×3)
// for 3×3 "same" convolutions (even and odd sizes, cut-off tiles, several chunks, GEMMs split by ξ),
// float and double; forward, dx and the accumulated dw against a direct sum in long double.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

#include "structgan/structgan.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace structgan;

namespace {
struct Ref {
  std::vector<long double> y, dx, dw;
};
template <class T>
Ref reference(const ConvGeometry& g, const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& dy) {
  const index_t ho = g.ho(), wo = g.wo();
  Ref r{std::vector<long double>(static_cast<std::size_t>(g.n * g.o * ho * wo)),
        std::vector<long double>(static_cast<std::size_t>(x.numel())), std::vector<long double>(static_cast<std::size_t>(w.numel()))};
  for (index_t n = 0; n < g.n; ++n)
    for (index_t o = 0; o < g.o; ++o)
      for (index_t oy = 0; oy < ho; ++oy)
        for (index_t ox = 0; ox < wo; ++ox) {
          const index_t yi = ((n * g.o + o) * ho + oy) * wo + ox;
          long double acc = 0;
          for (index_t c = 0; c < g.c; ++c)
            for (index_t i = 0; i < g.kh; ++i)
              for (index_t j = 0; j < g.kw; ++j) {
                const index_t iy = oy * g.stride - g.pad_h + i, ix = ox * g.stride - g.pad_w + j;
                if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                const index_t xi = ((n * g.c + c) * g.h + iy) * g.w + ix, wi = ((o * g.c + c) * g.kh + i) * g.kw + j;
                acc += static_cast<long double>(x[xi]) * w[wi];
                r.dx[static_cast<std::size_t>(xi)] += static_cast<long double>(dy[yi]) * w[wi];
                r.dw[static_cast<std::size_t>(wi)] += static_cast<long double>(dy[yi]) * x[xi];
              }
          r.y[static_cast<std::size_t>(yi)] = acc;
        }
  return r;
}
template <class T>
double max_rel_error(const Tensor<T>& got, const std::vector<long double>& want) {
  long double scale = 0, err = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    scale = std::max(scale, std::abs(want[i]));
    err = std::max(err, std::abs(static_cast<long double>(got[static_cast<index_t>(i)]) - want[i]));
  }
  return static_cast<double>(err / std::max<long double>(scale, 1e-30L));
}
template <class T>
void check(const ConvGeometry& g, double tol) {
  Rng rng(7);
  const Tensor<T> x = randn<T>(Shape{g.n, g.c, g.h, g.w}, rng);
  const Tensor<T> w = randn<T>(Shape{g.o, g.c, g.kh, g.kw}, rng);
  const Tensor<T> dy = randn<T>(Shape{g.n, g.o, g.ho(), g.wo()}, rng);
  const Ref r = reference(g, x, w, dy);
  Tensor<T> y(dy.shape()), dx(x.shape());
  Tensor<T> dw = filled<T, Cpu>(w.shape(), T(0.5));  // dw accumulates: start from 0.5
  conv2d_forward(Cpu{}, g, x.data(), w.data(), y.data());
  conv2d_backward(Cpu{}, g, x.data(), w.data(), dy.data(), dx.data(), dw.data());
  std::vector<long double> dw_want = r.dw;
  for (auto& v : dw_want) v += 0.5L;
  BOOST_TEST(max_rel_error(y, r.y) < tol);
  BOOST_TEST(max_rel_error(dx, r.dx) < tol);
  BOOST_TEST(max_rel_error(dw, dw_want) < tol);
  // dx alone and dw alone take the same path as both
  Tensor<T> dx2(x.shape());
  conv2d_backward(Cpu{}, g, x.data(), w.data(), dy.data(), dx2.data(), static_cast<T*>(nullptr));
  BOOST_TEST(max_rel_error(dx2, r.dx) < tol);
  Tensor<T> dw2 = filled<T, Cpu>(w.shape(), T(0));
  conv2d_backward(Cpu{}, g, x.data(), w.data(), dy.data(), static_cast<T*>(nullptr), dw2.data());
  BOOST_TEST(max_rel_error(dw2, r.dw) < tol);
}
void for_threads(void (*f)()) {
  for (int t : {1, 2, 3}) {
#ifdef _OPENMP
    omp_set_num_threads(t);
#endif
    BOOST_TEST_CONTEXT("threads " << t) { f(); }
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(geometries_and_thread_splits) {
  for_threads([] {
    // n, c, h, w, o, kh, kw, stride, pad_h, pad_w
    for (const ConvGeometry& g : {ConvGeometry{1, 3, 7, 6, 4, 3, 3, 1, 1, 1},     // fewer images than threads
                                 ConvGeometry{5, 4, 9, 9, 6, 3, 3, 1, 1, 1},     // uneven split
                                 ConvGeometry{4, 5, 8, 8, 3, 3, 3, 2, 1, 1},     // stride 2
                                 ConvGeometry{6, 8, 5, 5, 7, 1, 1, 1, 0, 0},     // 1×1 on a small map: im2col chunks
                                 ConvGeometry{5, 8, 8, 8, 7, 1, 1, 1, 0, 0},     // 1×1 on 8×8: a GEMM per image, in place, uneven split
                                 ConvGeometry{1, 6, 9, 10, 5, 1, 1, 1, 0, 0},    // 1×1 in place, fewer images than threads
                                 ConvGeometry{3, 72, 9, 9, 67, 1, 1, 1, 0, 0},   // 1×1 in panel_gemm: 81 pixels and 72 channels end in partial panels, 67 rows in blocks of 12, 8 and 1
                                 ConvGeometry{3, 30, 9, 8, 3, 3, 3, 1, 1, 1},    // few outputs: stacked kernels, shifted sums
                                 ConvGeometry{2, 20, 10, 10, 2, 3, 3, 1, 0, 0},  // stacked kernels, no padding (8×8 out)
                                 ConvGeometry{1, 40, 8, 9, 4, 3, 1, 1, 1, 0},    // stacked 3×1, one image
                                 ConvGeometry{5, 60, 8, 8, 2, 5, 5, 1, 2, 2},    // stacked 5×5, pad 2, uneven split
                                 ConvGeometry{3, 2, 6, 7, 3, 5, 3, 1, 2, 2},     // non-square kernel, pad 2
                                 ConvGeometry{2, 3, 2, 2, 2, 5, 5, 1, 2, 2},     // kernel wider than the image
                                 ConvGeometry{3, 16, 8, 8, 16, 3, 3, 1, 1, 1},   // F(4×4), 2×2 tiles per image
                                 ConvGeometry{2, 17, 7, 5, 19, 3, 3, 1, 1, 1},   // F(4×4), both sides cut the last tiles
                                 ConvGeometry{2, 16, 10, 9, 16, 3, 3, 1, 1, 1},  // F(4×4), 2 and 1 columns left over
                                 ConvGeometry{1, 16, 2, 3, 24, 3, 3, 1, 1, 1},   // F(2×2), one image, tiny map
                                 ConvGeometry{4, 32, 4, 4, 16, 3, 3, 1, 1, 1},   // F(4×4), one tile per image
                                 ConvGeometry{3, 20, 3, 3, 16, 3, 3, 1, 1, 1},   // F(2×2), odd size
                                 ConvGeometry{2, 75, 6, 7, 70, 3, 3, 1, 1, 1},   // F(4×4), two channel blocks, 75 and 70 not multiples of 8
                                 ConvGeometry{3, 40, 5, 3, 24, 3, 3, 1, 1, 1},     // F(2×2), GEMMs split by ξ, odd sizes
                                 ConvGeometry{3, 40, 6, 5, 24, 3, 3, 1, 1, 1},   // F(4×4), GEMMs split by ξ, odd sizes
                                 ConvGeometry{3, 5, 6, 9, 4, 1, 7, 1, 0, 3},     // 1×7, pad (0, 3)
                                 ConvGeometry{3, 5, 9, 6, 4, 7, 1, 1, 3, 0},     // 7×1, pad (3, 0)
                                 ConvGeometry{3, 16, 6, 6, 16, 3, 3, 1, 1, 0},   // 3×3 not "same": im2col, not Winograd
                                 ConvGeometry{3, 6, 9, 8, 5, 3, 1, 2, 1, 0}}) {  // 3×1, stride 2, pad (1, 0)
      BOOST_TEST_CONTEXT("n" << g.n << " c" << g.c << " " << g.h << "x" << g.w << " o" << g.o << " k" << g.kh << "x" << g.kw
                             << " s" << g.stride << " p" << g.pad_h << "," << g.pad_w) {
        check<double>(g, 1e-12);
        check<float>(g, 2e-5);
      }
    }
  });
}

BOOST_AUTO_TEST_CASE(several_chunks_per_thread) {
  // 24 images of 64×24×24 with a 3×3 kernel: 3 images per 1M-value im2col chunk, so each thread
  // loops; with 16 output channels the same on the Winograd path (3 images per chunk).
  const ConvGeometry g{24, 64, 24, 24, 8, 3, 3, 1, 1, 1};
  BOOST_TEST_REQUIRE(!backend::cpu::winograd::applies(g));
  BOOST_TEST_REQUIRE(backend::cpu::conv_chunk(g) < g.n / 3);
  for_threads([] { check<float>(ConvGeometry{24, 64, 24, 24, 8, 3, 3, 1, 1, 1}, 2e-5); });
  const ConvGeometry gw{24, 64, 24, 24, 16, 3, 3, 1, 1, 1};
  BOOST_TEST_REQUIRE(backend::cpu::winograd::applies(gw));
  BOOST_TEST_REQUIRE(backend::cpu::winograd::chunk(gw) < gw.n / 3);
  for_threads([] { check<float>(ConvGeometry{24, 64, 24, 24, 16, 3, 3, 1, 1, 1}, 2e-5); });
}

BOOST_AUTO_TEST_CASE(large_kernel_transforms_are_streamed) {
  // 352 → 352 channels: float's 36 planes of transformed kernels exceed kStreamedKernelBytes, so
  // they are written by stream_copy (the double case of the split by ξ below streams too).
  using namespace backend::cpu;
  BOOST_TEST_REQUIRE(std::size_t(36 * packed_kernels<float>(352, 352)) * sizeof(float) > winograd::kStreamedKernelBytes);
  for_threads([] { check<float>(ConvGeometry{2, 352, 4, 4, 352, 3, 3, 1, 1, 1}, 2e-5); });
}

BOOST_AUTO_TEST_CASE(stream_copy_copies_every_value) {
  auto run = [](auto zero) {
    using T = decltype(zero);
    std::vector<T> src(80), dst(90);
    for (std::size_t i = 0; i < src.size(); ++i) src[i] = T(i) + T(0.25);
    for (index_t offset = 0; offset < 4; ++offset)  // 16-byte aligned or not
      for (index_t n = 0; n <= 67; ++n) {
        std::fill(dst.begin(), dst.end(), T(-1));
        backend::cpu::stream_copy(src.data(), n, dst.data() + offset);
        backend::cpu::stream_fence();
        for (index_t i = 0; i < index_t(dst.size()); ++i) {
          const T want = i >= offset && i < offset + n ? src[std::size_t(i - offset)] : T(-1);
          BOOST_TEST_REQUIRE(dst[std::size_t(i)] == want, "offset " << offset << ", n " << n << ", value " << i);
        }
      }
  };
  run(0.0f);
  run(0.0);
}

// The split by ξ happens only with two threads or more: a build without OpenMP reports this case
// as skipped rather than passing it unchecked.
boost::test_tools::assertion_result has_openmp(boost::unit_test::test_unit_id) {
#ifdef _OPENMP
  return true;
#else
  boost::test_tools::assertion_result r(false);
  r.message() << "needs OpenMP (two threads split the GEMMs by xi)";
  return r;
#endif
}

BOOST_AUTO_TEST_CASE(gemms_split_by_xi_over_several_chunks, *boost::unit_test::precondition(has_openmp)) {
  // 300 images of 256×4×4: F(4×4), one tile per image, GEMMs split by ξ in two chunks whose dw
  // accumulate; too big for the long double sum, so against im2col (checked above), in double.
#ifdef _OPENMP
  omp_set_num_threads(2);
#endif
  const ConvGeometry g{300, 256, 4, 4, 256, 3, 3, 1, 1, 1};
  BOOST_TEST_REQUIRE(backend::cpu::num_threads() == 2);
  BOOST_TEST_REQUIRE(backend::cpu::winograd::split_by_xi(g));
  BOOST_TEST_REQUIRE(backend::cpu::winograd::split_chunk(g) == 150);
  Rng rng(11);
  const Tensor<double> x = randn<double>(Shape{g.n, g.c, g.h, g.w}, rng), w = randn<double>(Shape{g.o, g.c, 3, 3}, rng);
  const Tensor<double> dy = randn<double>(Shape{g.n, g.o, g.h, g.w}, rng);
  Tensor<double> y(dy.shape()), dx(x.shape()), dw = filled<double, Cpu>(w.shape(), 0.5);
  Tensor<double> y_ref(dy.shape()), dx_ref(x.shape()), dw_ref = filled<double, Cpu>(w.shape(), 0.5);
  backend::cpu::winograd::conv2d_forward(g, x.data(), w.data(), y.data());
  backend::cpu::winograd::conv2d_backward(g, x.data(), w.data(), dy.data(), dx.data(), dw.data());
  backend::cpu::im2col_conv2d_forward(g, x.data(), w.data(), y_ref.data());
  backend::cpu::im2col_conv2d_backward(g, x.data(), w.data(), dy.data(), dx_ref.data(), dw_ref.data());
  auto rel = [](const Tensor<double>& a, const Tensor<double>& b) {
    double err = 0, scale = 0;
    for (index_t i = 0; i < a.numel(); ++i) {
      err = std::max(err, std::abs(a[i] - b[i]));
      scale = std::max(scale, std::abs(b[i]));
    }
    return err / scale;
  };
  BOOST_TEST(rel(y, y_ref) < 1e-12);
  BOOST_TEST(rel(dx, dx_ref) < 1e-12);
  BOOST_TEST(rel(dw, dw_ref) < 1e-12);
}

BOOST_AUTO_TEST_CASE(kernel_gradient_by_blocks_has_the_bits_of_whole_planes, *boost::unit_test::precondition(has_openmp)) {
  // dw of weight-heavy layers with few tiles goes by blocks of kernels (kernel_gradient_by_blocks):
  // the same sums in the same order as through dU whole, so the same bits, here with partial blocks
  // of outputs and inputs, columns past the last panel (Eigen's GEMM), F(2×2), and (60 images of
  // 1000 channels) two chunks of split_chunk whose products add up in order.
  using namespace backend::cpu::winograd;
#ifdef _OPENMP
  omp_set_num_threads(2);
#endif
  BOOST_TEST_REQUIRE(backend::cpu::num_threads() == 2);
  // n, c, h, w, o, kh, kw, stride, pad_h, pad_w
  BOOST_TEST(gradient_by_blocks<float>(ConvGeometry{32, 512, 4, 4, 512, 3, 3, 1, 1, 1}));   // layer 4, batch 32: 32 tiles, dU 38 MB
  BOOST_TEST(gradient_by_blocks<float>(ConvGeometry{64, 256, 4, 4, 512, 3, 3, 1, 1, 1}));   // 64 tiles
  BOOST_TEST(gradient_by_blocks<float>(ConvGeometry{16, 256, 8, 8, 256, 3, 3, 1, 1, 1}));   // 64 tiles, dU 9.4 MB
  BOOST_TEST(!gradient_by_blocks<float>(ConvGeometry{128, 512, 4, 4, 512, 3, 3, 1, 1, 1}));  // 128 tiles
  BOOST_TEST(!gradient_by_blocks<float>(ConvGeometry{32, 256, 8, 8, 256, 3, 3, 1, 1, 1}));   // 128 tiles
  BOOST_TEST(!gradient_by_blocks<float>(ConvGeometry{64, 128, 4, 4, 128, 3, 3, 1, 1, 1}));   // dU 2.4 MB (the CPU preset's)
  BOOST_TEST(gradient_by_blocks<double>(ConvGeometry{32, 128, 4, 4, 400, 3, 3, 1, 1, 1}) !=
             gradient_by_blocks<float>(ConvGeometry{32, 128, 4, 4, 400, 3, 3, 1, 1, 1}));  // dU 7.4 MB in float, 14.7 in double
  BOOST_TEST(!gradient_by_blocks<float>(ConvGeometry{4, 64, 32, 32, 64, 3, 3, 1, 1, 1}));    // GEMMs not split by ξ
  auto run = [](const ConvGeometry& g, auto zero) {
    using T = decltype(zero);
    BOOST_TEST_CONTEXT("n" << g.n << " c" << g.c << " " << g.h << "x" << g.w << " o" << g.o << " " << sizeof(T) << "-byte") {
      BOOST_TEST_REQUIRE(split_by_xi(g));
      Rng rng(5);
      const Tensor<T> x = randn<T>(Shape{g.n, g.c, g.h, g.w}, rng), w = randn<T>(Shape{g.o, g.c, 3, 3}, rng);
      const Tensor<T> dy = randn<T>(Shape{g.n, g.o, g.h, g.w}, rng);
      Tensor<T> by_blocks = filled<T, Cpu>(w.shape(), T(0.5)), whole = filled<T, Cpu>(w.shape(), T(0.5));
      auto backward = [&](Tensor<T>& dw, bool blocks) {
        if (tile_size(g) == 4) conv2d_backward_tiled<4>(g, x.data(), w.data(), dy.data(), static_cast<T*>(nullptr), dw.data(), blocks);
        else conv2d_backward_tiled<2>(g, x.data(), w.data(), dy.data(), static_cast<T*>(nullptr), dw.data(), blocks);
      };
      backward(by_blocks, true);
      backward(whole, false);
      index_t differing = 0;
      for (index_t i = 0; i < whole.numel(); ++i) differing += by_blocks[i] != whole[i];
      BOOST_TEST(differing == 0);
      if (g.n * g.c * g.o > 100000) return;  // the long double sum of the two-chunk case would take minutes
      std::vector<long double> want = reference(g, x, w, dy).dw;
      for (auto& v : want) v += 0.5L;
      BOOST_TEST(max_rel_error(by_blocks, want) < (sizeof(T) == 4 ? 2e-5 : 1e-12));
    }
  };
  for (const ConvGeometry& g : {ConvGeometry{5, 100, 4, 4, 70, 3, 3, 1, 1, 1}, ConvGeometry{3, 80, 6, 5, 50, 3, 3, 1, 1, 1},
                                ConvGeometry{4, 96, 3, 3, 40, 3, 3, 1, 1, 1}, ConvGeometry{60, 1000, 4, 4, 40, 3, 3, 1, 1, 1}}) {
    run(g, 0.0f);
    run(g, 0.0);
  }
  BOOST_TEST_REQUIRE(split_chunk(ConvGeometry{60, 1000, 4, 4, 40, 3, 3, 1, 1, 1}) == 30);
}

BOOST_AUTO_TEST_CASE(pointwise_convolutions_on_large_maps_run_in_place) {
  using backend::cpu::pointwise_in_place;
  // n, c, h, w, o, kh, kw, stride, pad_h, pad_w: G's 1×1 convolutions from 8×8 up, D's shortcuts
  BOOST_TEST(pointwise_in_place(ConvGeometry{64, 512, 8, 8, 128, 1, 1, 1, 0, 0}));
  BOOST_TEST(pointwise_in_place(ConvGeometry{64, 128, 32, 32, 512, 1, 1, 1, 0, 0}));
  BOOST_TEST(pointwise_in_place(ConvGeometry{32, 64, 16, 16, 128, 1, 1, 1, 0, 0}));
  BOOST_TEST(!pointwise_in_place(ConvGeometry{64, 512, 4, 4, 128, 1, 1, 1, 0, 0}));  // 16 columns: im2col chunks
  using backend::cpu::pointwise::in_panels;  // products in panel_gemm from 64 channels on each side
  BOOST_TEST(in_panels(ConvGeometry{64, 512, 8, 8, 128, 1, 1, 1, 0, 0}));
  BOOST_TEST(in_panels(ConvGeometry{32, 64, 16, 16, 128, 1, 1, 1, 0, 0}));
  BOOST_TEST(!in_panels(ConvGeometry{64, 64, 16, 16, 16, 1, 1, 1, 0, 0}));  // the CPU preset's generator
  BOOST_TEST(!in_panels(ConvGeometry{64, 32, 8, 8, 64, 1, 1, 1, 0, 0}));    // the CPU preset's shortcut
  BOOST_TEST(!pointwise_in_place(ConvGeometry{4, 8, 16, 16, 8, 1, 1, 2, 0, 0}));     // stride 2
  BOOST_TEST(!pointwise_in_place(ConvGeometry{4, 8, 16, 16, 8, 1, 1, 1, 1, 1}));     // padded
  BOOST_TEST(!pointwise_in_place(ConvGeometry{4, 8, 16, 16, 8, 3, 3, 1, 1, 1}));
}

BOOST_AUTO_TEST_CASE(convolutions_with_few_outputs_stack_their_kernels) {
  using backend::cpu::stacked_kernels_in_place;
  // G's last convolution (512 → 3, 3×3 at 32×32; the CPU presets' 64 → 1 or 3)
  BOOST_TEST(stacked_kernels_in_place(ConvGeometry{64, 512, 32, 32, 3, 3, 3, 1, 1, 1}));
  BOOST_TEST(stacked_kernels_in_place(ConvGeometry{64, 64, 16, 16, 1, 3, 3, 1, 1, 1}));
  BOOST_TEST(!stacked_kernels_in_place(ConvGeometry{64, 3, 32, 32, 64, 3, 3, 1, 1, 1}));    // D's stem: im2col's columns are small
  BOOST_TEST(!stacked_kernels_in_place(ConvGeometry{64, 64, 32, 32, 64, 3, 3, 1, 1, 1}));   // Winograd
  BOOST_TEST(!stacked_kernels_in_place(ConvGeometry{64, 512, 32, 32, 3, 3, 3, 2, 1, 1}));   // stride 2
  BOOST_TEST(!stacked_kernels_in_place(ConvGeometry{64, 512, 4, 4, 3, 3, 3, 1, 1, 1}));     // 16 outputs per image
  BOOST_TEST(!stacked_kernels_in_place(ConvGeometry{64, 512, 32, 32, 128, 1, 1, 1, 0, 0}));  // 1×1: pointwise
}

BOOST_AUTO_TEST_CASE(winograd_takes_the_networks_3x3_same_convolutions) {
  using backend::cpu::winograd::applies;
  BOOST_TEST(applies(ConvGeometry{32, 64, 32, 32, 64, 3, 3, 1, 1, 1}));    // ResNet-18 layer 1
  BOOST_TEST(applies(ConvGeometry{32, 512, 4, 4, 512, 3, 3, 1, 1, 1}));    // layer 4
  BOOST_TEST(!applies(ConvGeometry{32, 3, 32, 32, 64, 3, 3, 1, 1, 1}));    // the RGB stem
  BOOST_TEST(!applies(ConvGeometry{32, 64, 32, 32, 128, 3, 3, 2, 1, 1}));  // stride 2
  BOOST_TEST(!applies(ConvGeometry{32, 64, 32, 32, 128, 1, 1, 1, 0, 0}));  // 1×1
  BOOST_TEST(!applies(ConvGeometry{32, 64, 32, 32, 64, 3, 3, 1, 1, 0}));   // padding (1, 0)
  BOOST_TEST(!applies(ConvGeometry{32, 64, 32, 32, 64, 3, 3, 1, 0, 1}));   // padding (0, 1)
  BOOST_TEST(!applies(ConvGeometry{32, 64, 32, 32, 64, 1, 3, 1, 0, 1}));   // 1×3
  // F(4×4) wherever a 4×4 tile fits, F(2×2) below (the 16×16 preset's last stage is 2×2)
  using backend::cpu::winograd::tile_size;
  BOOST_TEST(tile_size(ConvGeometry{32, 512, 4, 4, 512, 3, 3, 1, 1, 1}) == 4);
  BOOST_TEST(tile_size(ConvGeometry{2, 17, 7, 5, 19, 3, 3, 1, 1, 1}) == 4);
  BOOST_TEST(tile_size(ConvGeometry{64, 128, 2, 2, 128, 3, 3, 1, 1, 1}) == 2);
  BOOST_TEST(tile_size(ConvGeometry{3, 40, 5, 3, 24, 3, 3, 1, 1, 1}) == 2);
  // with several threads, weight-heavy layers split the GEMMs, the rest the batch
  using backend::cpu::winograd::split_by_xi;
#ifdef _OPENMP
  omp_set_num_threads(2);
#endif
  if (backend::cpu::num_threads() > 1) {  // a build without OpenMP has one thread
    BOOST_TEST(split_by_xi(ConvGeometry{32, 512, 4, 4, 512, 3, 3, 1, 1, 1}));
    BOOST_TEST(split_by_xi(ConvGeometry{3, 40, 5, 3, 24, 3, 3, 1, 1, 1}));
    BOOST_TEST(split_by_xi(ConvGeometry{3, 40, 6, 5, 24, 3, 3, 1, 1, 1}));
    BOOST_TEST(split_by_xi(ConvGeometry{32, 256, 8, 8, 256, 3, 3, 1, 1, 1}));
    BOOST_TEST(backend::cpu::winograd::split_chunk(ConvGeometry{64, 256, 8, 8, 256, 3, 3, 1, 1, 1}) == 32);
    BOOST_TEST(!split_by_xi(ConvGeometry{32, 128, 16, 16, 128, 3, 3, 1, 1, 1}));
    BOOST_TEST(!split_by_xi(ConvGeometry{32, 64, 32, 32, 64, 3, 3, 1, 1, 1}));
  }
}

// panel_gemm (backend/cpu/panel_gemm.hpp) against a long double sum: packed kernels (the
// forward's products, a partial last panel) and a plain row-major B (dw's, whole panels), row
// counts that leave every register block's tail, overwriting and accumulating.
template <class T>
void check_panel_gemm(index_t rows, index_t cols, index_t depth, bool packed, bool accumulate) {
  using backend::cpu::kernel_panel;
  Rng rng(11);
  const Tensor<T> a = randn<T>(Shape{rows, depth}, rng), u = randn<T>(Shape{cols, depth}, rng);  // B = uᵀ
  Tensor<T> c = randn<T>(Shape{rows, cols}, rng);
  const std::vector<T> c0(c.data(), c.data() + c.numel());
  std::vector<T> b;
  backend::cpu::PanelOperands s{depth, 1, 0, 0};
  if (packed) {  // panel p, depth k, lane l = u[p·NR + l][k], zero past cols
    const index_t nr = kernel_panel<T>();
    b.assign(static_cast<std::size_t>(backend::cpu::packed_kernels<T>(cols, depth)), T(0));
    for (index_t j = 0; j < cols; ++j)
      for (index_t k = 0; k < depth; ++k) b[static_cast<std::size_t>((j / nr * depth + k) * nr + j % nr)] = u.data()[j * depth + k];
    s.b_panel = depth, s.b_depth = nr;
  } else {  // row-major depth × cols
    b.resize(static_cast<std::size_t>(depth * cols));
    for (index_t j = 0; j < cols; ++j)
      for (index_t k = 0; k < depth; ++k) b[static_cast<std::size_t>(k * cols + j)] = u.data()[j * depth + k];
    s.b_panel = 1, s.b_depth = cols;
  }
  backend::cpu::panel_gemm(rows, cols, depth, a.data(), b.data(), s, accumulate, c.data(), cols);
  double worst = 0;
  for (index_t i = 0; i < rows; ++i)
    for (index_t j = 0; j < cols; ++j) {
      long double want = accumulate ? c0[static_cast<std::size_t>(i * cols + j)] : 0.0L;
      for (index_t k = 0; k < depth; ++k) want += (long double)a.data()[i * depth + k] * u.data()[j * depth + k];
      worst = std::max(worst, static_cast<double>(std::fabs(c.data()[i * cols + j] - want) / (1.0L + std::fabs(want))));
    }
  BOOST_TEST(worst < (std::is_same_v<T, float> ? 1e-5 : 1e-13), "rows " << rows << " cols " << cols << " depth " << depth);
}

BOOST_AUTO_TEST_CASE(panel_gemm_matches_a_long_double_sum) {
  const index_t nr = backend::cpu::kernel_panel<float>();
  for (const index_t rows : {1, 3, 4, 5, 8, 12, 17, 20, 29, 64})
    for (const bool accumulate : {false, true}) {
      check_panel_gemm<float>(rows, 2 * nr + 5, 37, true, accumulate);
      check_panel_gemm<float>(rows, 2 * nr, 37, false, accumulate);
      check_panel_gemm<double>(rows, backend::cpu::kernel_panel<double>() + 3, 19, true, accumulate);
      check_panel_gemm<double>(rows, 3 * backend::cpu::kernel_panel<double>(), 19, false, accumulate);
    }
}

// The layout moves around the Winograd transforms (backend/cpu/transpose.hpp): both directions
// for planes under and over the 2 KiB at which channels move in sweeps of N, channel counts that
// leave a remainder, a padded channels-last grid, and maps whose pixel count leaves a partial group.
template <class T>
void check_transposes(index_t channels, index_t h, index_t w, index_t ld) {
  std::vector<T> src(static_cast<std::size_t>(channels * ld));
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<T>(i);
  const index_t row = w + 3, stride = channels + 2;  // a grid wider than the image, rows longer than the channels
  std::vector<T> grid(static_cast<std::size_t>((h + 1) * row * stride), T(-1));
  const backend::cpu::ChannelsLast<T> cl{grid.data() + row * stride, row, stride};
  backend::cpu::to_channels_last(channels, h, w, src.data(), ld, cl);
  bool last_ok = true, first_ok = true;
  for (index_t c = 0; c < channels; ++c)
    for (index_t r = 0; r < h; ++r)
      for (index_t col = 0; col < w; ++col) last_ok &= cl.base[(r * row + col) * stride + c] == src[c * ld + r * w + col];
  std::vector<T> back(src.size(), T(-1));
  backend::cpu::to_channels_first(channels, h, w, backend::cpu::ChannelsLast<const T>{cl.base, row, stride}, back.data(), ld);
  for (index_t c = 0; c < channels; ++c)
    for (index_t p = 0; p < h * w; ++p) first_ok &= back[c * ld + p] == src[c * ld + p];
  BOOST_TEST(last_ok, "to_channels_last, " << channels << " channels, " << h << "×" << w << ", ld " << ld);
  BOOST_TEST(first_ok, "to_channels_first, " << channels << " channels, " << h << "×" << w << ", ld " << ld);
}

BOOST_AUTO_TEST_CASE(channel_moves_round_trip) {
  for (const index_t channels : {3, 8, 21, 64})
    for (const auto& [h, w] : {std::pair<index_t, index_t>{32, 32}, {4, 4}, {5, 7}, {16, 16}, {1, 3}}) {
      check_transposes<float>(channels, h, w, h * w);
      check_transposes<double>(channels, h, w, h * w + 5);
    }
}
