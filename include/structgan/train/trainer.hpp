#pragma once
/// \file The training step of SPEC §5 and the state a run needs to continue exactly.
///
/// Each iteration:
///  1. the next real batch x (and its labels, for the linear probe);
///  2. D step: x_fake = G(z₁) without gradient; keys normalize(f^b) of x and x_fake from the EMA
///     discriminator without gradient; D's loss −d + λ_c(−s_real + s_fake) + λ_s·jac + λ_h·hinge +
///     probe CE (objectives::StructuralObjective); one AdamW step (lr 2e-4, betas (0.5, 0.999),
///     weight decay 0.1);
///  3. G step: its own forward pass, x_g = G(z₂) recorded; keys of x_g from the EMA D; G's loss
///     +d + λ_c(−s_fake) through the (just updated) D with D's parameters frozen; one Adam step;
///  4. EMA (momentum 0.99) of D's and G's parameters (buffers copied);
///  5. the real batch's (keys, f) enqueued into the memory bank.
///
/// Rollback (config rollback_every > 0): every rollback_every iterations the learned state (the
/// networks, their EMA copies, the optimizers' moments and steps, the bank) is copied on the device.
/// When D's Gaussian distance, having once exceeded rollback_arm_distance, stays below
/// rollback_distance for rollback_patience read steps in a row — the collapse in which D's
/// embeddings align and the distance stays near 0, which a run does not leave — the state goes back
/// to the newest snapshot taken at least rollback_patience iterations before those steps began.
/// The Rng and the data position are not rolled back, so the repeated iterations see new batches
/// and latents (the remedy PaLM applied to loss spikes: restart from before the spike, skipping the
/// data in between). A run that never collapses is the same, bit for bit, with rollback on or off.
///
/// Take-off (config lambda_cluster_after_takeoff > 0): the clustering weight λ_c is
/// objective.lambda_cluster until a read step's D distance exceeds takeoff_distance, and
/// lambda_cluster_after_takeoff from the next step on. Early in training D's distance is small; a
/// large λ_c then can hold it near 0, where the run stays, while after take-off it does not.
/// Whether the run has taken off is part of the checkpoint and of the rollback snapshots.
///
/// Templated over the scalar T, the device Dev (Cpu, or Cuda in a .cu file) and the networks
/// (nn::ResNet18Discriminator / nn::BigGANDeepGenerator, or the MLPs of the double spiral).
///
/// \code
///   train::TrainConfig c = train::preset("double_spiral");
///   auto t = train::make_spiral_trainer<float>(c, train::make_train_data(c));
///   for (int i = 0; i < 100; ++i) train::StepReport r = t.step();   // r.d.total, r.g.total, ...
///   t.save("run/checkpoint.ckpt");
/// \endcode
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "structgan/nn/all.hpp"
#include "structgan/objectives/structural_objective.hpp"
#include "structgan/train/config.hpp"
#include "structgan/train/data_parallel.hpp"
#include "structgan/train/data_source.hpp"
#include "structgan/train/models.hpp"
#include "structgan/io/checkpoint.hpp"

