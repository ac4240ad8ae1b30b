#define BOOST_TEST_MODULE cuda_dense_gpu
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

// GPU against CPU for GEMM (cuBLAS), convolution, pooling, upsampling, the normalization kernels
// and the multi-tensor sum of squares.
#include <cstdint>
#include <limits>
#include <tuple>
#include <vector>

#include "cuda_test_util.hpp"
#include "gpu_test_main.hpp"

using namespace structgan;
using namespace structgan::testing;
using Scalars = std::tuple<float, double>;

BOOST_AUTO_TEST_CASE_TEMPLATE(gemm_matches_cpu_for_every_transpose, T, Scalars) {
  Rng rng(11);
  const index_t m = 37, n = 23, k = 51;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const Tensor<T, Cpu> a = random<T>(ta ? Shape{k, m} : Shape{m, k}, rng), b = random<T>(tb ? Shape{n, k} : Shape{k, n}, rng);
      const std::string what = std::string("matmul ta=") + (ta ? "1" : "0") + " tb=" + (tb ? "1" : "0");
      check_close(what, matmul(a, b, ta, tb), matmul(gpu(a), gpu(b), ta, tb), tol<T>() * 10);
      // beta ≠ 0 and a leading dimension wider than the block (a sub-matrix of C)
      const Tensor<T, Cpu> c0 = random<T>(Shape{m, n + 5}, rng);
      Tensor<T, Cpu> c = clone(c0);
      Tensor<T, Cuda> cg = gpu(c0);
      gemm(Cpu{}, ta, tb, m, n, k, T(0.5), a.data(), a.dim(1), b.data(), b.dim(1), T(-2), c.data() + 2, n + 5);
      gemm(Cuda{}, ta, tb, m, n, k, T(0.5), gpu(a).data(), a.dim(1), gpu(b).data(), b.dim(1), T(-2), cg.data() + 2, n + 5);
      check_close(what + " alpha, beta, ldc", c, cg, tol<T>() * 10);
    }
  // k = 0: C = beta·C (beta = 0 writes zeros)
  Tensor<T, Cpu> c = random<T>(Shape{3, 4}, rng);
  Tensor<T, Cuda> cg = gpu(c);
  gemm(Cpu{}, false, false, 3, 4, 0, T(1), (const T*)nullptr, 0, (const T*)nullptr, 4, T(0.5), c.data(), 4);
  gemm(Cuda{}, false, false, 3, 4, 0, T(1), (const T*)nullptr, 0, (const T*)nullptr, 4, T(0.5), cg.data(), 4);
  check_close("gemm k = 0", c, cg);
  check_equal("matmul with k = 0", matmul(Tensor<T, Cpu>(Shape{3, 0}), Tensor<T, Cpu>(Shape{0, 2})),
              matmul(Tensor<T, Cuda>(Shape{3, 0}), Tensor<T, Cuda>(Shape{0, 2})));
  // linear: x·Wᵀ + b
  const Tensor<T, Cpu> x = random<T>(Shape{9, 6}, rng), w = random<T>(Shape{4, 6}, rng), bias = random<T>(Shape{4}, rng);
  check_close("linear", linear(x, w, bias), linear(gpu(x), gpu(w), gpu(bias)));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(conv2d_forward_and_backward_match_cpu, T, Scalars) {
  Rng rng(12);
  struct Case {
    Shape x, w;
    index_t stride, pad_h, pad_w;
  };
  const std::vector<Case> cases{
      {Shape{2, 3, 8, 8}, Shape{4, 3, 3, 3}, 1, 1, 1},   {Shape{3, 4, 9, 7}, Shape{5, 4, 3, 3}, 2, 1, 1},
      {Shape{2, 3, 8, 8}, Shape{6, 3, 1, 1}, 1, 0, 0},   {Shape{2, 2, 10, 10}, Shape{3, 2, 4, 4}, 2, 1, 1},
      {Shape{1, 3, 6, 5}, Shape{2, 3, 3, 1}, 1, 2, 2},   {Shape{4, 8, 4, 4}, Shape{8, 8, 3, 3}, 1, 1, 1},
      {Shape{2, 3, 5, 5}, Shape{2, 3, 5, 5}, 1, 0, 0},   // kernel as large as the input: 1×1 output
      {Shape{2, 5, 9, 7}, Shape{4, 5, 1, 7}, 1, 0, 3},   {Shape{2, 5, 7, 9}, Shape{4, 5, 7, 1}, 1, 3, 0},  // Inception-v3's 1×7, 7×1
      {Shape{3, 4, 7, 9}, Shape{5, 4, 1, 3}, 1, 0, 1},   {Shape{3, 4, 9, 7}, Shape{5, 4, 3, 1}, 1, 1, 0},
      {Shape{2, 3, 9, 11}, Shape{4, 3, 3, 3}, 2, 0, 0},  {Shape{2, 3, 6, 7}, Shape{4, 3, 7, 1}, 2, 3, 0},
  };
  for (const Case& c : cases) {
    const Tensor<T, Cpu> x = random<T>(c.x, rng), w = random<T>(c.w, rng);
    const std::string what = "conv2d " + c.x.to_string() + " * " + c.w.to_string() + " s" + std::to_string(c.stride) + " p(" +
                             std::to_string(c.pad_h) + ", " + std::to_string(c.pad_w) + ")";
    const Tensor<T, Cpu> y = conv2d(x, w, c.stride, c.pad_h, c.pad_w);
    check_close(what, y, conv2d(gpu(x), gpu(w), c.stride, c.pad_h, c.pad_w), tol<T>() * 10);
    // backward: dx overwritten, dw accumulated onto what is there
    const ConvGeometry g = detail::conv_geometry(c.x, c.w, c.stride, c.pad_h, c.pad_w);
    const Tensor<T, Cpu> dy = random<T>(y.shape(), rng), dw0 = random<T>(c.w, rng);
    Tensor<T, Cpu> dx = random<T>(c.x, rng), dw = clone(dw0);
    Tensor<T, Cuda> dxg = gpu(dx), dwg = gpu(dw0);
    conv2d_backward(Cpu{}, g, x.data(), w.data(), dy.data(), dx.data(), dw.data());
    conv2d_backward(Cuda{}, g, gpu(x).data(), gpu(w).data(), gpu(dy).data(), dxg.data(), dwg.data());
    check_close(what + " dx", dx, dxg, tol<T>() * 10);
    check_close(what + " dw", dw, dwg, tol<T>() * 10);
    // only one of the two gradients
    Tensor<T, Cuda> dx_only = gpu(random<T>(c.x, rng));
    conv2d_backward(Cuda{}, g, gpu(x).data(), gpu(w).data(), gpu(dy).data(), dx_only.data(), (T*)nullptr);
    check_close(what + " dx alone", dx, dx_only, tol<T>() * 10);
  }
}

