#define BOOST_TEST_MODULE cuda_dense_gpu
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

// GPU against CPU for GEMM (cuBLAS), convolution, pooling, upsampling, the normalization kernels
// the softmax kernels (row softmax, cross-entropy, arg-max accuracy), the SPD algebra (cuSOLVER),
// the kNN search (top-k, merge, gather, scatter on device indices) and the multi-tensor sum of
// squares.
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "cuda_test_util.hpp"
#include "gpu_test_main.hpp"
#include "structgan/objectives/clustering.hpp"

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
  // The fused BatchNorm with a per-sample affine map and ReLU (G's conditional BatchNorm): the op
  // and its backward kernel (dx, dscale, dshift) against the CPU's.
  const Tensor<T, Cpu> scale = random<T>(Shape{6, 8}, rng, 0.5, 1.5), shift = random<T>(Shape{6, 8}, rng), dy = random<T>(xs, rng);
  for (const bool relu : {true, false}) {
    const std::string r = relu ? " relu" : "";
    NormStats<T, Cpu> sa;
    NormStats<T, Cuda> sag;
    const Tensor<T, Cpu> y = batch_norm_train_affine(x, scale, shift, T(1e-5), relu, &sa);
    const Tensor<T, Cuda> yg = batch_norm_train_affine(gpu(x), gpu(scale), gpu(shift), T(1e-5), relu, &sag);
    check_close("batch_norm_train_affine" + r, y, yg);
    check_close("batch_norm_train_affine mean" + r, sa.mean, sag.mean);
    check_close("batch_norm_train_affine rstd" + r, sa.rstd, sag.rstd);
    const StandardizeLayout s = detail::batch_layout(xs);
    Tensor<T, Cpu> dx(xs), ds(Shape{6, 8}), dh(Shape{6, 8});
    Tensor<T, Cuda> dxg(xs), dsg(Shape{6, 8}), dhg(Shape{6, 8});
    batch_norm_affine_backward(Cpu{}, s, relu, x.data(), sa.mean.data(), sa.rstd.data(), scale.data(), y.data(), dy.data(), dx.data(),
                               ds.data(), dh.data());
    const Tensor<T, Cuda> xg = gpu(x), mg = gpu(sa.mean), rg = gpu(sa.rstd), scg = gpu(scale), yc = gpu(y), dyg = gpu(dy);
    batch_norm_affine_backward(Cuda{}, s, relu, xg.data(), mg.data(), rg.data(), scg.data(), yc.data(), dyg.data(), dxg.data(),
                               dsg.data(), dhg.data());
    check_close("batch_norm_affine_backward dx" + r, dx, dxg);
    check_close("batch_norm_affine_backward dscale" + r, ds, dsg, tol<T>() * 10);
    check_close("batch_norm_affine_backward dshift" + r, dh, dhg, tol<T>() * 10);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(spd_linear_algebra_runs_on_the_device, T, Scalars) {
  // cholesky (cuSOLVER potrf: the row-major lower triangle is the column-major upper one),
  // cholesky_logdet and cholesky_inverse (potri) against the CPU's Eigen LLT on odd sizes; the
  // ops built on them read nothing inside a DeferredReads scope. solve (LU) still goes through
  // the host: the device copies must go there and back.
  Rng rng(16);
  for (index_t p : {index_t(1), index_t(7), index_t(33), index_t(130)}) {
    const std::string at = " p=" + std::to_string(p);
    const Tensor<T, Cpu> a = random<T>(Shape{p + 5, p}, rng);
    Tensor<T, Cpu> spd = clone(mul_scalar(matmul(a, a, true, false), T(1.0 / double(p + 5))));
    for (index_t i = 0; i < p; ++i) spd.at(i, i) += T(1);  // eigenvalues in about [1, 5]
    // The kernel reads only the lower triangle: NaN in the strict upper one changes nothing.
    Tensor<T, Cpu> lower_only = clone(spd);
    for (index_t i = 0; i < p; ++i)
      for (index_t j = i + 1; j < p; ++j) lower_only.at(i, j) = std::numeric_limits<T>::quiet_NaN();
    const Tensor<T, Cuda> d_lower = gpu(lower_only);
    Tensor<T, Cuda> l(Shape{p, p}), info(Shape{1});
    cholesky(Cuda{}, p, d_lower.data(), l.data(), info.data());
    Tensor<T, Cpu> lc(Shape{p, p}), infoc(Shape{1});
    cholesky(Cpu{}, p, spd.data(), lc.data(), infoc.data());
    BOOST_TEST(host(info)[0] == T(0), "cholesky info" << at);
    check_close("cholesky" + at, lc, l, tol<T>() * 10);
    const Tensor<T, Cuda> d_spd = gpu(spd);
    check_close("logdet_spd" + at, logdet_spd(spd), logdet_spd(d_spd), tol<T>() * 10);
    const Tensor<T, Cuda> inv = inverse_spd(d_spd);
    check_close("inverse_spd" + at, inverse_spd(spd), inv, tol<T>() * 10);
    const Tensor<T, Cpu> inv_host = host(inv);
    bool symmetric = true;
    for (index_t i = 0; i < p; ++i)
      for (index_t j = 0; j < i; ++j) symmetric = symmetric && inv_host.at(i, j) == inv_host.at(j, i);
    BOOST_TEST(symmetric, "inverse_spd is exactly symmetric" << at);
    Var<T, Cuda> v(d_spd, true);
    backward(logdet_spd(v));
    check_close("∂ logdet_spd / ∂S" + at, inverse_spd(spd), v.grad(), tol<T>() * 10);
  }
  // Not positive definite, or NaN: info nonzero, on the device.
  Tensor<T, Cpu> not_spd = from_vector<T>({3, 3}, {T(1), T(2), T(0), T(2), T(1), T(0), T(0), T(0), T(1)});
  Tensor<T, Cpu> nan = from_vector<T>({2, 2}, {T(1), T(0), std::numeric_limits<T>::quiet_NaN(), T(1)});
  for (const Tensor<T, Cpu>* m : {&not_spd, &nan}) {
    const Tensor<T, Cuda> d = gpu(*m);
    Tensor<T, Cuda> l(m->shape()), info(Shape{1});
    cholesky(Cuda{}, m->dim(0), d.data(), l.data(), info.data());
    BOOST_TEST(host(info)[0] != T(0));
  }
  // The ops: no device→host transfer inside a scope; the failure named at the readout's read.
  const Tensor<T, Cuda> d_not_spd = gpu(not_spd);
  auto& counters = backend::counters(Cuda{});
  DeviceReadout<T, Cuda> readout;
  {
    DeferredReads<T, Cuda> scope(readout);
    counters.reset();
    BOOST_CHECK_NO_THROW(logdet_spd(d_not_spd));
    BOOST_TEST(counters.to_host == 0u);
  }
  const auto failed = readout.read();
  BOOST_REQUIRE(failed.has_value());
  BOOST_TEST(failed->find("not positive definite") != std::string::npos, *failed);
  BOOST_CHECK_THROW(logdet_spd(d_not_spd), Error);
  const Tensor<T, Cpu> b = random<T>(Shape{7, 3}, rng), a7 = random<T>(Shape{12, 7}, rng);
  Tensor<T, Cpu> s7 = clone(matmul(a7, a7, true, false));
  for (index_t i = 0; i < 7; ++i) s7.at(i, i) += T(0.5);
  check_close("solve", solve(s7, b), solve(gpu(s7), gpu(b)), tol<T>() * 10);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(softmax_kernels_match_cpu_and_read_nothing_back, T, Scalars) {
  Rng rng(17);
  // Empty, tiny, odd, one column, wider than a block (256 threads), and logits of ±80 (exp of
  // them overflows float without the max shift).
  const std::vector<std::pair<index_t, index_t>> shapes{{0, 4}, {3, 0}, {1, 1}, {7, 13}, {64, 1}, {5, 1000}, {33, 257}, {4, 4097}};
  for (const auto& [rows, cols] : shapes)
    for (double scale : {2.0, 80.0}) {
      const std::string nm = std::to_string(rows) + "x" + std::to_string(cols) + " scale " + std::to_string(int(scale));
      const Tensor<T, Cpu> x = random<T>(Shape{rows, cols}, rng, -scale, scale);
      for (bool log : {false, true}) {
        Tensor<T, Cpu> y(x.shape());
        Tensor<T, Cuda> yg(x.shape());
        softmax_rows(Cpu{}, rows, cols, log, x.data(), y.data());
        softmax_rows(Cuda{}, rows, cols, log, gpu(x).data(), yg.data());
        check_close(std::string(log ? "log_softmax_rows " : "softmax_rows ") + nm, y, yg, tol<T>() * (log ? 10 : 1));
      }
      if (cols == 0) continue;
      std::vector<int> labels(static_cast<std::size_t>(rows));
      for (auto& l : labels) l = static_cast<int>(rng.below(static_cast<std::uint64_t>(cols)));
      Tensor<T, Cpu> loss(Shape{1}), grad(x.shape()), acc(Shape{1});
      Tensor<T, Cuda> lossg(Shape{1}), gradg(x.shape()), accg(Shape{1});
      softmax_cross_entropy(Cpu{}, x.data(), rows, cols, labels, loss.data(), grad.data());
      softmax_cross_entropy(Cuda{}, gpu(x).data(), rows, cols, labels, lossg.data(), gradg.data());
      check_close("softmax_cross_entropy loss " + nm, loss, lossg, tol<T>() * 10);
      check_close("softmax_cross_entropy grad " + nm, grad, gradg);
      argmax_accuracy(Cpu{}, x.data(), rows, cols, labels, acc.data());
      argmax_accuracy(Cuda{}, gpu(x).data(), rows, cols, labels, accg.data());
      check_equal("argmax_accuracy " + nm, acc, accg);
    }
  // Ties go to the first maximal column; no rows: 0.
  const Tensor<T, Cpu> tied = from_vector<T>(Shape{3, 4}, {T(1), T(3), T(3), T(0), T(2), T(2), T(2), T(2), T(-1), T(0), T(5), T(5)});
  check_equal("argmax_accuracy ties", from_vector<T>(Shape{1}, {T(1)}), argmax_accuracy(gpu(tied), {1, 0, 2}));
  check_equal("argmax_accuracy ties, other labels", from_vector<T>(Shape{1}, {T(0)}), argmax_accuracy(gpu(tied), {2, 3, 3}));
  Tensor<T, Cuda> none(Shape{1});
  softmax_cross_entropy(Cuda{}, gpu(tied).data(), 0, 4, std::vector<int>{}, none.data(), (T*)nullptr);
  check_equal("softmax_cross_entropy of no rows", from_vector<T>(Shape{1}, {T(0)}), none);

  // The ops (ops/softmax.hpp) on the GPU: values, gradients, a JVP and no device→host transfer
  // inside a DeferredReads scope (the cross-entropy's finiteness check is queued).
  const Tensor<T, Cpu> z = random<T>(Shape{9, 300}, rng, -6, 6), w = random<T>(Shape{9, 300}, rng), v = random<T>(Shape{9, 300}, rng);
  std::vector<int> labels(9);
  for (auto& l : labels) l = static_cast<int>(rng.below(300));
  Var<T> xc(z, true), sc(z, true);
  backward(softmax_cross_entropy(xc, labels));
  backward(sum_all(mul(softmax_rows(sc), Var<T>(w))));
  const DualTensor<Tensor<T, Cpu>> jc = softmax_cross_entropy(DualTensor<Tensor<T, Cpu>>(z, v), labels);
  const Tensor<T, Cuda> zg = gpu(z), wg = gpu(w), vg = gpu(v);
  Var<T, Cuda> xg(zg, true), sg(zg, true);
  DeviceReadout<T, Cuda> readout;
  auto& counters = backend::counters(Cuda{});
  Tensor<T, Cuda> lg, ag, jg;
  counters.reset();
  {
    DeferredReads<T, Cuda> deferred(readout);
    const Var<T, Cuda> l = softmax_cross_entropy(xg, labels);
    backward(l);
    backward(sum_all(mul(softmax_rows(sg), Var<T, Cuda>(wg))));
    jg = softmax_cross_entropy(DualTensor<Tensor<T, Cuda>>(zg, vg), labels).tangent;
    lg = l.value();
    ag = argmax_accuracy(zg, labels);
  }
  BOOST_TEST(counters.to_host == 0u, counters.to_host << " device→host transfers");
  BOOST_TEST(!readout.read().has_value());
  check_close("softmax_cross_entropy op", softmax_cross_entropy(z, labels), lg, tol<T>() * 10);
  check_close("softmax_cross_entropy op gradient", xc.grad(), xg.grad());
  check_close("softmax_rows op gradient", sc.grad(), sg.grad(), tol<T>() * 10);
  check_close("softmax_cross_entropy JVP", jc.tangent, jg, tol<T>() * 10);
  check_equal("argmax_accuracy op", argmax_accuracy(z, labels), ag);
}

// The kNN search of SPEC §3 on the device (issue #24): top-k of each candidate block and the merge
// into the running best on the GPU. Integer keys make every similarity exact on both devices, so
// ties (many) are broken the same way and the neighbours must be equal.
BOOST_AUTO_TEST_CASE_TEMPLATE(knn_search_merges_blocks_on_the_device_as_the_cpu_does, T, Scalars) {
  Rng rng(15);
  const index_t n = 37, m = 29, L = 300, q = 6;
  const Tensor<T, Cpu> queries = random<T>(Shape{m, q}, rng, -2, 2, true), batch = random<T>(Shape{n, q}, rng, -2, 2, true),
                       bank = random<T>(Shape{L, q}, rng, -2, 2, true);
  for (index_t block : {index_t(1) << 21, index_t(50), index_t(7)})
    for (bool drop : {true, false})
      for (index_t k : {1, 3, 20}) {
        BOOST_TEST_CONTEXT("k " << k << " drop " << drop << " block " << block) {
          const std::vector<index_t> want = to_host(objectives::knn_search(queries, batch, bank, k, drop, block));
          const std::vector<index_t> got = to_host(objectives::knn_search(gpu(queries), gpu(batch), gpu(bank), k, drop, block));
          BOOST_TEST(want == got, boost::test_tools::per_element());
          const std::vector<index_t> no_bank = to_host(objectives::knn_search(gpu(queries), gpu(batch), Tensor<T, Cuda>(), k, drop, block));
          BOOST_TEST(to_host(objectives::knn_search(queries, batch, Tensor<T, Cpu>(), k, drop, block)) == no_bank,
                     boost::test_tools::per_element());
        }
      }
}

// The kNN branch of a training step (both similarities, their gradients) with the finite checks
// deferred makes no device→host transfer; neighbours equal the CPU's, values agree to rounding.
BOOST_AUTO_TEST_CASE_TEMPLATE(knn_branch_makes_no_device_to_host_transfer, T, Scalars) {
  Rng rng(16);
  const index_t n = 24, L = 200, q = 6, p = 5;
  objectives::MemoryBank<T> bank(L, q, p, rng);
  objectives::MemoryBank<T, Cuda> bank_gpu;
  bank_gpu.load_state({gpu(bank.keys()), gpu(bank.values()), 0});
  const Tensor<T, Cpu> kr = random<T>(Shape{n, q}, rng, -2, 2, true), kf = random<T>(Shape{n, q}, rng, -2, 2, true);
  const Tensor<T, Cpu> f = random<T>(Shape{n, p}, rng), fg = random<T>(Shape{n, p}, rng);
  objectives::ClusterOptions o;
  o.k = 2;
  o.block_elements = 64;
  Var<T, Cpu> fv(f, true), gv(fg, true);
  const auto want = objectives::cluster_similarities(fv, gv, kr, kf, bank, o);
  backward(add(want.s_real, want.s_fake));
  Var<T, Cuda> fgpu(gpu(f), true), ggpu(gpu(fg), true);
  const Tensor<T, Cuda> krg = gpu(kr), kfg = gpu(kf);
  DeviceReadout<T, Cuda> readout;
  auto& counters = backend::counters(Cuda{});
  counters.reset();
  DeviceIndices<Cuda> real_nb, fake_nb;
  Tensor<T, Cuda> s_real, s_fake;
  {
    DeferredReads<T, Cuda> deferred(readout);
    const auto c = objectives::cluster_similarities(fgpu, ggpu, krg, kfg, bank_gpu, o);
    backward(add(c.s_real, c.s_fake));
    real_nb = c.real_neighbours, fake_nb = c.fake_neighbours;
    s_real = c.s_real.value(), s_fake = c.s_fake.value();
  }
  BOOST_TEST(counters.to_host == 0u, counters.to_host << " device→host transfers in the kNN branch");
  BOOST_TEST(!readout.read().has_value());
  BOOST_TEST(to_host(real_nb) == to_host(want.real_neighbours), boost::test_tools::per_element());
  BOOST_TEST(to_host(fake_nb) == to_host(want.fake_neighbours), boost::test_tools::per_element());
  check_close("s_real", want.s_real.value(), s_real);
  check_close("s_fake", want.s_fake.value(), s_fake);
  check_close("∂/∂f", fv.grad(), fgpu.grad());
  check_close("∂/∂f^g", gv.grad(), ggpu.grad());
}

// topk_merge_rows and the scatter with indices outside the rows, GPU against CPU.
BOOST_AUTO_TEST_CASE_TEMPLATE(topk_merge_and_scatter_outside_rows_match_cpu, T, Scalars) {
  Rng rng(17);
  const index_t rows = 70, k = 5, na = 3, nb = 4;
  const Tensor<T, Cpu> xa = random<T>(Shape{rows, 9}, rng, -2, 2, true), xb = random<T>(Shape{rows, 9}, rng, -2, 2, true);
  DeviceIndices<Cpu> ai(rows, k), bi(rows, nb);
  Tensor<T, Cpu> av(Shape{rows, k}), bv(Shape{rows, nb});
  topk_rows(Cpu{}, xa.data(), rows, 9, na, av.data(), ai.data());
  // a's na entries at row stride k
  for (index_t r = rows - 1; r >= 0; --r)
    for (index_t t = na - 1; t >= 0; --t) av[r * k + t] = av[r * na + t], ai.data()[r * k + t] = ai.data()[r * na + t];
  topk_rows(Cpu{}, xb.data(), rows, 9, nb, bv.data(), bi.data());
  Tensor<T, Cuda> avg = gpu(av), bvg = gpu(bv);
  const auto aig = DeviceIndices<Cuda>::from_host(rows, k, to_host(ai)), big = DeviceIndices<Cuda>::from_host(rows, nb, to_host(bi));
  topk_merge_rows(Cpu{}, rows, k, na, av.data(), ai.data(), nb, bv.data(), bi.data(), 4);
  topk_merge_rows(Cuda{}, rows, k, na, avg.data(), aig.data(), nb, bvg.data(), big.data(), 4);
  BOOST_TEST(to_host(ai) == to_host(aig), boost::test_tools::per_element());
  check_equal("merged values", av, avg);
  // the GPU's own top-k values
  Tensor<T, Cuda> tv(Shape{rows, nb});
  DeviceIndices<Cuda> ti(rows, nb);
  topk_rows(Cuda{}, gpu(xb).data(), rows, 9, nb, tv.data(), ti.data());
  topk_rows(Cpu{}, xb.data(), rows, 9, nb, bv.data(), bi.data());
  check_equal("top-k values", bv, tv);
  BOOST_TEST(to_host(bi) == to_host(ti), boost::test_tools::per_element());
  // scatter: 3000 sources onto 50 rows, a tenth of them outside (skipped)
  const index_t count = 3000, width = 7, dst_rows = 50;
  std::vector<index_t> idx(static_cast<std::size_t>(count));
  for (auto& i : idx) i = static_cast<index_t>(rng.below(55)) - 2;
  const Tensor<T, Cpu> g = random<T>(Shape{count, width}, rng);
  Tensor<T, Cpu> dst = random<T>(Shape{dst_rows, width}, rng);
  Tensor<T, Cuda> dstg = gpu(dst);
  scatter_add_rows(Cpu{}, g.data(), width, DeviceIndices<Cpu>::from_host(count, 1, idx).data(), count, 0, dst.data(), dst_rows);
  scatter_add_rows(Cuda{}, gpu(g).data(), width, DeviceIndices<Cuda>::from_host(count, 1, idx).data(), count, 0, dstg.data(),
                   dst_rows);
  check_equal("scatter_add_rows (sources outside skipped)", dst, dstg);
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
