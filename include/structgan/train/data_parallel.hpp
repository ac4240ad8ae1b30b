#pragma once
/// \file What the trainer needs to take one step on N processes as one process takes it
/// (docs/distributed.md, "Training on N processes"):
///  - `GradientBuckets`: an optimizer's gradients packed into a few flat buffers (≤ 25 MB each),
///    one all-reduce per buffer, then divided by N (the project's convention: parameter gradients
///    are averaged over ranks, each rank's loss terms being means over its own rows);
///  - `broadcast_module` / `broadcast_optimizer` / `broadcast_bank`: rank 0's state on every rank
///    (at start and at resume);
///  - `require_same_config`: the serialized configuration compared key by key with rank 0's;
///  - `rank_rows`: rank r's rows [r·b/N, (r+1)·b/N) of the global batch;
///  - `average_terms`: logged scalars averaged over ranks.
/// With a communicator of one rank every function is the identity (no copies, no calls).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "structgan/distributed/communicator.hpp"
#include "structgan/nn/all.hpp"
#include "structgan/objectives/structural_objective.hpp"
#include "structgan/train/config.hpp"
#include "structgan/train/data_source.hpp"

namespace structgan::train {

/// The largest bucket of GradientBuckets, in bytes (PyTorch DDP's default bucket_cap_mb = 25).
constexpr std::size_t default_bucket_bytes = std::size_t(25) << 20;

namespace detail {
/// x ← x / n element by element (a backend `map` functor).
template <class T>
struct DivideBy {
  T n;
  STRUCTGAN_HOST_DEVICE void operator()(T& x) const { x = x / n; }
};
}  // namespace detail

/// The gradients of one optimizer's parameters in flat buckets: tensors in parameter order, a new
/// bucket started when the next tensor would take the current one past `bucket_bytes` (a tensor
/// larger than that has a bucket of its own). `average(comm)` makes every gradient the mean over
/// the ranks with one all-reduce per bucket instead of one per tensor.
template <class T, class Dev>
class GradientBuckets {
 public:
  GradientBuckets() = default;
  template <class Opt>
  explicit GradientBuckets(Opt& opt, std::size_t bucket_bytes = default_bucket_bytes) {
    const std::size_t cap = std::max<std::size_t>(1, bucket_bytes / sizeof(T));
    std::size_t filled = 0;
    for (auto& g : opt.groups())
      for (auto& s : g.slots) {
        const auto n = static_cast<std::size_t>(s.grad.numel());
        if (buckets_.empty() || (filled > 0 && filled + n > cap)) {
          buckets_.emplace_back();
          filled = 0;
        }
        buckets_.back().grads.push_back(s.grad);  // a handle sharing the parameter's gradient storage
        buckets_.back().elements += static_cast<index_t>(n);
        filled += n;
      }
  }

  std::size_t buckets() const { return buckets_.size(); }
  /// The bytes one rank sends per average() (the payload of its all-reduces).
  std::size_t bytes() const {
    std::size_t s = 0;
    for (const auto& b : buckets_) s += static_cast<std::size_t>(b.elements) * sizeof(T);
    return s;
  }

  /// Every gradient becomes its mean over comm's ranks (nothing happens on one rank).
  void average(distributed::Communicator& comm) {
    if (comm.size() == 1) return;
    for (auto& b : buckets_) {
      if (b.elements == 0) continue;
      if (!b.flat.defined()) b.flat = Tensor<T, Dev>(Shape{b.elements});
      index_t at = 0;
      for (const auto& g : b.grads) {
        copy(Dev{}, g.numel(), g.data(), b.flat.data() + at);
        at += g.numel();
      }
      distributed::all_reduce_sum(comm, b.flat);
      map(Dev{}, b.elements, detail::DivideBy<T>{static_cast<T>(comm.size())}, b.flat.data());
      at = 0;
      for (auto& g : b.grads) {
        copy(Dev{}, g.numel(), b.flat.data() + at, g.data());
        at += g.numel();
      }
    }
  }