namespace structgan::train {

/// A loss (or gradient) that is NaN or Inf stopped training. The message names the iteration and
/// the term; the parameters are those before the failing update.
class NonFiniteError : public Error {
 public:
  explicit NonFiniteError(const std::string& what) : Error(what) {}
};

/// What one iteration measured (every loss term of both steps, gradient norms, timing).
struct StepReport {
  std::int64_t iteration = 0;  ///< the iteration just completed (1-based)
  std::uint64_t epoch = 0;     ///< the real batch's epoch
  objectives::LossTerms d, g;  ///< D's and G's terms (G's: total, distance, s_fake)
  double grad_norm_d = 0, grad_norm_g = 0;  ///< ‖∇‖₂ over all parameters, before the update
  double lr_d = 0, lr_g = 0;   ///< the rates of this step (lr_schedule)
  double lambda_cluster = 0;   ///< λ_c of this step (see the file comment, "Take-off")
  double seconds = 0;          ///< wall time of the iteration
  /// Whether the scalars above were read from the device. A step that does not read them (on a
  /// device whose memory is not the host's, Trainer::step(false)) leaves them NaN.
  bool read = true;
  /// rollback_every > 0: whether this step completed a collapse (rollback_patience collapsed steps
  /// in a row), and, when a snapshot was there to go back to (and fewer than rollback_max
  /// rollbacks had been made), the iteration the state went back to (else −1).
  bool collapse_detected = false;
  std::int64_t rolled_back_to = -1;
};

namespace detail {

/// ‖g‖₂² over every gradient of an optimizer's parameters, as one value on the device: one
/// multi-tensor reduction (the backend's sum_of_squares, in double, in a fixed order) over all
/// of them, so reading the norm is one transfer (not one per tensor: on a GPU each read is a
/// synchronizing round trip) or none at a step that is not read (issue #24).
template <class Opt>
auto gradient_square_norm(const Opt& opt) {
  using Tn = std::decay_t<decltype(opt.groups().front().slots.front().grad)>;
  using T = typename Tn::value_type;
  using D = typename Tn::device_type;
  std::vector<const T*> grads;
  std::vector<index_t> sizes;
  for (const auto& g : opt.groups())
    for (const auto& slot : g.slots) {
      grads.push_back(slot.grad.data());
      sizes.push_back(slot.grad.numel());
    }
  Tn total(Shape{1});
  sum_of_squares(D{}, static_cast<index_t>(grads.size()), grads.data(), sizes.data(), total.data());
  return total;
}

/// g ← g·(*factor) element by element, the factor read on the device (a backend `map` functor).
template <class T>
struct ScaleByDeviceValue {
  const T* factor;
  STRUCTGAN_HOST_DEVICE void operator()(T& g) const { g = g * *factor; }
};

/// Scales every gradient of an optimizer by min(1, max_norm/‖g‖₂), ‖g‖₂² being `square_norm` (on
/// the device, from gradient_square_norm): PyTorch's clip_grad_norm_ without its 1e-6, so that a
/// gradient within the bound keeps every bit (the factor is then max_norm/max_norm = 1). The
/// factor is formed and applied on the device, with no host read.
template <class Opt, class Tn>
void clip_gradient_norm(Opt& opt, const Tn& square_norm, double max_norm) {
  using T = typename Tn::value_type;
  using D = typename Tn::device_type;
  const Tn factor = div(filled<T, D>(Shape{1}, static_cast<T>(max_norm)), clamp_min(sqrt(square_norm), max_norm));
  for (auto& g : opt.groups())
    for (auto& slot : g.slots) map(D{}, slot.grad.numel(), ScaleByDeviceValue<T>{factor.data()}, slot.grad.data());
}

/// A host batch as a tensor of T on Dev.
template <class T, class Dev>
Tensor<T, Dev> to_tensor(const HostBatch& b) {
  Tensor<T, Cpu> h(b.shape);
  require(static_cast<index_t>(b.x.size()) == h.numel(), "Trainer: batch of ", b.x.size(), " values for shape ", b.shape);
  if constexpr (std::is_same_v<T, float>) std::memcpy(h.data(), b.x.data(), b.x.size() * sizeof(float));
  else
    for (std::size_t i = 0; i < b.x.size(); ++i) h[static_cast<index_t>(i)] = static_cast<T>(b.x[i]);
  return to_device<Dev>(h);
}

template <class T, class D>
bool all_finite(const Tensor<T, D>& t) {
  return !t.defined() || to_host(t).array().allFinite();
}

/// Whether every parameter and buffer of module m is finite.
template <class M>
bool module_finite(M& m) {
  bool ok = true;
  nn::for_each_parameter(m, [&](const std::string&, auto& p) { ok = ok && all_finite(p.value); });
  nn::for_each_buffer(m, [&](const std::string&, auto& b) { ok = ok && all_finite(b); });
  return ok;
}

inline bool finite_terms(const objectives::LossTerms& t) {
  for (const auto& [name, v] : t.named())
    if (!std::isfinite(v)) return false;
  return true;
}

inline std::string first_non_finite(const objectives::LossTerms& t) {
  for (const auto& [name, v] : t.named())
    if (!std::isfinite(v)) return name + " = " + std::to_string(v);
  return "";
}

}  // namespace detail

/// The networks, their EMA copies, optimizers, memory bank, RNG and data position of a run.
template <class T, class Dev, class DNet, class GNet>
class Trainer {
 public:
  using Tn = Tensor<T, Dev>;
  using VT = Var<T, Dev>;

