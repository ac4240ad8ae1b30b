#define BOOST_TEST_MODULE cuda_elementwise_gpu
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

// GPU against CPU for the element-wise, reduction, row and selection kernels (float and double).
#include <numeric>

#include <tuple>

#include "cuda_test_util.hpp"
#include "gpu_test_main.hpp"

using namespace structgan;
using namespace structgan::testing;
using Scalars = std::tuple<float, double>;

namespace {
template <class T>
Tensor<T, Cpu> run_unary_cpu(UnaryOp op, T alpha, const Tensor<T, Cpu>& x) {
  Tensor<T, Cpu> y(x.shape());
  unary(Cpu{}, op, alpha, x.numel(), x.data(), y.data());
  return y;
}
template <class T>
Tensor<T, Cuda> run_unary_gpu(UnaryOp op, T alpha, const Tensor<T, Cuda>& x) {
  Tensor<T, Cuda> y(x.shape());
  unary(Cuda{}, op, alpha, x.numel(), x.data(), y.data());
  return y;
}
}  // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(unary_ops_match_cpu, T, Scalars) {
  Rng rng(1);
  const Shape s{10007};
  const Tensor<T, Cpu> any = random<T>(s, rng, -3, 3), positive = random<T>(s, rng, 0.1, 3);
  struct Case {
    UnaryOp op;
    double alpha;
    bool positive_only;
    const char* name;
  };
  const std::vector<Case> cases{
      {UnaryOp::Neg, 0, false, "neg"},          {UnaryOp::Exp, 0, false, "exp"},
      {UnaryOp::Log, 0, true, "log"},           {UnaryOp::Sqrt, 0, true, "sqrt"},
      {UnaryOp::Tanh, 0, false, "tanh"},        {UnaryOp::Elu, 1, false, "elu"},
      {UnaryOp::Elu, 0.7, false, "elu(0.7)"},   {UnaryOp::EluDeriv, 1, false, "elu'"},
      {UnaryOp::EluDeriv2, 1, false, "elu''"},  {UnaryOp::Relu, 0, false, "relu"},
      {UnaryOp::Step, 0.3, false, "step"},      {UnaryOp::Abs, 0, false, "abs"},
      {UnaryOp::Sign, 0, false, "sign"},        {UnaryOp::Square, 0, false, "square"},
      {UnaryOp::Pow, 1.7, true, "pow"},         {UnaryOp::AddScalar, 0.5, false, "add_scalar"},
      {UnaryOp::MulScalar, -1.5, false, "mul_scalar"}, {UnaryOp::ClampMin, 0.2, false, "clamp_min"},
      {UnaryOp::Reciprocal, 0, true, "reciprocal"}};
  for (const Case& c : cases) {
    const Tensor<T, Cpu>& x = c.positive_only ? positive : any;
    check_close(c.name, run_unary_cpu(c.op, T(c.alpha), x), run_unary_gpu(c.op, T(c.alpha), gpu(x)));
  }
  // In place (y aliases x), as the CPU kernel allows.
  Tensor<T, Cuda> g = gpu(any);
  unary(Cuda{}, UnaryOp::Tanh, T(0), g.numel(), g.data(), g.data());
  check_close("tanh in place", run_unary_cpu(UnaryOp::Tanh, T(0), any), g);
  // Signs and steps at exactly 0 and at the threshold.
  const Tensor<T, Cpu> edges = from_vector<T>(Shape{5}, {T(0), T(-0.0), T(0.3), T(-1), T(1)});
  check_equal("sign at 0", run_unary_cpu(UnaryOp::Sign, T(0), edges), run_unary_gpu(UnaryOp::Sign, T(0), gpu(edges)));
  check_equal("step at threshold", run_unary_cpu(UnaryOp::Step, T(0.3), edges),
              run_unary_gpu(UnaryOp::Step, T(0.3), gpu(edges)));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(axpy_fill_copy_and_transfers, T, Scalars) {
  Rng rng(2);
  const Tensor<T, Cpu> x = random<T>(Shape{3, 1001}, rng), y = random<T>(Shape{3, 1001}, rng);
  // Host → device → host is exact.
  check_equal("round trip", x, gpu(x));
  // axpy
  Tensor<T, Cpu> yc = clone(y);
  Tensor<T, Cuda> yg = gpu(y);
  axpy(Cpu{}, x.numel(), T(-0.75), x.data(), yc.data());
  axpy(Cuda{}, x.numel(), T(-0.75), gpu(x).data(), yg.data());
  check_close("axpy", yc, yg);
  // fill and copy
  Tensor<T, Cuda> f(Shape{777});
  fill(Cuda{}, f.numel(), T(3.25), f.data());
  check_equal("fill", full<T>(Shape{777}, T(3.25)), f);
  check_equal("clone", x, clone(gpu(x)));
  check_equal("filled", full<T>(Shape{2, 3}, T(-1.5)), filled<T, Cuda>(Shape{2, 3}, T(-1.5)));
  Tensor<T, Cuda> target(x.shape());
  assign(target, gpu(x));
  check_equal("assign", x, target);
  // add_inplace goes through axpy on the device
  Tensor<T, Cuda> acc = gpu(y);
  add_inplace(acc, gpu(x), T(2));
  Tensor<T, Cpu> accc = clone(y);
  add_inplace(accc, x, T(2));
  check_close("add_inplace", accc, acc);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(broadcast_binary_ops_match_cpu, T, Scalars) {
  Rng rng(3);
  const std::vector<std::pair<Shape, Shape>> pairs{
      {Shape{4, 5, 6, 7}, Shape{4, 5, 6, 7}},  // same shape (Thrust path)
      {Shape{4, 5, 6, 7}, Shape{1, 5, 1, 1}},  // per channel
      {Shape{4, 5, 6, 7}, Shape{5, 1, 1}},     // per channel, lower rank
      {Shape{4, 5, 6, 7}, Shape{4, 1, 1, 1}},  // per sample
      {Shape{4, 5, 6, 7}, Shape{4, 5, 1, 1}},  // per sample and channel
      {Shape{9, 13}, Shape{1, 13}},             // a row
      {Shape{9, 13}, Shape{13}},
      {Shape{9, 13}, Shape{9, 1}},              // a column
      {Shape{9, 1}, Shape{1, 13}},              // both sides broadcast
      {Shape{1}, Shape{3, 4, 5}},               // a one-element tensor
      {Shape{3, 1, 5}, Shape{1, 4, 1}},
      {Shape{1, 1, 4, 1}, Shape{2, 3, 1, 5}},  // once folded wrongly by the shared broadcast plan
  };
  for (const auto& [sa, sb] : pairs) {
    const Tensor<T, Cpu> a = random<T>(sa, rng), b = random<T>(sb, rng, 0.5, 2);
    const Tensor<T, Cuda> ag = gpu(a), bg = gpu(b);
    const std::string shapes = sa.to_string() + " with " + sb.to_string();
    check_close("add " + shapes, add(a, b), add(ag, bg));
    check_close("sub " + shapes, sub(b, a), sub(bg, ag));
    check_close("mul " + shapes, mul(a, b), mul(ag, bg));
    check_close("div " + shapes, div(a, b), div(ag, bg));
    check_close("elu_tangent " + shapes, elu_tangent(a, b), elu_tangent(ag, bg));
    check_close("elu_curvature " + shapes, elu_curvature(a, b), elu_curvature(ag, bg));
    const Shape out = broadcast_shape("test", sa, sb);
    check_equal("expand " + shapes, expand(a, out), expand(ag, out));
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(sum_reductions_match_cpu, T, Scalars) {
  Rng rng(4);
  const std::vector<std::pair<Shape, Shape>> cases{
      {Shape{4, 5, 6, 7}, Shape{1, 5, 1, 1}},  // per channel (block path)
      {Shape{4, 5, 6, 7}, Shape{4, 1, 1, 1}},  // per sample
      {Shape{4, 5, 6, 7}, Shape{4, 5, 1, 1}},  // spatial sum (42 terms: block path)
      {Shape{4, 5, 6, 7}, Shape{1, 1, 1, 1}},  // everything
      {Shape{4, 5, 6, 7}, Shape{4, 1, 6, 1}},  // non-adjacent reduced dimensions
      {Shape{4, 5, 6, 7}, Shape{1, 5, 6, 7}},  // 4 terms each (thread path)
      {Shape{300, 17}, Shape{1, 17}},           // bias gradient
      {Shape{300, 17}, Shape{300, 1}},          // row sums (thread path)
      {Shape{70000}, Shape{1}},                 // one long sum
      {Shape{3, 4}, Shape{3, 4}},               // nothing to reduce
  };
  for (const auto& [sx, sy] : cases) {
    const Tensor<T, Cpu> x = random<T>(sx, rng);
    const std::string what = "sum_to " + sx.to_string() + " -> " + sy.to_string();
    // Sums of n terms: rounding grows like √n·ε relative to the terms' scale.
    const double t = tol<T>() * std::sqrt(double(sx.numel()) / std::max<index_t>(1, sy.numel()) + 1);
    check_close(what, sum_to(x, sy), sum_to(gpu(x), sy), t);
  }
  const Tensor<T, Cpu> x = random<T>(Shape{6, 8}, rng);
  check_close("mean over rows", mean(x, {0}), mean(gpu(x), {0}));
  check_close("sum_all", sum_all(x), sum_all(gpu(x)));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(row_movement_matches_cpu_exactly, T, Scalars) {
  Rng rng(5);
  const Tensor<T, Cpu> x = random<T>(Shape{6, 5, 4}, rng);
  const Tensor<T, Cuda> xg = gpu(x);
  // slice and concat along every axis (copy_rows)
  for (int axis = 0; axis < 3; ++axis) {
    const index_t d = x.dim(axis);
    const Tensor<T, Cpu> a = slice(x, axis, 1, d - 2), b = slice(x, axis, 0, 1);
    check_equal("slice axis " + std::to_string(axis), a, slice(xg, axis, 1, d - 2));
    check_equal("concat axis " + std::to_string(axis), concat(std::vector<Tensor<T, Cpu>>{a, b, a}, axis),
                concat(std::vector<Tensor<T, Cuda>>{slice(xg, axis, 1, d - 2), slice(xg, axis, 0, 1), slice(xg, axis, 1, d - 2)}, axis));
  }
  // copy_rows with accumulation
  Tensor<T, Cpu> dst = random<T>(Shape{6, 9}, rng);
  Tensor<T, Cuda> dstg = gpu(dst);
  copy_rows(Cpu{}, 6, 4, x.data(), 20, dst.data() + 2, 9, true);
  copy_rows(Cuda{}, 6, 4, xg.data(), 20, dstg.data() + 2, 9, true);
  check_equal("copy_rows accumulate", dst, dstg);
  // gather and scatter with repeated indices (scatter adds in the CPU's order: exact)
  const std::vector<index_t> idx{5, 0, 3, 3, 1, 5, 5, 2};
  check_equal("gather_rows", gather_rows(x, idx), gather_rows(xg, idx));
  const Tensor<T, Cpu> g = random<T>(Shape{8, 5, 4}, rng);
  Tensor<T, Cpu> s = random<T>(Shape{6, 5, 4}, rng);
  Tensor<T, Cuda> sg = gpu(s);
  // (indices in device memory; offset 1 leaves index 0 outside, skipped)
  const index_t count = static_cast<index_t>(idx.size());
  const auto idx_cpu = DeviceIndices<Cpu>::from_host(count, 1, idx);
  const auto idx_gpu = DeviceIndices<Cuda>::from_host(count, 1, idx);
  scatter_add_rows(Cpu{}, g.data(), 20, idx_cpu.data(), count, 1, s.data(), 5);
  scatter_add_rows(Cuda{}, gpu(g).data(), 20, idx_gpu.data(), count, 1, sg.data(), 5);
  check_equal("scatter_add_rows", s, sg);
  check_equal("gather_rows with an offset", gather_rows(x, idx_cpu, 2), gather_rows(xg, idx_gpu, 2));
  // the gradient of gather_rows goes through scatter_add_rows
  Var<T, Cpu> xv(x, true);
  Var<T, Cuda> xgv(xg, true);
  backward(sum_all(square(gather_rows(xv, idx))));
  backward(sum_all(square(gather_rows(xgv, idx))));
  check_close("gather_rows backward", xv.grad(), xgv.grad());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(topk_matches_cpu_including_ties, T, Scalars) {
  Rng rng(6);
  struct Case {
    index_t rows, cols, k;
    bool ties;
  };
  const std::vector<Case> cases{{5, 7, 1, false},    {5, 7, 7, true},      {33, 100, 2, true},  {33, 100, 16, true},
                                {33, 100, 17, true}, {8, 3000, 40, false}, {8, 3000, 5, true},  {300, 64, 10, true},
                                {2, 1, 1, false},    {3, 600, 600, true}};
  for (const Case& c : cases) {
    const Tensor<T, Cpu> x = random<T>(Shape{c.rows, c.cols}, rng, -2, 2, c.ties);
    const std::vector<index_t> want = topk_indices(x, c.k), got = topk_indices(gpu(x), c.k);
    BOOST_TEST_CONTEXT("top-" << c.k << " of " << c.rows << "x" << c.cols) { BOOST_TEST(want == got, boost::test_tools::per_element()); }
  }
  // Signed zeros tie (−0 == +0): the smaller index wins, as on the CPU.
  const Tensor<T, Cpu> z = from_vector<T>(Shape{1, 4}, {T(-0.0), T(0), T(-1), T(-0.0)});
  BOOST_TEST(topk_indices(gpu(z), 3) == topk_indices(z, 3), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(softmax_cross_entropy_kernel_matches_cpu, T, Scalars) {
  Rng rng(7);
  for (index_t k : {3, 10, 1000}) {
    const index_t n = 37;
    const Tensor<T, Cpu> z = random<T>(Shape{n, k}, rng, -5, 5);
    std::vector<int> labels(static_cast<std::size_t>(n));
    for (auto& y : labels) y = static_cast<int>(rng.below(static_cast<std::uint64_t>(k)));
    Tensor<T, Cpu> grad(z.shape()), want(Shape{1});
    Tensor<T, Cuda> gradg(z.shape()), got(Shape{1});
    softmax_cross_entropy(Cpu{}, z.data(), n, k, labels, want.data(), grad.data());
    softmax_cross_entropy(Cuda{}, gpu(z).data(), n, k, labels, got.data(), gradg.data());
    check_close("softmax_cross_entropy loss, k = " + std::to_string(k), want, got);
    check_close("softmax_cross_entropy grad, k = " + std::to_string(k), grad, gradg);
    // the composite op (used by the models) agrees too
    check_close("softmax_cross_entropy op", softmax_cross_entropy(z, labels), softmax_cross_entropy(gpu(z), labels));
  }
  // bad labels are refused before any kernel runs
  const Tensor<T, Cuda> z = filled<T, Cuda>(Shape{2, 3}, T(0));
  Tensor<T, Cuda> loss(Shape{1});
  BOOST_CHECK_THROW(softmax_cross_entropy(Cuda{}, z.data(), 2, 3, std::vector<int>{0, 3}, loss.data(), (T*)nullptr), Error);
}

BOOST_AUTO_TEST_CASE(allocator_reuses_memory_across_ops) {
  Rng rng(8);
  const Tensor<float, Cpu> x = random<float>(Shape{64, 256}, rng);
  const Tensor<float, Cuda> xg = gpu(x);
  auto step = [&] { return sum_all(mul(exp(xg), add_scalar(xg, 1.0f))); };
  // Warm-up in the loop's own pattern (a result is replaced while the next one is made): the
  // first passes may reach cudaMalloc, the later ones must not.
  Tensor<float, Cuda> warm = step(), last;
  for (int i = 0; i < 3; ++i) last = step();
  const auto before = backend::cuda::memory_stats();
  for (int i = 0; i < 50; ++i) last = step();
  const auto after = backend::cuda::memory_stats();
  BOOST_TEST(after.raw_allocations == before.raw_allocations);  // no cudaMalloc per op
  BOOST_TEST(after.reuses >= before.reuses + 50 * 4);
  BOOST_TEST(after.bytes_in_use == before.bytes_in_use);
  check_equal("repeated results", host(warm), last);
  // Releasing the cache keeps live tensors intact.
  backend::cuda::release_cached_memory();
  BOOST_TEST(backend::cuda::memory_stats().bytes_cached == 0u);
  check_equal("after release_cached_memory", x, xg);
}

BOOST_AUTO_TEST_CASE(reused_blocks_are_stream_ordered) {
  // Free a block while a kernel still reads it, take it again at once and overwrite it: the
  // first result must be unaffected (all work is ordered on one stream).
  Rng rng(9);
  const Tensor<float, Cpu> a = random<float>(Shape{1 << 20}, rng);
  Tensor<float, Cuda> out;
  for (int round = 0; round < 20; ++round) {
    Tensor<float, Cuda> tmp = gpu(a);
    out = sum_all(tmp);
    tmp = Tensor<float, Cuda>();  // back to the pool while the reduction may still run
    Tensor<float, Cuda> other = filled<float, Cuda>(Shape{1 << 20}, 1e6f);
    BOOST_TEST_REQUIRE(std::abs(host(out)[0] - sum_all(a)[0]) <= 1e-2f * std::max(1.0f, std::abs(sum_all(a)[0])));
  }
}