 private:
  struct Bucket {
    std::vector<Tensor<T, Dev>> grads;
    index_t elements = 0;
    Tensor<T, Dev> flat;
  };
  std::vector<Bucket> buckets_;
};

/// Every parameter and buffer of module m becomes rank 0's.
template <class M>
void broadcast_module(distributed::Communicator& comm, M& m) {
  if (comm.size() == 1) return;
  nn::for_each_parameter(m, [&](const std::string&, auto& p) { distributed::broadcast(comm, p.value, 0); });
  nn::for_each_buffer(m, [&](const std::string&, auto& b) { distributed::broadcast(comm, b, 0); });
}

namespace detail {
/// Broadcasts an optimizer's moments and step counts from rank 0 (an Adam::visit_state visitor).
struct BroadcastFromRoot {
  distributed::Communicator& comm;
  template <class Tn>
  void buffer(const std::string&, Tn& t) { distributed::broadcast(comm, t, 0); }
  void counter(const std::string&, std::int64_t& n) {
    comm.broadcast(&n, 1, distributed::ScalarType::Int64, 0, distributed::Memory::Host);
  }
};
}  // namespace detail

/// Every moment and step count of an Adam/AdamW optimizer becomes rank 0's.
template <class Opt>
void broadcast_optimizer(distributed::Communicator& comm, Opt& opt) {
  if (comm.size() == 1) return;
  opt.visit_state(detail::BroadcastFromRoot{comm}, "");
}

/// The memory bank's keys, values and pointer become rank 0's.
template <class T, class Dev>
void broadcast_bank(distributed::Communicator& comm, objectives::MemoryBank<T, Dev>& bank) {
  if (comm.size() == 1) return;
  objectives::MemoryBankState<T, Dev> s = bank.state();
  distributed::broadcast(comm, s.keys, 0);
  distributed::broadcast(comm, s.values, 0);
  std::int64_t pointer = s.pointer;
  comm.broadcast(&pointer, 1, distributed::ScalarType::Int64, 0, distributed::Memory::Host);
  s.pointer = static_cast<index_t>(pointer);
  bank.load_state(s);
}

/// Throws structgan::Error on every rank when any rank's configuration differs from rank 0's,
/// naming the first such rank and each differing key with both values.
inline void require_same_config(distributed::Communicator& comm, const TrainConfig& c) {
  if (comm.size() == 1) return;
  const nlohmann::json mine = to_json(c);
  std::string root_text = mine.dump();
  distributed::broadcast(comm, root_text, 0);
  const nlohmann::json root = nlohmann::json::parse(root_text, nullptr, false);
  std::string diff;
  for (const auto& [key, value] : mine.items())
    if (!root.contains(key) || root[key] != value)
      diff += (diff.empty() ? "" : ", ") + std::string("'") + key + "' = " + value.dump() + " (rank 0: " +
              (root.contains(key) ? root[key].dump() : std::string("absent")) + ")";
  for (const auto& [key, value] : root.items())
    if (!mine.contains(key)) diff += (diff.empty() ? "" : ", ") + std::string("'") + key + "' absent (rank 0: " + value.dump() + ")";
  std::vector<std::int64_t> differs(static_cast<std::size_t>(comm.size()), 0);
  differs[static_cast<std::size_t>(comm.rank())] = diff.empty() ? 0 : 1;
  distributed::all_reduce_sum(comm, differs);
  for (int r = 0; r < comm.size(); ++r) {
    if (differs[static_cast<std::size_t>(r)] == 0) continue;
    std::string text = diff;
    distributed::broadcast(comm, text, r);
    fail("the training configuration differs between ranks: rank ", r, "'s ", text,
         "; every rank must be started with the same configuration");
  }
}

/// The global batch must split evenly over the ranks (every rank's loss terms are means over the
/// same number of rows, so that the average of the ranks' gradients is one process's gradient).
inline void require_divisible_batch(const TrainConfig& c, int ranks) {
  require(ranks >= 1 && c.batch_size % ranks == 0, "batch_size ", c.batch_size, " (the global batch) is not divisible by the ",
          ranks, " processes: each must take batch_size / N rows; choose a multiple of ", ranks);
}

/// Rank `rank`'s rows [rank·b/N, (rank+1)·b/N) of the global batch b (in place; labels too).
inline void rank_rows(HostBatch& b, int rank, int ranks) {
  if (ranks == 1) return;
  const index_t n = b.shape[0];
  require(n % ranks == 0, "rank_rows: a batch of ", n, " rows does not split over ", ranks, " ranks");
  const index_t rows = n / ranks, begin = rank * rows;
  const std::size_t per_row = b.x.size() / static_cast<std::size_t>(n);
  b.x.erase(b.x.begin() + static_cast<std::ptrdiff_t>((begin + rows) * per_row), b.x.end());
  b.x.erase(b.x.begin(), b.x.begin() + static_cast<std::ptrdiff_t>(begin * per_row));
  if (!b.labels.empty()) {
    b.labels.erase(b.labels.begin() + static_cast<std::ptrdiff_t>(begin + rows), b.labels.end());
    b.labels.erase(b.labels.begin(), b.labels.begin() + static_cast<std::ptrdiff_t>(begin));
  }
  b.shape[0] = rows;
}

/// Rows [rank·n/N, (rank+1)·n/N) of a tensor of n rows (a copy; the tensor itself on one rank).
template <class T, class Dev>
Tensor<T, Dev> rank_rows(const Tensor<T, Dev>& x, int rank, int ranks) {
  if (ranks == 1) return x;
  const index_t rows = x.dim(0) / ranks;
  return clone(slice(x, 0, rank * rows, rows));
}

/// Each term becomes its mean over the ranks (one all-reduce of the ten scalars). Every term is a
/// mean over the rank's rows (or, for the global distance, equal on every rank), so the mean over
/// ranks is the global batch's term. A NaN on one rank makes it NaN on all, so that every rank
/// stops together.
inline void average_terms(distributed::Communicator& comm, objectives::LossTerms& t) {
  if (comm.size() == 1) return;
  std::vector<double*> fields{&t.total, &t.distance, &t.s_real, &t.s_fake, &t.jacobian, &t.sigma_mean, &t.hinge,
                              &t.embed_norm, &t.probe, &t.probe_accuracy};
  std::vector<double> v;
  for (double* f : fields) v.push_back(*f);
  distributed::all_reduce_sum(comm, v);
  for (std::size_t i = 0; i < fields.size(); ++i) *fields[i] = v[i] / comm.size();
}

}  // namespace structgan::train
