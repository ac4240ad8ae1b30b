#pragma once
/// \file Collectives over the ranks of a communicator (distributed/) as ops with their three
/// rules, so values computed from every rank's data take part in autodiff (docs/distributed.md,
/// "Collective ops"):
/// - `sum_over_ranks(comm, x)`: every rank computes the same loss from the sum (the Gaussian
///   objectives' global statistics); reverse rule N·g, no collective in the backward pass;
/// - `sum_over_ranks(comm, x, RankLoss::Differs)`: each rank's loss is its own; reverse rule the
///   upstream gradient all-reduced;
/// - `all_gather_rows(comm, x)`: every rank's rows in rank order; reverse rule the upstream
///   gradient all-reduced, then this rank's rows;
/// - `batch_norm_train_over_ranks(comm, x, …)`: BatchNorm with the statistics of every rank's
///   rows (nn::BatchNorm2d's synchronized mode).
///
/// The gradient convention (docs/distributed.md, "Global Gaussian statistics"): data-parallel
/// training minimizes the average of the ranks' losses, F = (1/N)·Σ_r L_r, each rank
/// back-propagating its own L_r and the trainer averaging the parameter gradients over the N
/// ranks. For y = Σ_r x_r, ∂F/∂x_r = (1/N)·Σ_q ∂L_q/∂y: the adjoint of a sum over ranks is a sum
/// over ranks. The reverse rule returns Σ_q ∂L_q/∂y to x_r, and since every rank computes the same
/// loss from the same y (the replicated-loss condition below), that is N·∂L_r/∂y, with no
/// collective in the backward pass. After the trainer's averaging, the parameters receive exactly
/// the gradient one process computes from the whole batch. With one rank the op is the identity.
///
/// Every rank must call it in the same order with the same shape (a collective), and what is
/// computed from y must be the same function on every rank; for DualTensor a tangent on every
/// rank or on none.
///
/// \code
///   Var<double> y = sum_over_ranks(comm, local_sums);   // every rank: the sum of all ranks' values
/// \endcode
#include <algorithm>
#include <cstdint>
#include <vector>

#include "structgan/distributed/communicator.hpp"
#include "structgan/ops/elementwise.hpp"
#include "structgan/ops/norm.hpp"
#include "structgan/ops/shape_ops.hpp"

