// The collective ops of ops/collective.hpp and synchronized BatchNorm (nn/norm.hpp) on every rank
// of the job it runs in (CTest runs it alone and under `mpirun -np 2`). Every rank draws the same
// global batch from one seed and keeps its own rows; each rank's loss is its own (rank-dependent
// weights), and the data-parallel objective is their average F = (1/N)·Σ_r L_r, which is
// what one process computes on the whole batch. In double:
//  - values equal the one-process values within 1e-12 relative;
//  - each rank's gradient of its own rows is N × ∂F/∂(those rows), so the gathered rows divided
//    by N equal the one-process gradient within 1e-10 relative, and parameter gradients averaged
//    over the ranks equal the one-process gradient (the trainer's convention);
//  - gradients agree with central differences of F (evaluated on every rank, the losses summed
//    over ranks), also on one rank; tangents equal the one-process JVP;
//  - without a communicator (or with one rank) BatchNorm is bit-identical to the plain module.
#define BOOST_TEST_MODULE distributed_collective_ops
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "structgan/autodiff.hpp"
#include "structgan/distributed/world.hpp"
#include "distributed_test_util.hpp"
#include "structgan/nn/norm.hpp"
#include "structgan/ops/collective.hpp"
#include "structgan/ops/linalg.hpp"

using namespace structgan;
using distributed::Communicator;
using distributed_test::own_rows;
using distributed_test::Rows;
using distributed_test::rows_of;
using distributed_test::World;
using distributed_test::world;
using TD = Tensor<double, Cpu>;
using VD = Var<double, Cpu>;
using DD = DualTensor<TD>;