  /// A trainer over networks d and g (fresh, built from rng's first draws) whose remaining draws
  /// (the memory bank, then every latent and power-iteration vector) come from `rng`.
  ///
  /// `comm`: the processes training together (not owned; null: this process alone). With N > 1
  /// ranks (docs/distributed.md, "Training on N processes"): config.batch_size is the global batch
  /// and must be divisible by N; every rank's configuration must equal rank 0's (else
  /// structgan::Error naming the keys, on every rank); the state is broadcast from rank 0; each
  /// step every rank reads the same global batch and keeps its rows [r·b/N, (r+1)·b/N), draws the
  /// global batch's latents and power-iteration vectors from the shared Rng and keeps its rows
  /// (so N ranks draw what one process draws), averages gradients over the ranks (flat buckets),
  /// and enqueues the whole batch's keys and values into the bank in rank order.
  Trainer(const TrainConfig& config, DNet d, GNet g, std::unique_ptr<RealData> data, Rng rng,
          distributed::Communicator* comm = nullptr)
      : config_(config),
        own_comm_(comm ? nullptr : std::make_unique<distributed::SingleProcess>()),
        comm_(comm ? comm : own_comm_.get()),
        d_(std::move(d)),
        g_(std::move(g)),
        d_ema_(d_, config.ema_momentum),
        g_ema_(g_, config.ema_momentum),
        objective_(config.objective, comm_->size() > 1 ? comm_ : nullptr),
        data_(std::move(data)),
        rng_(std::move(rng)) {
    validate(config_);
    require(data_ != nullptr, "Trainer: no data");
    nn::AdamOptions od{config.lr_d, config.beta1, config.beta2, config.adam_eps, config.weight_decay_d};
    nn::AdamOptions og{config.lr_g, config.beta1, config.beta2, config.adam_eps, 0.0};
    opt_d_ = nn::AdamW<T, Dev>(nn::named_parameters(d_), od);
    opt_g_ = nn::Adam<T, Dev>(nn::named_parameters(g_), og, false);
    bank_ = objective_.make_bank(d_.probe.in_features(), config.embed_dim, rng_);
    require_divisible_batch(config_, comm_->size());
    require_same_config(*comm_, config_);
    // With global statistics G's BatchNorm standardizes with the whole batch (synchronized), as
    // one process does; the EMA copy stays local (only rank 0 samples from it).
    if (comm_->size() > 1 && config_.objective.distance.stats == objectives::GaussianStats::Global)
      nn::set_batch_norm_sync(g_, comm_);
    if (comm_->size() > 1) data_serves_rank_rows_ = data_->select_rows(comm_->rank(), comm_->size());
    broadcast_state();
    buckets_d_ = GradientBuckets<T, Dev>(opt_d_);
    buckets_g_ = GradientBuckets<T, Dev>(opt_g_);
  }
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  const TrainConfig& config() const { return config_; }
  std::int64_t iteration() const { return iteration_; }
  DNet& discriminator() { return d_; }
  GNet& generator() { return g_; }
  DNet& ema_discriminator() { return d_ema_.model(); }
  GNet& ema_generator() { return g_ema_.model(); }
  RealData& data() { return *data_; }
  const objectives::MemoryBank<T, Dev>& bank() const { return bank_; }
  const objectives::StructuralObjective<T, Dev>& objective() const { return objective_; }
  /// The processes training together (a SingleProcess of its own when none was given).
  distributed::Communicator& communicator() { return *comm_; }
  nn::AdamW<T, Dev>& optimizer_d() { return opt_d_; }
  nn::Adam<T, Dev>& optimizer_g() { return opt_g_; }
  /// The bytes of D's and G's gradients one rank all-reduces per step (0 work on one rank).
  std::size_t gradient_bytes() const { return buckets_d_.bytes() + buckets_g_.bytes(); }
  /// The rates the last step used (the configured ones before the first step).
  double lr_d() const { return opt_d_.groups().empty() ? config_.lr_d : opt_d_.groups().front().options.lr; }
  double lr_g() const { return opt_g_.groups().empty() ? config_.lr_g : opt_g_.groups().front().options.lr; }

  /// One iteration of SPEC §5 (see the file comment).
  ///
  /// On a device whose memory is the host's (the CPU), every check and logged scalar is read as it
  /// is computed: a loss term or gradient norm that is NaN or Inf throws NonFiniteError before the
  /// update of the step concerned. On other devices (CUDA, Ref) a read is a synchronizing round
  /// trip, so nothing is read between log steps (issue #24): the checks are queued on the device
  /// (backend/device_readout.hpp); step(true) reads them with the report's scalars in one transfer
  /// at its end, step(false) reads nothing and returns a report whose scalars are NaN (read =
  /// false). A failed check then throws NonFiniteError naming the first check that failed and its
  /// iteration; the networks hold the updates made since the last read (save() reads the queued
  /// checks first, so no checkpoint holds them: continue from the last one).
  StepReport step(bool read_report = true) {
    if (!failure_.empty()) throw NonFiniteError(failure_);
    try {
      return run_step(read_report);
    } catch (const Error&) {
      // The checks queued before the error (this step's, and those of steps not read) may name
      // its cause: read them (a transfer on the error path only).
      if (!Dev::host_memory && !pending_.empty()) {
        std::optional<std::string> failed;
        try {
          failed = pending_.read();
        } catch (const Error&) {
        }
        if (failed) throw NonFiniteError(failure_ = failure_message(*failed));
      }
      throw;
    }
  }

  /// Reads the checks queued by steps that did not read (devices whose memory is not the host's);
  /// throws NonFiniteError naming the first that failed, after which the trainer refuses to step
  /// or save (its networks hold non-finite updates). save() calls it first.
  void read_pending() {
    if (!failure_.empty()) throw NonFiniteError(failure_);
    if (const auto failed = pending_.read()) throw NonFiniteError(failure_ = failure_message(*failed));
  }