namespace structgan {

/// Σ over the ranks of x (same shape on every rank); x itself when there is one rank.
template <class T, class D>
Tensor<T, D> sum_over_ranks(distributed::Communicator& comm, const Tensor<T, D>& x) {
  require(x.defined(), "sum_over_ranks: undefined tensor");
  if (comm.size() == 1) return x;
  Tensor<T, D> y = clone(x);
  distributed::all_reduce_sum(comm, y);
  return y;
}
/// Reverse rule: N·g (the adjoint Σ_q g_q of the sum over ranks, each rank's g being the same).
template <class T, class D>
Var<T, D> sum_over_ranks(distributed::Communicator& comm, const Var<T, D>& x) {
  const int ranks = comm.size();
  return Var<T, D>::op(sum_over_ranks(comm, x.value()), {&x}, [ranks](auto& n) {
    send_grad(n, 0, ranks == 1 ? n.grad : mul_scalar(n.grad, T(ranks)));
  });
}
/// Tangent rule: the tangents summed over ranks (the op is linear).
template <class V>
DualTensor<V> sum_over_ranks(distributed::Communicator& comm, const DualTensor<V>& x) {
  V y = primal_value([&] { return sum_over_ranks(comm, x.primal); });
  return {y, x.has_tangent() ? sum_over_ranks(comm, x.tangent) : V()};
}

// ---- the sum over ranks of losses that differ per rank -------------------------------------------

/// Which loss the ranks compute from a sum over ranks, which decides its reverse rule (both are
/// the adjoint Σ_q ∂L_q/∂y of y = Σ_r x_r under the averaging convention above):
/// - `Same`: every rank computes the same loss from y (replicated statistics: the Gaussian
///   objectives' global moments). Σ_q ∂L_q/∂y = N·∂L_r/∂y, so the reverse rule is N·g and
///   communicates nothing.
/// - `Differs`: each rank's loss is its own (it also depends on the rank's own rows, e.g. the
///   output rows of a synchronized BatchNorm). The reverse rule all-reduces the upstream gradient
///   (one collective in the backward pass), so every rank's backward must reach the op: the
///   ranks' graphs have the same shape and each rank's loss depends on y.
/// `Differs` is also correct when the losses are the same (then it returns N·g at the cost of a
/// collective); `Same` with losses that differ gives wrong gradients.
enum class RankLoss { Same, Differs };

/// Σ over the ranks of x, with the reverse rule chosen by `loss` (see RankLoss).
template <class T, class D>
Tensor<T, D> sum_over_ranks(distributed::Communicator& comm, const Tensor<T, D>& x, RankLoss) {
  return sum_over_ranks(comm, x);
}
template <class T, class D>
Var<T, D> sum_over_ranks(distributed::Communicator& comm, const Var<T, D>& x, RankLoss loss) {
  if (loss == RankLoss::Same) return sum_over_ranks(comm, x);
  distributed::Communicator* c = &comm;  // must outlive the graph (the backward pass uses it)
  return Var<T, D>::op(sum_over_ranks(comm, x.value()), {&x}, [c](auto& n) {
    if (c->size() == 1) return send_grad(n, 0, n.grad);
    Tensor<T, D> g = clone(n.grad);
    distributed::all_reduce_sum(*c, g);  // Σ_q ∂L_q/∂y
    send_grad(n, 0, g);
  });
}
/// Tangent rule: the tangents summed over ranks; a tangent that is itself a Var keeps `loss`.
template <class V>
DualTensor<V> sum_over_ranks(distributed::Communicator& comm, const DualTensor<V>& x, RankLoss loss) {
  V y = primal_value([&] { return sum_over_ranks(comm, x.primal, loss); });
  return {y, x.has_tangent() ? sum_over_ranks(comm, x.tangent, loss) : V()};
}

// ---- all-gather of rows ------------------------------------------------------------------------

namespace detail {
/// Every rank's shape of x, gathered (one small collective), so that unequal shapes are an error
/// on every rank instead of an engine's undefined behaviour.
template <class T, class D>
void require_same_shape_on_every_rank(distributed::Communicator& comm, const Tensor<T, D>& x, const char* op) {
  constexpr int width = 1 + Shape::max_rank;
  std::vector<std::int64_t> mine(width, 0), all(static_cast<std::size_t>(width * comm.size()), 0);
  mine[0] = x.shape().rank();
  for (int i = 0; i < x.shape().rank(); ++i) mine[static_cast<std::size_t>(1 + i)] = x.shape()[i];
  comm.all_gather(mine.data(), all.data(), width, distributed::ScalarType::Int64, distributed::Memory::Host);
  for (int r = 0; r < comm.size(); ++r) {
    const bool same = std::equal(mine.begin(), mine.end(), all.begin() + static_cast<std::ptrdiff_t>(r) * width);
    if (same) continue;
    std::vector<index_t> dims(all.begin() + static_cast<std::ptrdiff_t>(r) * width + 1,
                              all.begin() + static_cast<std::ptrdiff_t>(r) * width + 1 + all[static_cast<std::size_t>(r * width)]);
    fail(op, ": every rank must hold the same shape (equal row counts), but rank ", r, " has ",
         Shape::from_range(dims.begin(), dims.end()), " and rank ", comm.rank(), " has ", x.shape());
  }
}
}  // namespace detail

/// Every rank's rows of x (n × … on every rank, the same shape on every rank) stacked in rank
/// order: (N·n) × …, the same on every rank. Unequal shapes throw on every rank.
template <class T, class D>
Tensor<T, D> all_gather_rows(distributed::Communicator& comm, const Tensor<T, D>& x) {
  require(x.defined() && x.shape().rank() >= 1, "all_gather_rows: needs a tensor of rank ≥ 1, got ",
          x.defined() ? x.shape() : Shape{});
  if (comm.size() == 1) return x;
  detail::require_same_shape_on_every_rank(comm, x, "all_gather_rows");
  return distributed::all_gather(comm, x);
}
/// Reverse rule: each rank's loss is its own (it reads every rank's rows), so rank r receives
/// Σ_q ∂L_q/∂y for its own rows: the upstream gradient all-reduced, then rank r's block. Under
/// the averaging convention this is N·∂F/∂x_r, like RankLoss::Differs. One collective in the
/// backward pass, which every rank's backward must reach.
template <class T, class D>
Var<T, D> all_gather_rows(distributed::Communicator& comm, const Var<T, D>& x) {
  distributed::Communicator* c = &comm;  // must outlive the graph
  const index_t rows = x.shape().rank() >= 1 ? x.shape()[0] : 0;
  return Var<T, D>::op(all_gather_rows(comm, x.value()), {&x}, [c, rows](auto& n) {
    if (c->size() == 1) return send_grad(n, 0, n.grad);
    Tensor<T, D> g = clone(n.grad);
    distributed::all_reduce_sum(*c, g);
    send_grad(n, 0, slice(g, 0, c->rank() * rows, rows));
  });
}
/// Tangent rule: the tangents gathered (the op is linear). A tangent on every rank or on none.
template <class V>
DualTensor<V> all_gather_rows(distributed::Communicator& comm, const DualTensor<V>& x) {
  V y = primal_value([&] { return all_gather_rows(comm, x.primal); });
  return {y, x.has_tangent() ? all_gather_rows(comm, x.tangent) : V()};
}

// ---- BatchNorm over the rows of every rank -----------------------------------------------------

/// BatchNorm in training mode with the statistics of every rank's rows (synchronized BatchNorm):
/// the same values, input gradients (× N, the convention above) and statistics as
/// batch_norm_train on the rows of all ranks concatenated. x: n_r × C[×H×W] (n_r may differ
/// between ranks, C and H×W may not); weight and bias [C] or undefined. Three collectives in the
/// forward pass (the global count, Σx, then Σ(x − mean)² about the global mean, the centred form
/// that keeps float's digits), two in the backward pass (RankLoss::Differs). `stats` receives the
/// global mean and rstd, `global_count` the values per channel over all ranks (for the running
/// variance's unbiasing). On one rank it computes what batch_norm_train does, by composed ops.
template <class V, class T = typename ValueTraits<V>::scalar, class D = typename ValueTraits<V>::device>
V batch_norm_train_over_ranks(distributed::Communicator& comm, const V& x, const V& weight, const V& bias, T eps,
                              NormStats<T, D>* stats = nullptr, index_t* global_count = nullptr) {
  const StandardizeLayout layout = detail::batch_layout(x.shape());
  const Shape cs = detail::channel_shape(x.shape());
  std::vector<std::int64_t> count{static_cast<std::int64_t>(layout.p * layout.l)};
  distributed::all_reduce_sum(comm, count);
  require(count[0] > 0, "batch_norm_train_over_ranks: no values on any rank for input ", x.shape());
  const T inv_count = T(1) / static_cast<T>(count[0]);
  const V mean = mul_scalar(sum_over_ranks(comm, sum_to(x, cs), RankLoss::Differs), inv_count);
  const V centred = sub(x, mean);
  const V var = mul_scalar(sum_over_ranks(comm, sum_to(square(centred), cs), RankLoss::Differs), inv_count);
  const V rstd = reciprocal(sqrt(add_scalar(var, eps)));
  V y = mul(centred, rstd);
  if (stats) *stats = {clone(value_of(mean)).reshape(Shape{x.shape()[1]}), clone(value_of(rstd)).reshape(Shape{x.shape()[1]})};
  if (global_count) *global_count = static_cast<index_t>(count[0]);
  if (weight.defined()) y = mul(y, reshape(weight, cs));
  if (bias.defined()) y = add(y, reshape(bias, cs));
  return y;
}

}  // namespace structgan