namespace {

/// The global tensor (shape `global`) whose rows are every rank's `mine` (uneven splits too).
TD rows_of_every_rank(Communicator& c, const TD& mine, const Shape& global) {
  TD all = filled<double, Cpu>(global, 0.0);
  const Rows r = rows_of(global[0], c);
  BOOST_REQUIRE(mine.dim(0) == r.count);
  detail::move_slice(all, 0, r.begin, r.count, const_cast<TD&>(mine), false, false);
  distributed::all_reduce_sum(c, all);
  return all;
}
TD average_over_ranks(Communicator& c, const TD& x) {
  TD s = clone(x);
  distributed::all_reduce_sum(c, s);
  return mul_scalar(s, 1.0 / c.size());
}
double sum_over_every_rank(Communicator& c, double v) {
  std::vector<double> s{v};
  distributed::all_reduce_sum(c, s);
  return s[0];
}

double max_abs(const TD& x) { return x.numel() ? x.array().abs().maxCoeff() : 0.0; }
double max_abs_diff(const TD& a, const TD& b) {
  BOOST_REQUIRE(a.shape() == b.shape());
  return a.numel() ? (a.array() - b.array()).abs().maxCoeff() : 0.0;
}
bool close(const TD& got, const TD& want, double rel) { return max_abs_diff(got, want) <= rel * std::max(max_abs(want), 1e-300); }
bool bit_identical(const TD& a, const TD& b) {
  if (a.shape() != b.shape()) return false;
  for (index_t i = 0; i < a.numel(); ++i)
    if (!(a[i] == b[i])) return false;
  return true;
}

/// Σ over x's elements of tanh(x)·w: a nonlinear scalar of any value type.
template <class V>
V tanh_dot(const V& x, const TD& w) {
  return sum_all(mul(tanh(x), constant<V>(w)));
}

/// Checks the gradient of the data-parallel objective F(X) = (1/N)·Σ_r L_r(rank r's rows of X),
/// where `loss(rows)` is rank r's L_r for any value type: the rows' gradients gathered and divided
/// by N against central differences of F at `entries` of X.
template <class Loss>
void check_against_differences(Communicator& c, const TD& x, Loss loss, std::initializer_list<index_t> entries) {
  VD xr(own_rows(x, c), true);
  backward(loss(xr));
  const TD g = mul_scalar(rows_of_every_rank(c, xr.grad(), x.shape()), 1.0 / c.size());
  auto objective = [&](const TD& at) {
    const TD l = loss(own_rows(at, c));
    return sum_over_every_rank(c, l[0]) / c.size();
  };
  const double h = 1e-5;
  for (index_t e : entries) {
    TD xp = clone(x), xm = clone(x);
    xp[e] += h;
    xm[e] -= h;
    const double fd = (objective(xp) - objective(xm)) / (2 * h);
    BOOST_TEST(std::abs(fd - g[e]) <= 1e-7 * (1 + max_abs(g)), "entry " << e << ": backward " << g[e] << ", differences " << fd);
  }
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(World);

BOOST_AUTO_TEST_CASE(all_gather_rows_values_tangents_and_gradients_with_per_rank_losses) {
  Communicator& c = world();
  BOOST_TEST_MESSAGE("rank " << c.rank() << " of " << c.size() << " (" << c.engine() << ")");
  const int N = c.size();
  const index_t n = 3 * N, k0 = 4, k = 5;  // 3 rows per rank
  Rng rng(21);
  const TD z = randn<double>(Shape{n, k0}, rng), p0 = randn<double>(Shape{k0, k}, rng), tz = randn<double>(Shape{n, k}, rng);
  std::vector<TD> w;  // rank q's loss weights
  for (int q = 0; q < N; ++q) w.push_back(randn<double>(Shape{n, k}, rng));

  // One process: F = (1/N)·Σ_q Σ tanh(X)·w_q with X = tanh(Z·P).
  Parameter<double> p_ref{clone(p0)};
  VD zr(z, true);
  VD x_ref = tanh(matmul(zr, lift<VD>(p_ref)));
  VD f_ref = mul_scalar(tanh_dot(x_ref, w[0]), 1.0 / N);
  for (int q = 1; q < N; ++q) f_ref = add(f_ref, mul_scalar(tanh_dot(x_ref, w[static_cast<std::size_t>(q)]), 1.0 / N));
  backward(f_ref);

  // N ranks: rank r's loss Σ tanh(all_gather_rows(x_r))·w_r.
  Parameter<double> p{clone(p0)};
  VD zm(own_rows(z, c), true);
  VD x = tanh(matmul(zm, lift<VD>(p)));
  VD gathered = all_gather_rows(c, x);
  BOOST_TEST(close(gathered.value(), x_ref.value(), 1e-12));
  backward(tanh_dot(gathered, w[static_cast<std::size_t>(c.rank())]));
  BOOST_TEST(close(mul_scalar(all_gather_rows(c, zm.grad()), 1.0 / N), zr.grad(), 1e-10));
  BOOST_TEST(close(average_over_ranks(c, p.grad), p_ref.grad, 1e-10));

  // Tensor and tangent: the rows and the tangents in rank order, exactly.
  const TD xs = own_rows(x_ref.value(), c);
  BOOST_TEST(bit_identical(all_gather_rows(c, xs), rows_of_every_rank(c, xs, x_ref.shape())));
  const DD dual = all_gather_rows(c, DD(xs, own_rows(tz, c)));
  BOOST_TEST(bit_identical(dual.primal, rows_of_every_rank(c, xs, x_ref.shape())));
  BOOST_TEST(bit_identical(dual.tangent, tz));
  BOOST_TEST(!all_gather_rows(c, DD(xs)).has_tangent());

  // Central differences of F through the gather (on one rank: of the identity).
  check_against_differences(
      c, x_ref.value(), [&](const auto& rows) { return tanh_dot(all_gather_rows(c, rows), w[static_cast<std::size_t>(c.rank())]); },
      {0, 7, n * k - 1});
}

BOOST_AUTO_TEST_CASE(all_gather_rows_rejects_unequal_shapes_on_every_rank) {
  Communicator& c = world();
  BOOST_CHECK_THROW(all_gather_rows(c, TD()), Error);
  if (c.size() == 1) {
    BOOST_TEST_MESSAGE("one rank: unequal row counts need two ranks (run under mpirun -np 2)");
    return;
  }
  const TD x = filled<double, Cpu>(Shape{2 + c.rank(), 3}, 1.0);
  BOOST_CHECK_EXCEPTION(all_gather_rows(c, x), Error, [](const Error& e) {
    return std::string(e.what()).find("same shape") != std::string::npos;
  });
  const TD y = filled<double, Cpu>(Shape{2, 3 + c.rank()}, 1.0);  // same rows, other columns
  BOOST_CHECK_THROW(all_gather_rows(c, VD(y, true)), Error);
  // The ranks are still in step afterwards.
  BOOST_TEST(all_gather_rows(c, filled<double, Cpu>(Shape{2, 3}, 1.0)).dim(0) == 2 * c.size());
}

BOOST_AUTO_TEST_CASE(sum_over_ranks_of_per_rank_losses) {
  // Rank r: S = Σ over every rank's rows of x (column sums), L_r = Σ tanh(S ⊙ a_r)·b_r; uneven rows.
  Communicator& c = world();
  const int N = c.size();
  const index_t n = 3 * N + 1, k = 4;
  Rng rng(22);
  const TD x = randn<double>(Shape{n, k}, rng), t = randn<double>(Shape{n, k}, rng);
  std::vector<TD> a, b;
  for (int q = 0; q < N; ++q) {
    a.push_back(randn<double>(Shape{1, k}, rng));
    b.push_back(randn<double>(Shape{1, k}, rng));
  }
  const TD& ar = a[static_cast<std::size_t>(c.rank())];
  const TD& br = b[static_cast<std::size_t>(c.rank())];
  auto rank_loss = [&](const auto& rows) {
    using V = std::decay_t<decltype(rows)>;
    return tanh_dot(mul(sum_over_ranks(c, sum_to(rows, Shape{1, k}), RankLoss::Differs), constant<V>(ar)), br);
  };
  VD xr_ref(x, true);
  VD f_ref;
  for (int q = 0; q < N; ++q) {
    VD lq = mul_scalar(tanh_dot(mul(sum_to(xr_ref, Shape{1, k}), VD(a[static_cast<std::size_t>(q)])), b[static_cast<std::size_t>(q)]), 1.0 / N);
    f_ref = q == 0 ? lq : add(f_ref, lq);
  }
  backward(f_ref);
  VD xr(own_rows(x, c), true);
  VD l = rank_loss(xr);
  backward(l);
  BOOST_TEST(close(mul_scalar(xr.grad(), 1.0 / N), own_rows(xr_ref.grad(), c), 1e-10));
  check_against_differences(c, x, rank_loss, {0, 5, n * k - 1});

  // The tangent: the tangents summed over ranks.
  const DD s = sum_over_ranks(c, sum_to(DD(own_rows(x, c), own_rows(t, c)), Shape{1, k}), RankLoss::Differs);
  BOOST_TEST(close(s.primal, sum_to(x, Shape{1, k}), 1e-12));
  BOOST_TEST(close(s.tangent, sum_to(t, Shape{1, k}), 1e-12));

  // With the same loss on every rank both rules give N·g.
  VD u(own_rows(x, c), true), v(own_rows(x, c), true);
  backward(tanh_dot(sum_over_ranks(c, sum_to(u, Shape{1, k}), RankLoss::Differs), a[0]));
  backward(tanh_dot(sum_over_ranks(c, sum_to(v, Shape{1, k})), a[0]));
  BOOST_TEST(close(u.grad(), v.grad(), 1e-14));
}

BOOST_AUTO_TEST_CASE(batch_norm_over_ranks_on_one_rank_is_batch_norm) {
  // The composed path of batch_norm_train_over_ranks (what N > 1 ranks run) on a one-rank
  // communicator against the fused batch_norm_train: values, statistics, gradients, tangents.
  distributed::SingleProcess one;
  Rng rng(23);
  const TD x = rand_uniform<double>(Shape{5, 3, 2, 2}, rng, -1, 2), t = randn<double>(x.shape(), rng);
  const TD wv = rand_uniform<double>(Shape{3}, rng, 0.5, 1.5), bv = randn<double>(Shape{3}, rng), w = randn<double>(x.shape(), rng);
  NormStats<double, Cpu> st_ref, st;
  index_t count = 0;
  VD x1(x, true), w1(wv, true), b1(bv, true), x2(x, true), w2(wv, true), b2(bv, true);
  VD y1 = batch_norm_train(x1, w1, b1, 1e-5, &st_ref), y2 = batch_norm_train_over_ranks(one, x2, w2, b2, 1e-5, &st, &count);
  BOOST_TEST(count == 20);
  BOOST_TEST(close(y2.value(), y1.value(), 1e-12));
  BOOST_TEST(close(st.mean, st_ref.mean, 1e-12));
  BOOST_TEST(close(st.rstd, st_ref.rstd, 1e-12));
  backward(tanh_dot(y1, w));
  backward(tanh_dot(y2, w));
  BOOST_TEST(close(x2.grad(), x1.grad(), 1e-10));
  BOOST_TEST(close(w2.grad(), w1.grad(), 1e-10));
  BOOST_TEST(close(b2.grad(), b1.grad(), 1e-10));
  const DD d1 = batch_norm_train(DD(x, t), DD(wv), DD(bv), 1e-5);
  const DD d2 = batch_norm_train_over_ranks(one, DD(x, t), DD(wv), DD(bv), 1e-5);
  BOOST_TEST(close(d2.tangent, d1.tangent, 1e-10));
  // On N×C input too.
  const TD x2d = randn<double>(Shape{6, 4}, rng);
  BOOST_TEST(close(batch_norm_train_over_ranks(one, x2d, TD(), TD(), 1e-5), batch_norm_train(x2d, TD(), TD(), 1e-5), 1e-12));
}

BOOST_AUTO_TEST_CASE(batch_norm_without_a_communicator_or_with_one_rank_is_unchanged) {
  distributed::SingleProcess one;
  Rng rng(24);
  const TD x = rand_uniform<double>(Shape{4, 3, 2, 2}, rng, -1, 2), w = randn<double>(x.shape(), rng);
  nn::BatchNorm2d<double> plain(nn::BatchNormOptions(3)), synced(nn::BatchNormOptions(3));
  synced.set_sync(&one);
  VD xa(x, true), xb(x, true);
  backward(tanh_dot(plain(xa), w));
  backward(tanh_dot(synced(xb), w));
  BOOST_TEST(bit_identical(xa.grad(), xb.grad()));
  BOOST_TEST(bit_identical(plain.weight.grad, synced.weight.grad));
  BOOST_TEST(bit_identical(plain.running_mean, synced.running_mean));
  BOOST_TEST(bit_identical(plain.running_var, synced.running_var));
}

namespace {
/// One process's BatchNorm2d (affine parameters randomized from seed 5) on the whole batch
/// against N ranks' synchronized ones on their rows; rank r's loss (N/n)·Σ_own tanh(y)·w, so that
/// F = (1/N)·Σ_r L_r = (1/n)·Σ_all tanh(y)·w is the one-process loss.
void check_synchronized_batch_norm(Communicator& c, const Shape& shape) {
  const int N = c.size();
  const index_t n = shape[0];
  Rng rng(25 + n);
  const TD x = rand_uniform<double>(shape, rng, -1, 2), w = randn<double>(shape, rng);
  auto make = [&] {
    nn::BatchNorm2d<double> bn{nn::BatchNormOptions(shape[1])};
    Rng r(5);
    for (index_t i = 0; i < shape[1]; ++i) {
      bn.weight.value[i] = r.uniform(0.5, 1.5);
      bn.bias.value[i] = r.uniform(-0.5, 0.5);
    }
    return bn;
  };
  nn::BatchNorm2d<double> ref = make(), bn = make();
  bn.set_sync(&c);
  VD xr_ref(x, true);
  VD y_ref = ref(xr_ref);
  backward(mul_scalar(tanh_dot(y_ref, w), 1.0 / n));

  VD xr(own_rows(x, c), true);
  VD y = bn(xr);
  backward(mul_scalar(tanh_dot(y, own_rows(w, c)), static_cast<double>(N) / n));
  BOOST_TEST(close(y.value(), own_rows(y_ref.value(), c), 1e-12));
  BOOST_TEST(close(rows_of_every_rank(c, y.value(), shape), y_ref.value(), 1e-12));
  BOOST_TEST(close(mul_scalar(xr.grad(), 1.0 / N), own_rows(xr_ref.grad(), c), 1e-10));
  BOOST_TEST(close(average_over_ranks(c, bn.weight.grad), ref.weight.grad, 1e-10));
  BOOST_TEST(close(average_over_ranks(c, bn.bias.grad), ref.bias.grad, 1e-10));
  BOOST_TEST(close(bn.running_mean, ref.running_mean, 1e-12));
  BOOST_TEST(close(bn.running_var, ref.running_var, 1e-12));
  // The same running statistics on every rank, to the bit.
  TD rm = clone(bn.running_mean), rv = clone(bn.running_var);
  distributed::broadcast(c, rm, 0);
  distributed::broadcast(c, rv, 0);
  BOOST_TEST(bit_identical(rm, bn.running_mean));
  BOOST_TEST(bit_identical(rv, bn.running_var));
  // Evaluation mode uses them: the same as one process's.
  bn.train(false);
  ref.train(false);
  BOOST_TEST(close(bn(own_rows(x, c)), own_rows(ref(x), c), 1e-12));
  bn.train(true);

  // The JVP: the rows of the one-process JVP.
  const TD t = randn<double>(shape, rng);
  nn::BatchNorm2d<double> ref2 = make(), bn2 = make();
  bn2.set_sync(&c);
  const DD d_ref = ref2(DD(x, t));
  const DD d = bn2(DD(own_rows(x, c), own_rows(t, c)));
  BOOST_TEST(close(d.tangent, own_rows(d_ref.tangent, c), 1e-10));

  // Central differences of F in x.
  check_against_differences(
      c, x, [&](const auto& rows) { return mul_scalar(tanh_dot(bn(rows), own_rows(w, c)), static_cast<double>(N) / n); },
      {0, 5, x.numel() / 2 + 1, x.numel() - 1});
}
}  // namespace

BOOST_AUTO_TEST_CASE(synchronized_batch_norm_equals_one_process_on_the_whole_batch) {
  Communicator& c = world();
  BOOST_TEST_CONTEXT("even split") { check_synchronized_batch_norm(c, Shape{4 * c.size(), 3, 2, 2}); }
  BOOST_TEST_CONTEXT("uneven split") { check_synchronized_batch_norm(c, Shape{3 * c.size() + 1, 3, 3, 1}); }
  BOOST_TEST_CONTEXT("N×C input") { check_synchronized_batch_norm(c, Shape{2 * c.size() + 1, 5}); }
}

BOOST_AUTO_TEST_CASE(synchronized_conditional_batch_norm_equals_one_process) {
  // BigGAN's conditional BatchNorm (the generator's blocks), synchronized by set_batch_norm_sync.
  Communicator& c = world();
  const int N = c.size();
  const index_t n = 3 * N;
  Rng rng(26);
  const TD x = rand_uniform<double>(Shape{n, 4, 2, 2}, rng, -1, 2), y = randn<double>(Shape{n, 3}, rng);
  const TD w = randn<double>(x.shape(), rng);
  auto make = [] {
    Rng r(7);
    return nn::ConditionalBatchNorm<double>(nn::ConditionalBatchNormOptions(4, 3), r);
  };
  nn::ConditionalBatchNorm<double> ref = make(), cbn = make();
  nn::set_batch_norm_sync(cbn, &c);
  BOOST_TEST(cbn.bn.sync == &c);
  VD xr_ref(x, true), yr_ref(y, true);
  VD out_ref = ref(xr_ref, yr_ref);
  backward(mul_scalar(tanh_dot(out_ref, w), 1.0 / n));
  VD xr(own_rows(x, c), true), yr(own_rows(y, c), true);
  VD out = cbn(xr, yr);
  backward(mul_scalar(tanh_dot(out, own_rows(w, c)), static_cast<double>(N) / n));
  BOOST_TEST(close(out.value(), own_rows(out_ref.value(), c), 1e-12));
  BOOST_TEST(close(mul_scalar(xr.grad(), 1.0 / N), own_rows(xr_ref.grad(), c), 1e-10));
  BOOST_TEST(close(mul_scalar(yr.grad(), 1.0 / N), own_rows(yr_ref.grad(), c), 1e-10));
  std::vector<TD> got, want;
  nn::for_each_parameter(cbn, [&](const std::string&, auto& p) { got.push_back(average_over_ranks(c, p.grad)); });
  nn::for_each_parameter(ref, [&](const std::string&, auto& p) { want.push_back(p.grad); });
  BOOST_REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) BOOST_TEST(close(got[i], want[i], 1e-10));
  BOOST_TEST(close(cbn.bn.running_mean, ref.bn.running_mean, 1e-12));
  BOOST_TEST(close(cbn.bn.running_var, ref.bn.running_var, 1e-12));
  nn::set_batch_norm_sync(cbn, nullptr);
  BOOST_TEST(cbn.bn.sync == nullptr);
}