 private:
  StepReport run_step(bool read_report) {
    const auto t0 = std::chrono::steady_clock::now();
    const bool defer = !Dev::host_memory, read = !defer || read_report;
    std::optional<DeferredReads<T, Dev>> deferred;
    if (defer) deferred.emplace(pending_);
    StepReport& r = report_;  // a member: the deferred readout writes into it
    r = StepReport{};
    r.iteration = iteration_ + 1;
    if (config_.rollback_every > 0 && iteration_ % config_.rollback_every == 0 &&
        (snapshots_.empty() || snapshots_.back().iteration != iteration_))
      take_snapshot();
    pending_.set_context("iteration " + std::to_string(r.iteration) + ": ");
    const int rank = comm_->rank(), ranks = comm_->size();
    data_->next(batch_);  // this rank's rows of the global batch (or the whole batch, cut here)
    const index_t global_b = data_serves_rank_rows_ ? batch_.shape[0] * ranks : batch_.shape[0];
    if (!data_serves_rank_rows_) rank_rows(batch_, rank, ranks);
    r.epoch = batch_.epoch;
    const Tn x_real = detail::to_tensor<T, Dev>(batch_);
    // Queued first, so that a poisoned batch is named as the cause of what fails after it.
    if (defer) require_finite(x_real, "the real batch holds NaN or Inf");
    const index_t b = x_real.dim(0);
    auto& ema_d = d_ema_.model();

    // ---- D step: its own generated batch, keys from the EMA D without gradient ----
    Tn x_fake;
    {
      NoGradGuard no_grad;
      x_fake = g_(rank_rows(g_.sample_latent(global_b, rng_), rank, ranks));
    }
    set_lambda_cluster();
    r.lambda_cluster = objective_.options().lambda_cluster;
    const Tn real_keys = objective_.keys(ema_d, x_real);
    const Tn fake_keys = objective_.keys(ema_d, x_fake);
    // σ's power-iteration start u0 ~ N(0, I) for [x_real; x_fake] of the global batch (the draw
    // one process makes inside the objective), this rank's real rows then its generated rows.
    Tn u0;
    if (config_.objective.lambda_smooth != 0.0) {
      const Tensor<T, Cpu> all = randn<T>(Shape{2 * global_b, config_.embed_dim}, rng_);
      u0 = ranks == 1 ? to_device<Dev>(all)
                      : to_device<Dev>(concat(std::vector<Tensor<T, Cpu>>{clone(slice(all, 0, rank * b, b)),
                                                                         clone(slice(all, 0, global_b + rank * b, b))},
                                              0));
    }
    auto ds = guarded("D", r.iteration, x_real, [&] {
      return objective_.discriminator_loss(d_, x_real, x_fake, real_keys, fake_keys, bank_, rng_, batch_.labels,
                                           u0.defined() ? &u0 : nullptr);
    });
    terms_read_or_queued("D", ds, r.d, read);
    set_learning_rates();
    r.lr_d = lr_d();
    r.lr_g = lr_g();
    opt_d_.zero_grad();
    backward(ds.loss);
    buckets_d_.average(*comm_);
    const Tn square_norm_d = gradient_norm_read_or_queued("D", opt_d_, r.grad_norm_d, read);
    if (config_.max_grad_norm_d > 0) detail::clip_gradient_norm(opt_d_, square_norm_d, config_.max_grad_norm_d);
    opt_d_.step();

    // ---- G step: its own forward pass, through the updated D (D's parameters frozen) ----
    const VT x_gen = g_(VT(rank_rows(g_.sample_latent(global_b, rng_), rank, ranks)));
    auto gs = guarded("G", r.iteration, x_real, [&] {
      const Tn gen_keys = objective_.keys(ema_d, value_of(x_gen));
      return objective_.generator_loss(d_, x_real, x_gen, real_keys, gen_keys, bank_);
    });
    terms_read_or_queued("G", gs, r.g, read);
    opt_g_.zero_grad();
    backward(gs.loss);
    buckets_g_.average(*comm_);
    gradient_norm_read_or_queued("G", opt_g_, r.grad_norm_g, read);
    opt_g_.step();

    // ---- EMA of both networks, then the bank ----
    d_ema_.update(d_);
    g_ema_.update(g_);
    guarded("bank", r.iteration, x_real, [&] {
      // Every rank enqueues the whole batch's pairs in rank order, as one process enqueues them.
      if (ranks == 1) bank_.enqueue(real_keys, ds.real_values);
      else bank_.enqueue(distributed::all_gather(*comm_, real_keys), distributed::all_gather(*comm_, ds.real_values));
      return 0;
    });
    if (defer) {
      deferred.reset();
      if (read) {
        read_pending();  // the step's one device→host transfer
        r.grad_norm_d = std::sqrt(r.grad_norm_d);  // read as ‖∇‖²
        r.grad_norm_g = std::sqrt(r.grad_norm_g);
        average_terms(*comm_, r.d);
        average_terms(*comm_, r.g);
      } else {
        r.d = r.g = objectives::LossTerms::unread();
        r.grad_norm_d = r.grad_norm_g = std::numeric_limits<double>::quiet_NaN();
        r.read = false;
      }
    }
    ++iteration_;
    if (config_.lambda_cluster_after_takeoff > 0 && read && r.d.distance > config_.takeoff_distance) taken_off_ = 1;
    if (config_.rollback_every > 0 && read) watch_for_collapse(r);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
  }

  /// The collapse detector (rollback_every > 0): armed once the distance exceeded
  /// rollback_arm_distance, collapsed steps in a row, rollbacks made.
  struct CollapseWatch {
    std::int64_t armed = 0, streak = 0, rollbacks = 0;
  };