BOOST_AUTO_TEST_CASE(conv2d_chunking_paths_match_cpu) {
  Rng rng(13);
  // Many images: several chunks of the column buffer (16M values each).
  {
    const Tensor<float, Cpu> x = random<float>(Shape{700, 3, 32, 32}, rng), w = random<float>(Shape{8, 3, 3, 3}, rng);
    const ConvGeometry g = detail::conv_geometry(x.shape(), w.shape(), 1, 1, 1);
    BOOST_TEST_REQUIRE(backend::cuda::conv_chunk(g) < g.n);
    const Tensor<float, Cpu> y = conv2d(x, w, 1, 1);
    check_close("conv2d, several chunks", y, conv2d(gpu(x), gpu(w), 1, 1), 2e-4);
    const Tensor<float, Cpu> dy = random<float>(y.shape(), rng);
    Tensor<float, Cpu> dx(x.shape()), dw = zeros<float>(w.shape());
    Tensor<float, Cuda> dxg(x.shape()), dwg = filled<float, Cuda>(w.shape(), 0.0f);
    conv2d_backward(Cpu{}, g, x.data(), w.data(), dy.data(), dx.data(), dw.data());
    conv2d_backward(Cuda{}, g, gpu(x).data(), gpu(w).data(), gpu(dy).data(), dxg.data(), dwg.data());
    check_close("conv2d backward dx, several chunks", dx, dxg, 2e-4);
    check_close("conv2d backward dw, several chunks", dw, dwg, 1e-3);  // sums of 700·1024 terms
  }
  // Large images: one image per chunk (the GEMM writes the output directly).
  {
    const Tensor<float, Cpu> x = random<float>(Shape{2, 64, 128, 128}, rng), w = random<float>(Shape{4, 64, 3, 3}, rng);
    const ConvGeometry g = detail::conv_geometry(x.shape(), w.shape(), 1, 1, 1);
    BOOST_TEST_REQUIRE(backend::cuda::conv_chunk(g) == 1);
    check_close("conv2d, one image per chunk", conv2d(x, w, 1, 1), conv2d(gpu(x), gpu(w), 1, 1), 2e-4);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(pooling_and_upsampling_match_cpu, T, Scalars) {
  Rng rng(14);
  struct Case {
    index_t k, s, pad;
  };
  // Values on a coarse grid: max pooling meets ties, which go to the first maximum on both devices.
  const Tensor<T, Cpu> x = random<T>(Shape{3, 4, 9, 11}, rng, -2, 2, true);
  const Tensor<T, Cuda> xg = gpu(x);
  for (const Case& c : {Case{2, 2, 0}, Case{3, 1, 0}, Case{3, 2, 0}, Case{1, 1, 0}, Case{4, 3, 0}, Case{3, 1, 1}, Case{3, 2, 1},
                        Case{2, 1, 1}, Case{5, 2, 2}}) {
    const std::string what = "k" + std::to_string(c.k) + " s" + std::to_string(c.s) + " p" + std::to_string(c.pad);
    for (bool counted : {true, false})
      check_close("avg_pool2d " + what + (counted ? "" : " (padding not counted)"), avg_pool2d(x, c.k, c.s, c.pad, counted),
                  avg_pool2d(xg, c.k, c.s, c.pad, counted));
    check_equal("max_pool2d " + what, max_pool2d(x, c.k, c.s, c.pad), max_pool2d(xg, c.k, c.s, c.pad));
    for (bool counted : {true, false}) {
      const PoolGeometry g = detail::pool_geometry("test", x.shape(), c.k, c.s, c.pad, counted);
      const Tensor<T, Cpu> dy = random<T>(detail::pool_shape(g), rng);
      for (bool max : {false, true}) {
        Tensor<T, Cpu> dx(x.shape());
        Tensor<T, Cuda> dxg(x.shape());
        pool2d_backward(Cpu{}, max, g, x.data(), dy.data(), dx.data());
        pool2d_backward(Cuda{}, max, g, xg.data(), gpu(dy).data(), dxg.data());
        check_close(std::string(max ? "max" : counted ? "avg" : "avg (padding not counted)") + " pool backward " + what, dx, dxg);
      }
    }
    const Tensor<T, Cpu> t = random<T>(x.shape(), rng);
    check_equal("max_pool2d_select " + what, max_pool2d_select(x, t, c.k, c.s, c.pad),
                max_pool2d_select(xg, gpu(t), c.k, c.s, c.pad));
  }
  check_equal("upsample_nearest2x", upsample_nearest2x(x), upsample_nearest2x(xg));
  const Tensor<T, Cpu> dy = random<T>(Shape{3, 4, 18, 22}, rng);
  Tensor<T, Cpu> dx(x.shape());
  Tensor<T, Cuda> dxg(x.shape());
  upsample2x_backward(Cpu{}, 12, 9, 11, dy.data(), dx.data());
  upsample2x_backward(Cuda{}, 12, 9, 11, gpu(dy).data(), dxg.data());
  check_close("upsample2x backward", dx, dxg);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(standardization_kernels_match_cpu, T, Scalars) {
  Rng rng(15);
  const Shape xs{6, 8, 5, 3};
  const std::vector<std::pair<std::string, StandardizeLayout>> layouts{
      {"group norm (4 groups)", detail::group_layout(xs, 4)},
      {"batch norm", detail::batch_layout(xs)},
      {"batch norm of features", StandardizeLayout{30, 24, 1}},
      {"one long group", StandardizeLayout{1, 1, 720}},
  };
  for (const auto& [name, s] : layouts) {
    const Tensor<T, Cpu> x = add_scalar(random<T>(xs, rng, -3, 3), T(1.5)), t = random<T>(xs, rng), dy = random<T>(xs, rng);
    const Tensor<T, Cuda> xg = gpu(x), tg = gpu(t), dyg = gpu(dy);
    NormStats<T, Cpu> st;
    NormStats<T, Cuda> stg;
    const auto r = standardize(x, s, T(1e-5), &st);
    const auto rg = standardize(xg, s, T(1e-5), &stg);
    check_close(name + " xhat", r.xhat, rg.xhat);
    check_close(name + " rstd", r.rstd, rg.rstd);
    check_close(name + " mean", st.mean, stg.mean);
    const Tensor<T, Cpu> y = standardize_jacobian(r.xhat, r.rstd, t, s);
    const Tensor<T, Cuda> yg = standardize_jacobian(rg.xhat, rg.rstd, tg, s);
    check_close(name + " jacobian", y, yg);
    Tensor<T, Cpu> dxhat(xs), drstd(Shape{s.g});
    Tensor<T, Cuda> dxhatg(xs), drstdg(Shape{s.g});
    standardize_jacobian_backward(Cpu{}, s, r.xhat.data(), r.rstd.data(), t.data(), y.data(), dy.data(), dxhat.data(), drstd.data());
    standardize_jacobian_backward(Cuda{}, s, rg.xhat.data(), rg.rstd.data(), tg.data(), yg.data(), dyg.data(), dxhatg.data(),
                                  drstdg.data());
    check_close(name + " jacobian backward dxhat", dxhat, dxhatg);
    check_close(name + " jacobian backward drstd", drstd, drstdg, tol<T>() * 10);
    Tensor<T, Cpu> sc(xs);
    Tensor<T, Cuda> scg(xs);
    scale_groups(Cpu{}, s, x.data(), r.rstd.data(), sc.data());
    scale_groups(Cuda{}, s, xg.data(), rg.rstd.data(), scg.data());
    check_close(name + " scale_groups", sc, scg);
  }
  // The ops built on them: group_norm with affine parameters, batch norm in both modes.
  const Tensor<T, Cpu> x = random<T>(xs, rng), gw = random<T>(Shape{8}, rng, 0.5, 1.5), gb = random<T>(Shape{8}, rng);
  check_close("group_norm", group_norm(x, 2, gw, gb), group_norm(gpu(x), 2, gpu(gw), gpu(gb)));
  NormStats<T, Cpu> st;
  NormStats<T, Cuda> stg;
  check_close("batch_norm_train", batch_norm_train(x, gw, gb, T(1e-5), &st), batch_norm_train(gpu(x), gpu(gw), gpu(gb), T(1e-5), &stg));
  const Tensor<T, Cpu> rm = random<T>(Shape{8}, rng), rv = random<T>(Shape{8}, rng, 0.5, 2);
  check_close("batch_norm_eval", batch_norm_eval(x, rm, rv, gw, gb, T(1e-5)),
              batch_norm_eval(gpu(x), gpu(rm), gpu(rv), gpu(gw), gpu(gb), T(1e-5)));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(host_side_linear_algebra_round_trips, T, Scalars) {
  // logdet_spd, inverse_spd and solve factor on the host: the device copies must go there and back.
  Rng rng(16);
  const Tensor<T, Cpu> a = random<T>(Shape{12, 7}, rng);
  Tensor<T, Cpu> spd = clone(matmul(a, a, true, false));
  for (index_t i = 0; i < 7; ++i) spd.at(i, i) += T(0.5);
  check_close("logdet_spd", logdet_spd(spd), logdet_spd(gpu(spd)));
  check_close("inverse_spd", inverse_spd(spd), inverse_spd(gpu(spd)), tol<T>() * 10);
  const Tensor<T, Cpu> b = random<T>(Shape{7, 3}, rng);
  check_close("solve", solve(spd, b), solve(gpu(spd), gpu(b)), tol<T>() * 10);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(multi_tensor_sum_of_squares_matches_cpu, T, Scalars) {
  // The gradient norm's reduction (issue #24): no tensors, empty, tiny and odd ones, and tensors
  // of several chunks (4096 values each on the GPU), against the CPU's double sum.
  Rng rng(17);
  std::vector<std::vector<Tensor<T, Cpu>>> cases{{}, {Tensor<T, Cpu>(Shape{0})}, {random<T>(Shape{1}, rng)}};
  for (index_t count : {index_t(3), index_t(60)}) {
    std::vector<Tensor<T, Cpu>> tensors;
    for (index_t t = 0; t < count; ++t) {
      const index_t n = t % 7 == 3 ? 0 : static_cast<index_t>(rng.below(count > 3 ? 20000 : 9));
      tensors.push_back(random<T>(Shape{n}, rng, -std::pow(10.0, t % 5 - 2), std::pow(10.0, t % 5 - 2)));
    }
    cases.push_back(tensors);
  }
  cases.push_back({random<T>(Shape{4096}, rng), random<T>(Shape{4097}, rng), random<T>(Shape{(1 << 20) + 3}, rng, -1e-2, 1e-2)});
  const double t_tol = std::is_same_v<T, float> ? 2 * std::numeric_limits<float>::epsilon() : 1e-13;
  for (const auto& tensors : cases) {
    std::vector<Tensor<T, Cuda>> device;
    std::vector<const T*> xc, xg;
    std::vector<index_t> sizes;
    for (const auto& t : tensors) {
      device.push_back(gpu(t));
      xc.push_back(t.data());
      xg.push_back(device.back().data());
      sizes.push_back(t.numel());
    }
    const std::string what = "sum_of_squares of " + std::to_string(tensors.size()) + " tensors";
    const index_t count = static_cast<index_t>(tensors.size());
    T want = -1;
    sum_of_squares(Cpu{}, count, xc.data(), sizes.data(), &want);
    Tensor<T, Cuda> y = gpu(from_vector<T>(Shape{1}, {T(7)})), again(Shape{1});
    const std::uint64_t reads = backend::counters(Cuda{}).to_host;
    sum_of_squares(Cuda{}, count, xg.data(), sizes.data(), y.data());
    sum_of_squares(Cuda{}, count, xg.data(), sizes.data(), again.data());
    BOOST_TEST(backend::counters(Cuda{}).to_host == reads, what << ": read the device");
    const T got = host(y)[0];
    BOOST_TEST(std::abs(double(got) - double(want)) <= t_tol * double(want), what << ": gpu " << got << " cpu " << want);
    if (want == T(0)) BOOST_TEST(got == T(0), what << ": gpu " << got << " for no values");
    check_equal(what + " run twice", host(y), again);  // a fixed order: the same bits every run
  }
  // A NaN anywhere reaches the sum.
  Tensor<T, Cpu> bad = random<T>(Shape{9000}, rng);
  bad[8999] = std::numeric_limits<T>::quiet_NaN();
  const Tensor<T, Cuda> badg = gpu(bad);
  const T* xb = badg.data();
  const index_t nb = bad.numel();
  Tensor<T, Cuda> y(Shape{1});
  sum_of_squares(Cuda{}, 1, &xb, &nb, y.data());
  BOOST_TEST(std::isnan(host(y)[0]));
}
