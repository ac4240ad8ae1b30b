#pragma once
/// \file The sum over the ranks of a communicator (distributed/) as an op with its three rules,
/// so a value computed from every rank's data (the Gaussian objectives' global statistics,
/// docs/distributed.md) takes part in autodiff.
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
#include "structgan/distributed/communicator.hpp"
#include "structgan/ops/elementwise.hpp"

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

}  // namespace structgan