  /// A copy of the learned state on the device (see the file comment, "Rollback"): every parameter
  /// and buffer of D, G and their EMA copies and the optimizers' moments (`tensors`, with their
  /// checkpoint names), the optimizers' step counters, the bank, whether the collapse detector
  /// was armed and whether training had taken off. Neither the Rng nor the data position is part of it.
  struct Snapshot {
    std::int64_t iteration = 0, armed = 0, taken_off = 0;
    std::vector<std::string> tensor_names, counter_names;
    std::vector<Tn> tensors;
    std::vector<std::int64_t> counters;
    objectives::MemoryBankState<T, Dev> bank;
  };

  /// Copies the learned state into a snapshot (take) or back out of it (restore), in one order.
  struct SnapshotVisitor {
    Snapshot& s;
    bool restore;
    std::size_t next_tensor = 0, next_counter = 0;
    template <class P>
    void parameter(const std::string& name, P& p) { buffer(name, p.value); }
    void buffer(const std::string& name, Tn& b) {
      if (!restore) {
        s.tensor_names.push_back(name);
        s.tensors.push_back(clone(b));
        return;
      }
      const Tn& saved = s.tensors.at(next_tensor++);
      require(saved.shape() == b.shape(), "Trainer: snapshot entry '", name, "' has shape ", saved.shape(), ", the network ", b.shape());
      copy(Dev{}, b.numel(), saved.data(), b.data());
    }
    void counter(const std::string& name, std::int64_t& c) {
      if (!restore) {
        s.counter_names.push_back(name);
        s.counters.push_back(c);
      } else {
        c = s.counters.at(next_counter++);
      }
    }
  };
  /// The learned state's parts under their checkpoint prefixes, the one list the checkpoint
  /// (State::bind) and the snapshots share: module(prefix, m) for the networks and their EMA
  /// copies, then optimizer(prefix, o) for both optimizers.
  template <class ModuleFn, class OptimizerFn>
  void for_each_learned_part(ModuleFn&& module, OptimizerFn&& optimizer) {
    module("D", d_);
    module("G", g_);
    module("D_ema", d_ema_);
    module("G_ema", g_ema_);
    optimizer("D_opt", opt_d_);
    optimizer("G_opt", opt_g_);
  }
  template <class V>
  void visit_learned_state(V& v) {
    for_each_learned_part([&](const char* prefix, auto& m) { m.visit(v, prefix); },
                          [&](const char* prefix, auto& o) { o.visit_state(v, prefix); });
  }
  Snapshot snapshot_of_state() {
    Snapshot s;
    s.iteration = iteration_;
    s.armed = collapse_.armed;
    s.taken_off = taken_off_;
    SnapshotVisitor v{s, false};
    visit_learned_state(v);
    s.bank = bank_.state();
    return s;
  }

  /// Takes a snapshot at this iteration and drops those no rollback can choose any more (a
  /// rollback goes back to the newest snapshot at least 2·patience iterations before it).
  void take_snapshot() {
    snapshots_.push_back(snapshot_of_state());
    const std::int64_t reach = 2 * config_.rollback_patience;
    while (snapshots_.size() >= 2 && snapshots_[1].iteration <= iteration_ - reach) snapshots_.erase(snapshots_.begin());
  }

  /// The collapse detector (file comment, "Rollback") after a read step r: counts the collapsed
  /// steps in a row and, at rollback_patience of them, rolls the state back.
  void watch_for_collapse(StepReport& r) {
    const double d = r.d.distance;
    if (d > config_.rollback_arm_distance) collapse_.armed = 1;
    collapse_.streak = collapse_.armed && d < config_.rollback_distance ? collapse_.streak + 1 : 0;
    if (collapse_.streak < config_.rollback_patience) return;
    collapse_.streak = 0;  // another rollback (or report) needs another full streak
    r.collapse_detected = true;
    if (collapse_.rollbacks >= config_.rollback_max) return;
    // The streak's first step started from the state after iteration_ − patience iterations; go
    // back at least `patience` iterations more, before the distance began to fall.
    const std::int64_t latest = iteration_ - 2 * config_.rollback_patience;
    auto target = snapshots_.end();
    for (auto it = snapshots_.begin(); it != snapshots_.end(); ++it)
      if (it->iteration <= latest) target = it;
    if (target == snapshots_.end()) return;
    SnapshotVisitor v{*target, true};
    visit_learned_state(v);
    bank_.load_state(target->bank);
    iteration_ = target->iteration;
    collapse_.armed = target->armed;
    taken_off_ = target->taken_off;
    ++collapse_.rollbacks;
    snapshots_.erase(target + 1, snapshots_.end());  // the abandoned iterations' snapshots
    r.rolled_back_to = iteration_;
  }

  static std::string failure_message(const std::string& failed) {
    return "training stopped: non-finite values at " + failed +
           "; the networks hold the updates made since the last read: continue from the last checkpoint";
  }

 public:

  /// Images (or points) of the EMA generator for latent codes z (n × z_dim, host), computed on an
  /// independent copy in training mode (batch statistics), so the run's state is untouched.
  Tensor<T, Cpu> generate(const Tensor<T, Cpu>& z) {
    GNet copy = nn::clone_module(g_ema_.model());
    NoGradGuard no_grad;
    return to_host(copy(to_device<Dev>(z)));
  }

  /// Writes the whole state (networks, EMA copies, optimizer moments and steps, memory bank, RNG,
  /// data position, iteration, configuration) to `path` with io::save_checkpoint (atomic: a
  /// crash while saving leaves the previous file whole).
  void save(const std::string& path) {
    read_pending();  // never save a state that a queued check found non-finite
    State st = state_for_io();
    io::save_checkpoint(path, st.bind(*this));
  }

  /// Restores a state written by save(). The configuration's trajectory keys (networks, data,
  /// optimization, objective; see trajectory_keys()) must equal the saved ones, else
  /// structgan::Error lists the differences; the others (iterations, output, logging) may change.
  /// All or nothing: on any error the trainer is unchanged.
  void load(const std::string& path) {
    std::string saved_text;
    {
      io::Checkpoint head;
      head.string("config", saved_text);
      io::LoadOptions lo;
      lo.allow_unbound_entries = true;
      io::load_checkpoint(path, head, lo);
    }
    const nlohmann::json saved = nlohmann::json::parse(saved_text, nullptr, false), now = to_json(config_);
    require(saved.is_object(), "checkpoint '", path, "': its configuration entry is not a JSON object");
    // A key the saved run did not know yet had its default then (e.g. lr_schedule = constant).
    const nlohmann::json defaults = to_json(TrainConfig{});
    std::vector<std::string> keys = trajectory_keys();
    if (config_.lr_schedule != "constant" && config_.lr_schedule_iterations == 0)
      keys.push_back("iterations");  // the schedule spans them
    std::string diff;
    for (const auto& k : keys) {
      const nlohmann::json was = saved.contains(k) ? saved[k] : defaults.value(k, nlohmann::json());
      if (was != now.value(k, nlohmann::json()))
        diff += "\n  " + k + ": saved " + was.dump() + ", now " + now.value(k, nlohmann::json()).dump();
    }
    require(diff.empty(), "checkpoint '", path, "' was written with a different configuration:", diff);
    State st = state_for_io();
    if (config_.rollback_every > 0) {
      // The snapshots the run held (rollback): as many as the file says, allocated with the
      // networks' shapes here and filled by the load below.
      io::Checkpoint head;
      head.integer("rollback.snapshots", st.snapshot_count);
      io::LoadOptions lo;
      lo.allow_unbound_entries = true;
      io::load_checkpoint(path, head, lo);
      require(st.snapshot_count >= 0 && st.snapshot_count <= 1 + 2 * config_.rollback_patience / config_.rollback_every + 1,
              "checkpoint '", path, "': ", st.snapshot_count, " rollback snapshots, more than rollback_every = ",
              config_.rollback_every, " and rollback_patience = ", config_.rollback_patience, " keep");
      st.snapshots.clear();
      for (std::int64_t k = 0; k < st.snapshot_count; ++k) st.snapshots.push_back(snapshot_of_state());
    }
    io::load_checkpoint(path, st.bind(*this));
    bank_.load_state(st.bank);
    rng_.set_state(st.rng.state());
    data_->seek(static_cast<std::uint64_t>(st.data_position));
    iteration_ = st.iteration;
    collapse_ = st.collapse;
    taken_off_ = st.taken_off;
    snapshots_ = std::move(st.snapshots);
    broadcast_state();
  }

 private:
  /// The rates of this step (config's schedule at iteration_ completed iterations).
  void set_learning_rates() {
    const double f = lr_factor(config_, iteration_);
    for (auto& g : opt_d_.groups()) g.options.lr = config_.lr_d * f;
    for (auto& g : opt_g_.groups()) g.options.lr = config_.lr_g * f;
  }

  /// λ_c of this step (file comment, "Take-off"): the objective is rebuilt with it when it changes.
  void set_lambda_cluster() {
    const double lambda = config_.lambda_cluster_after_takeoff > 0 && taken_off_ ? config_.lambda_cluster_after_takeoff
                                                                                : config_.objective.lambda_cluster;
    if (objective_.options().lambda_cluster == lambda) return;
    objectives::ObjectiveOptions o = objective_.options();
    o.lambda_cluster = lambda;
    objective_ = objectives::StructuralObjective<T, Dev>(o, objective_.communicator());
  }

  /// Rank 0's networks, EMA copies, optimizer states, bank, Rng and position on every rank.
  void broadcast_state() {
    distributed::Communicator& c = *comm_;
    if (c.size() == 1) return;
    broadcast_module(c, d_);
    broadcast_module(c, g_);
    broadcast_module(c, d_ema_.model());
    broadcast_module(c, g_ema_.model());
    broadcast_optimizer(c, opt_d_);
    broadcast_optimizer(c, opt_g_);
    broadcast_bank(c, bank_);
    std::string rng_state = rng_.state();
    distributed::broadcast(c, rng_state, 0);
    rng_.set_state(rng_state);
    std::vector<std::int64_t> position{iteration_, static_cast<std::int64_t>(data_->position())};
    c.broadcast(position.data(), position.size(), distributed::ScalarType::Int64, 0, distributed::Memory::Host);
    iteration_ = position[0];
    if (data_->position() != static_cast<std::uint64_t>(position[1])) data_->seek(static_cast<std::uint64_t>(position[1]));
  }

  /// What save() and load() exchange with io::Checkpoint besides the networks and optimizers
  /// (copies: load() assigns them only once the whole file has been validated and read).
  struct State {
    objectives::MemoryBankState<T, Dev> bank;
    std::int64_t iteration = 0, data_position = 0;
    Rng rng;
    std::string config;
    CollapseWatch collapse;            // rollback_every > 0: the detector and its snapshots
    std::int64_t taken_off = 0;        // lambda_cluster_after_takeoff > 0: the take-off seen
    std::int64_t snapshot_count = 0;
    std::vector<Snapshot> snapshots;
    io::Checkpoint bind(Trainer& t) {
      io::Checkpoint ck;
      t.for_each_learned_part([&](const char* prefix, auto& m) { ck.module(prefix, m); },
                              [&](const char* prefix, auto& o) { ck.optimizer(prefix, o); });
      ck.tensor("bank.keys", bank.keys).tensor("bank.values", bank.values).integer("bank.pointer", bank.pointer);
      ck.integer("iteration", iteration).integer("data_position", data_position).rng("rng", rng).string("config", config);
      if (t.config_.lambda_cluster_after_takeoff > 0) ck.integer("takeoff.reached", taken_off);
      if (t.config_.rollback_every > 0) {
        ck.integer("rollback.armed", collapse.armed).integer("rollback.streak", collapse.streak);
        ck.integer("rollback.count", collapse.rollbacks).integer("rollback.snapshots", snapshot_count);
        for (std::size_t k = 0; k < snapshots.size(); ++k) {
          Snapshot& s = snapshots[k];
          const std::string p = "rollback." + std::to_string(k) + ".";
          ck.integer(p + "iteration", s.iteration).integer(p + "armed", s.armed);
          if (t.config_.lambda_cluster_after_takeoff > 0) ck.integer(p + "taken_off", s.taken_off);
          for (std::size_t i = 0; i < s.tensors.size(); ++i) ck.tensor(p + s.tensor_names[i], s.tensors[i]);
          for (std::size_t i = 0; i < s.counters.size(); ++i) ck.integer(p + s.counter_names[i], s.counters[i]);
          ck.tensor(p + "bank.keys", s.bank.keys).tensor(p + "bank.values", s.bank.values);
          ck.integer(p + "bank.pointer", s.bank.pointer);
        }
      }
      return ck;
    }
  };
  State state_for_io() const {
    State st;
    st.bank = bank_.state();
    st.iteration = iteration_;
    st.data_position = static_cast<std::int64_t>(data_->position());
    st.rng = rng_;
    st.config = to_json(config_).dump();
    st.collapse = collapse_;
    st.taken_off = taken_off_;
    st.snapshots = snapshots_;  // handles: save() writes them, load() replaces them
    st.snapshot_count = static_cast<std::int64_t>(snapshots_.size());
    return st;
  }

  /// Runs a loss computation; when it throws structgan::Error while the batch, a network or the
  /// generated data holds NaN or Inf (the objective's checks, e.g. a Cholesky factorization,
  /// fail on such values), reports that as a NonFiniteError naming what was not finite.
  template <class F>
  auto guarded(const char* who, std::int64_t it, const Tn& x_real, F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const NonFiniteError&) {
      throw;
    } catch (const Error& e) {
      std::string what;
      if (!detail::all_finite(x_real)) what = "the real batch holds NaN or Inf";
      else if (!detail::module_finite(d_)) what = "D's parameters hold NaN or Inf";
      else if (!detail::module_finite(g_)) what = "G's parameters hold NaN or Inf";
      else if (!detail::module_finite(d_ema_.model())) what = "the EMA D's parameters hold NaN or Inf";
      else if (!outputs_finite(x_real)) what = "D's outputs on the real batch overflow to NaN or Inf";
      if (what.empty()) throw;
      throw NonFiniteError(non_finite_message(who, it, what + ": " + e.what()));
    }
  }

  /// Whether D's embedding of x is finite (a forward pass without gradient; error path only).
  bool outputs_finite(const Tn& x) {
    NoGradGuard no_grad;
    return detail::all_finite(Tn(d_(x).f_tilde));
  }

  /// A step's loss terms: on the CPU read now (averaged over the ranks, checked finite); elsewhere
  /// their finiteness queued, and their values too when the step is read.
  template <class Step>
  void terms_read_or_queued(const char* who, const Step& s, objectives::LossTerms& into, bool read) {
    if (Dev::host_memory) {
      into = s.terms;
      average_terms(*comm_, into);
      if (!detail::finite_terms(into))
        throw NonFiniteError(non_finite_message(who, report_.iteration, detail::first_non_finite(into)));
      return;
    }
    s.device_terms.queue_finite_checks(pending_, who);
    if (read) s.device_terms.queue_values(pending_, into);
  }
  /// An optimizer's gradient norm before its update: as terms_read_or_queued (queued as ‖∇‖²).
  /// Returns ‖∇‖² on the device.
  template <class Opt>
  Tn gradient_norm_read_or_queued(const char* who, const Opt& opt, double& into, bool read) {
    const Tn square_norm = detail::gradient_square_norm(opt);
    if (Dev::host_memory) {
      into = std::sqrt(static_cast<double>(to_host(square_norm)[0]));
      if (!std::isfinite(into))
        throw NonFiniteError(non_finite_message(who, report_.iteration, "gradient norm = " + std::to_string(into)));
      return square_norm;
    }
    pending_.check(nonfinite_indicator(square_norm), std::string("‖∇") + who + "‖ is NaN or Inf");
    if (read) pending_.add(&into, square_norm);
    return square_norm;
  }

  std::string non_finite_message(const char* who, std::int64_t it, const std::string& what) const {
    return std::string("training stopped: non-finite ") + who + " loss at iteration " + std::to_string(it) + " (" + what +
           "); the networks were not updated by this step";
  }

  TrainConfig config_;
  std::unique_ptr<distributed::Communicator> own_comm_;
  distributed::Communicator* comm_ = nullptr;
  DNet d_;
  GNet g_;
  nn::Ema<DNet> d_ema_;
  nn::Ema<GNet> g_ema_;
  nn::AdamW<T, Dev> opt_d_;
  nn::Adam<T, Dev> opt_g_;
  objectives::StructuralObjective<T, Dev> objective_;
  objectives::MemoryBank<T, Dev> bank_;
  std::unique_ptr<RealData> data_;
  Rng rng_;
  HostBatch batch_;
  std::int64_t iteration_ = 0;
  GradientBuckets<T, Dev> buckets_d_, buckets_g_;
  bool data_serves_rank_rows_ = false;
  StepReport report_;                 ///< the step's report, where the deferred readout writes
  DeviceReadout<T, Dev> pending_;     ///< checks (and, at a read step, scalars) not yet read
  std::string failure_;               ///< the failed check that stopped training (deferred reads)
  CollapseWatch collapse_;            ///< the collapse detector's state (rollback_every > 0)
  std::int64_t taken_off_ = 0;        ///< D's distance has exceeded takeoff_distance (file comment, "Take-off")
  std::vector<Snapshot> snapshots_;   ///< oldest first (rollback_every > 0)
};

/// The trainer type of the image data sets.
template <class T, class Dev = Cpu>
using ImageTrainer = Trainer<T, Dev, nn::ResNet18Discriminator<T, Dev>, nn::BigGANDeepGenerator<T, Dev>>;
/// The trainer type of the double spiral.
template <class T, class Dev = Cpu>
using SpiralTrainer = Trainer<T, Dev, nn::MlpDiscriminator<T, Dev>, nn::MlpGenerator<T, Dev>>;

/// The rng every run starts from: networks first (D, then G), then the bank, then training draws.
inline Rng run_rng(const TrainConfig& c) { return Rng(static_cast<std::uint64_t>(c.seed)); }

/// A trainer for an image configuration over `data` (its sample shape gives the channels).
/// The discriminator is the one make_image_discriminator draws first from Rng(seed): building it
/// again from the same seed gives the untrained baseline.
template <class T, class Dev = Cpu>
ImageTrainer<T, Dev> make_image_trainer(const TrainConfig& c, std::unique_ptr<RealData> data,
                                        distributed::Communicator* comm = nullptr) {
  require(data != nullptr && data->sample_shape().rank() == 3, "make_image_trainer: needs image data");
  const Shape s = data->sample_shape();
  require(s[1] == c.image_size && s[2] == c.image_size, "make_image_trainer: data of ", s, " for image_size ", c.image_size);
  Rng rng = run_rng(c);
  auto d = make_image_discriminator<T, Dev>(c, s[0], data->classes(), rng);
  auto g = make_image_generator<T, Dev>(c, s[0], rng);
  return ImageTrainer<T, Dev>(c, std::move(d), std::move(g), std::move(data), std::move(rng), comm);
}

/// A trainer for the double spiral over `data`.
template <class T, class Dev = Cpu>
SpiralTrainer<T, Dev> make_spiral_trainer(const TrainConfig& c, std::unique_ptr<RealData> data,
                                          distributed::Communicator* comm = nullptr) {
  require(data != nullptr && data->sample_shape().rank() == 1, "make_spiral_trainer: needs 2-D points");
  Rng rng = run_rng(c);
  auto d = make_mlp_discriminator<T, Dev>(c, data->classes(), rng);
  auto g = make_mlp_generator<T, Dev>(c, rng);
  return SpiralTrainer<T, Dev>(c, std::move(d), std::move(g), std::move(data), std::move(rng), comm);
}

}  // namespace structgan::train
