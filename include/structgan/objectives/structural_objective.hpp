#pragma once
/// \file The structural adversarial objective (SPEC §5): D's and G's losses composed from the
/// Gaussian distance (§2), the clustering similarities (§3) and the smoothness terms (§4), with
/// every loss term reported on its own for logging.
///
/// The discriminator is any callable `d(x)` generic over the value type that returns a struct
/// with the fields `f_tilde` (f̃, N×p), `f` (normalize(f̃)), `f_b` (the backbone feature) and
/// `logits` (the linear probe on sg(f^b)): nn::ResNet18Discriminator and the MLP discriminator
/// return nn::DiscriminatorOutput<V>, which has them; a test network made of ops can return its
/// own struct. D must treat samples independently (GroupNorm, not BatchNorm; SPEC §4).
///
/// \code
///   objectives::StructuralObjective<float> obj;                  // SPEC §5 defaults
///   Rng rng(0);
///   objectives::MemoryBank<float> bank(10240, 512, 128, rng);
///   // one iteration
///   Tensor<float> kr = obj.keys(ema_d, x_real), kf = obj.keys(ema_d, x_fake);   // EMA D, no gradient
///   auto ds = obj.discriminator_loss(d, x_real, x_fake, kr, kf, bank, rng, labels);
///   backward(ds.loss);  d_optimizer.step();                   // ds.terms: the named terms
///   Var<float> xg = g(Var<float>(z));                          // G's images, recorded
///   auto gs = obj.generator_loss(d, x_real, xg, kr, obj.keys(ema_d, value_of(xg)), bank);
///   backward(gs.loss);  g_optimizer.step();                   // D's gradients stay untouched
///   bank.enqueue(kr, ds.real_values);
/// \endcode
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "structgan/backend/device_readout.hpp"
#include "structgan/distributed/communicator.hpp"
#include "structgan/objectives/clustering.hpp"
#include "structgan/objectives/gaussian.hpp"
#include "structgan/objectives/jacobian.hpp"
#include "structgan/ops/collective.hpp"

namespace structgan::objectives {

/// Every weight and option of the objective; defaults are the released code's (SPEC §5).
/// objectives/options_json.hpp reads and writes them as JSON.
struct ObjectiveOptions {
  GaussianOptions distance;        ///< the coarse scale: kind (logdet), eps 0.5, ridge 1e-4, stats global
  ClusterOptions cluster;          ///< the fine scale: k = 1, skip_first_fake, block size
  JacobianOptions jacobian;        ///< S = 1 step, Lip = 1, squared penalty
  double lambda_cluster = 3.0;     ///< λ_c
  double lambda_smooth = 5.0;      ///< λ_s (the Jacobian penalty)
  double lambda_hinge = 20.0;      ///< λ_h (the paper: 4)
  double lambda_probe = 1.0;       ///< weight of the linear probe's cross-entropy
  index_t bank_size = 10240;       ///< L, the memory bank's length (used by make_bank)
  /// Take D's outputs on [x_real; x_fake] from the Jacobian's recorded dual pass instead of a
  /// separate forward pass (same values and gradients for a per-sample D; one pass fewer).
  bool fuse_jacobian_pass = true;
};

/// The loss terms of one step as plain numbers (for logs). Unused terms stay 0.
struct LossTerms {
  double total = 0;           ///< the loss that was back-propagated
  double distance = 0;        ///< d(f, f^g) (D's term is −d, G's +d)
  double s_real = 0;          ///< mean similarity of real samples to their neighbours
  double s_fake = 0;          ///< mean similarity of generated samples to their real neighbours
  double jacobian = 0;        ///< the penalty on σ
  double sigma_mean = 0;      ///< mean σ (the estimated per-sample spectral norm)
  double hinge = 0;           ///< the norm hinge on the real f̃
  double embed_norm = 0;      ///< mean ‖f̃‖ of the real batch
  double probe = 0;           ///< the probe's cross-entropy
  double probe_accuracy = 0;  ///< the probe's accuracy on the real batch
  /// Each field's name and member, in a fixed order.
  static const std::vector<std::pair<const char*, double LossTerms::*>>& fields() {
    static const std::vector<std::pair<const char*, double LossTerms::*>> f{
        {"total", &LossTerms::total},       {"distance", &LossTerms::distance},     {"s_real", &LossTerms::s_real},
        {"s_fake", &LossTerms::s_fake},     {"jacobian", &LossTerms::jacobian},     {"sigma_mean", &LossTerms::sigma_mean},
        {"hinge", &LossTerms::hinge},       {"embed_norm", &LossTerms::embed_norm}, {"probe", &LossTerms::probe},
        {"probe_accuracy", &LossTerms::probe_accuracy}};
    return f;
  }
  /// The terms by name, in a fixed order.
  std::vector<std::pair<std::string, double>> named() const {
    std::vector<std::pair<std::string, double>> out;
    for (const auto& [name, field] : fields()) out.emplace_back(name, this->*field);
    return out;
  }
  /// Terms not read from the device (every field NaN).
  static LossTerms unread() {
    LossTerms t;
    for (const auto& [name, field] : fields()) t.*field = std::numeric_limits<double>::quiet_NaN();
    return t;
  }
};

/// LossTerms whose values are still on the device: one one-value tensor per field. The
/// objectives fill `terms` from it at once (one transfer), except inside a DeferredReads scope
/// (backend/device_readout.hpp), where the caller queues it into its own readout.
template <class T, class D = Cpu>
class DeviceTerms {
 public:
  void add(double LossTerms::*field, const Tensor<T, D>& value) { fields_.emplace_back(field, value); }
  /// Queues every value into `readout`, written into `into` when it is read (`into` must live
  /// until then).
  void queue_values(DeviceReadout<T, D>& readout, LossTerms& into) const {
    for (const auto& [field, value] : fields_) readout.add(&(into.*field), value);
  }
  /// Queues a finiteness check per term into `readout`; `who` starts each message ("D", "G").
  void queue_finite_checks(DeviceReadout<T, D>& readout, const std::string& who) const {
    for (const auto& [field, value] : fields_)
      readout.check(nonfinite_indicator(value), who + " loss term " + name_of(field) + " is NaN or Inf");
  }
  /// The terms, read in one transfer (fields never added stay 0).
  LossTerms read() const {
    LossTerms t;
    DeviceReadout<T, D> r;
    queue_values(r, t);
    r.read();
    return t;
  }

 private:
  static std::string name_of(double LossTerms::*field) {
    for (const auto& [name, f] : LossTerms::fields())
      if (f == field) return name;
    return "?";
  }
  std::vector<std::pair<double LossTerms::*, Tensor<T, D>>> fields_;
};

/// D's loss of one step and what the iteration needs afterwards.
template <class T, class D = Cpu>
struct DiscriminatorStep {
  Var<T, D> loss;            ///< shape [1]; backward(loss) fills D's parameter gradients
  LossTerms terms;           ///< read at once; all NaN inside a DeferredReads scope (see device_terms)
  Tensor<T, D> real_values;  ///< f of the real batch (enqueue it with the real keys after the G step)
  DeviceTerms<T, D> device_terms;  ///< the same terms on the device
};
/// G's loss of one step.
template <class T, class D = Cpu>
struct GeneratorStep {
  Var<T, D> loss;  ///< shape [1]; backward(loss) fills G's parameter gradients (D's are frozen)
  LossTerms terms;                 ///< as DiscriminatorStep::terms
  DeviceTerms<T, D> device_terms;  ///< as DiscriminatorStep::device_terms
};

namespace detail {

/// The probe's accuracy: argmax of each row of the logits against the labels, a one-element
/// tensor on the logits' device (nothing read back; the caller adds it to its readout).
template <class T, class D>
Tensor<T, D> probe_accuracy(const Tensor<T, D>& logits, const std::vector<int>& labels) {
  return argmax_accuracy(logits, labels);
}
}  // namespace detail

/// D's and G's losses of SPEC §5 for a discriminator d (see the file comment), in scalar T on
/// device D. Stateless apart from its options; the memory bank and the Rng belong to the caller.
template <class T, class D = Cpu>
class StructuralObjective {
 public:
  /// `comm`: the processes training together (not owned; null: this process alone). With more
  /// than one rank and `distance.stats == GaussianStats::Global`, the Gaussian distance is that of
  /// the global batch (docs/distributed.md); every rank must then compute its losses in step.
  explicit StructuralObjective(ObjectiveOptions o = {}, distributed::Communicator* comm = nullptr)
      : o_(std::move(o)), comm_(comm) {
    require(o_.jacobian.steps >= 1, "StructuralObjective: jacobian.steps must be ≥ 1, got ", o_.jacobian.steps);
    require(o_.cluster.k >= 1, "StructuralObjective: cluster.k must be ≥ 1, got ", o_.cluster.k);
    require(o_.bank_size >= 1, "StructuralObjective: bank_size must be ≥ 1, got ", o_.bank_size);
  }
  const ObjectiveOptions& options() const { return o_; }
  distributed::Communicator* communicator() const { return comm_; }

  /// A memory bank of options().bank_size random unit pairs (key width q, value width p).
  MemoryBank<T, D> make_bank(index_t key_dim, index_t value_dim, Rng& rng) const {
    return MemoryBank<T, D>(o_.bank_size, key_dim, value_dim, rng);
  }

  /// The neighbour-search keys normalize(f^b) of the (EMA) discriminator, without gradient (SPEC §3).
  template <class Net>
  static Tensor<T, D> keys(Net&& ema_d, const Tensor<T, D>& x) {
    NoGradGuard no_grad;
    return row_normalize(Tensor<T, D>(ema_d(x).f_b));
  }

  /// D's loss (SPEC §5): −d + λ_c(−s_real + s_fake) + λ_s·jac + λ_h·hinge + λ_probe·CE(probe).
  /// x_real, x_fake: image batches (b×…, m×…, the same trailing shape); real_keys/fake_keys:
  /// normalize(f^b) of the EMA D (b×q, m×q); labels: the real batch's classes for the probe (empty:
  /// no probe term); rng draws u0 of the power iteration unless `u0` ((b + m)×p, the rows of
  /// [x_real; x_fake]) is given (the trainer gives each rank its rows of the global batch's draw).
  /// The Jacobian terms cover [x_real; x_fake].
  template <class Net>
  DiscriminatorStep<T, D> discriminator_loss(Net&& d, const Tensor<T, D>& x_real, const Tensor<T, D>& x_fake,
                                             const Tensor<T, D>& real_keys, const Tensor<T, D>& fake_keys,
                                             const MemoryBank<T, D>& bank, Rng& rng,
                                             const std::vector<int>& labels = {},
                                             const Tensor<T, D>* u0 = nullptr) const {
    const char* op = "StructuralObjective::discriminator_loss";
    check_images(op, x_real, x_fake);
    require(labels.empty() || static_cast<index_t>(labels.size()) == x_real.dim(0), op, ": ", labels.size(),
            " labels for a real batch of ", x_real.dim(0));
    const index_t b = x_real.dim(0), m = x_fake.dim(0);
    const bool jac = o_.lambda_smooth != 0.0;
    using VT = Var<T, D>;
    VT f_tilde, f, fg, logits, jac_penalty;
    DeviceTerms<T, D> dt;
    if (jac) {
      const Tensor<T, D> x = concat(std::vector<Tensor<T, D>>{x_real, x_fake}, 0);
      // S − 1 plain steps, then one primal pass shared by the last VJP and σ's recorded dual pass.
      PowerIteration<T, D> it;
      const int steps = o_.jacobian.steps;
      const Tensor<T, D>* draw_u0 = u0;  // null: u0 ~ N(0, I) from rng
      VT jv;
      if (o_.fuse_jacobian_pass) {
        // D's outputs for the losses are that pass's primal outputs over [x_real; x_fake].
        auto out = detail::recorded_sigma_pass([&d](const auto& v) { return d(v); },
                                               [](const auto& o) { return o.f_tilde; }, x, draw_u0, &rng, steps, it);
        const VT all_f = out.f.primal;
        jv = detail::tangent_or_zero(out.f_tilde);
        f_tilde = slice(out.f_tilde.primal, 0, 0, b);
        f = slice(all_f, 0, 0, b);
        fg = slice(all_f, 0, b, m);
        if (!labels.empty()) logits = slice(out.logits.primal, 0, 0, b);
      } else {
        auto embed = [&d](const auto& v) { return d(v).f_tilde; };
        jv = detail::tangent_or_zero(
            detail::recorded_sigma_pass(embed, [](const auto& y) { return y; }, x, draw_u0, &rng, steps, it));
        auto real = d(VT(x_real));
        auto fake = d(VT(x_fake));
        f_tilde = real.f_tilde;
        f = real.f;
        fg = fake.f;
        logits = real.logits;
      }
      const VT sigma = detail::sigma_of_recorded_jv(jv, it.u);
      jac_penalty = jacobian_penalty(sigma, o_.jacobian.lip, o_.jacobian.penalty);
      dt.add(&LossTerms::jacobian, jac_penalty.value());
      dt.add(&LossTerms::sigma_mean, mean_all(sigma.value()));
    } else {
      auto real = d(VT(x_real));
      auto fake = d(VT(x_fake));
      f_tilde = real.f_tilde;
      f = real.f;
      fg = fake.f;
      logits = real.logits;
    }
    check_outputs(op, value_of(f), value_of(fg), b, m);

    const VT dist = gaussian_distance(f, fg, o_.distance, comm_);
    const ClusterSimilarities<VT> c = gathers_batch()
                                          ? gathered_similarities(f, fg, real_keys, fake_keys, bank)
                                          : cluster_similarities(f, fg, real_keys, fake_keys, bank, o_.cluster);
    const VT hinge = norm_hinge(f_tilde);
    // −d + λ_c(−s_real + s_fake) + λ_s·jac + λ_h·hinge (+ λ_probe·CE)
    VT loss = add(neg(dist), mul_scalar(sub(c.s_fake, c.s_real), T(o_.lambda_cluster)));
    if (jac) loss = add(loss, mul_scalar(jac_penalty, T(o_.lambda_smooth)));
    loss = add(loss, mul_scalar(hinge, T(o_.lambda_hinge)));
    if (!labels.empty() && o_.lambda_probe != 0.0) {
      const VT ce = softmax_cross_entropy(logits, labels);
      loss = add(loss, mul_scalar(ce, T(o_.lambda_probe)));
      dt.add(&LossTerms::probe, ce.value());
    }
    if (!labels.empty()) dt.add(&LossTerms::probe_accuracy, detail::probe_accuracy(logits.value(), labels));
    dt.add(&LossTerms::distance, dist.value());
    dt.add(&LossTerms::s_real, c.s_real.value());
    dt.add(&LossTerms::s_fake, c.s_fake.value());
    dt.add(&LossTerms::hinge, hinge.value());
    dt.add(&LossTerms::embed_norm, mean_all(row_norm(f_tilde.value())));
    dt.add(&LossTerms::total, loss.value());
    LossTerms t = read_now() ? dt.read() : LossTerms::unread();  // the logged terms, in one transfer
    return {loss, t, f.value(), std::move(dt)};
  }

  /// G's loss (SPEC §5): +d(f, f^g) + λ_c·(−s_fake), with f = D(x_real) recomputed as constants
  /// and f^g = D(x_fake) recorded through x_fake (G's output as a Var). D's parameters are
  /// frozen while D runs here, so only G's parameters receive gradients.
  template <class Net>
  GeneratorStep<T, D> generator_loss(Net&& d, const Tensor<T, D>& x_real, const Var<T, D>& x_fake,
                                     const Tensor<T, D>& real_keys, const Tensor<T, D>& fake_keys,
                                     const MemoryBank<T, D>& bank) const {
    const char* op = "StructuralObjective::generator_loss";
    require(x_fake.defined(), op, ": x_fake is undefined");
    check_images(op, x_real, x_fake.value());
    using VT = Var<T, D>;
    VT f, fg;
    {
      FrozenParametersGuard frozen;
      {
        NoGradGuard no_grad;
        f = VT(Tensor<T, D>(d(x_real).f));
      }
      fg = d(x_fake).f;
    }
    check_outputs(op, f.value(), fg.value(), x_real.dim(0), x_fake.dim(0));
    const VT dist = gaussian_distance(f, fg, o_.distance, comm_);
    DeviceIndices<D> nb;
    const VT s_fake = gathers_batch() ? gathered_similarities(f, fg, real_keys, fake_keys, bank, false).s_fake
                                      : fake_cluster_similarity(fg, f, fake_keys, real_keys, bank, o_.cluster, &nb);
    const VT loss = sub(dist, mul_scalar(s_fake, T(o_.lambda_cluster)));
    DeviceTerms<T, D> dt;
    dt.add(&LossTerms::distance, dist.value());
    dt.add(&LossTerms::s_fake, s_fake.value());
    dt.add(&LossTerms::total, loss.value());
    LossTerms t = read_now() ? dt.read() : LossTerms::unread();  // the logged terms, in one transfer
    return {loss, t, std::move(dt)};
  }

 private:
  /// Whether the logged terms are read here: not inside a DeferredReads scope, whose owner reads
  /// them (device_terms) with its other scalars.
  static bool read_now() { return DeferredReads<T, D>::current() == nullptr; }
  /// Whether the kNN branch searches the whole batch's keys (every rank's, gathered): on several
  /// ranks with global statistics, so that N ranks take one process's step.
  bool gathers_batch() const {
    return comm_ != nullptr && comm_->size() > 1 && o_.distance.stats == GaussianStats::Global;
  }

  /// s_real and s_fake (SPEC §3) with every rank's real keys and values as the batch candidates,
  /// as one process on the whole batch has them: this rank's queries (its real and generated
  /// keys) against [all ranks' real keys in rank order; bank]. The gathered values f carry
  /// gradient back to their rank (all_gather_rows' reverse rule: the ranks' losses differ), and
  /// each rank's similarity is the mean over its own queries, so the average over ranks is one
  /// process's mean. `with_real`: false computes s_fake only (G's loss, f a constant).
  template <class VT>
  ClusterSimilarities<VT> gathered_similarities(const VT& f, const VT& fg, const Tensor<T, D>& real_keys,
                                                const Tensor<T, D>& fake_keys, const MemoryBank<T, D>& bank,
                                                bool with_real = true) const {
    const char* op = "cluster_similarities";
    detail::check_real_batch(op, f, real_keys);
    detail::check_fake_batch(op, fg, fake_keys, real_keys.dim(1));
    const Tensor<T, D> all_keys = all_gather_rows(*comm_, real_keys);
    const VT all_f = with_real ? all_gather_rows(*comm_, f) : VT(all_gather_rows(*comm_, f.value()));
    const ClusterOptions& o = o_.cluster;
    ClusterSimilarities<VT> r;
    if (with_real) {
      r.real_neighbours = detail::knn_search_finite(real_keys, all_keys, bank.keys(), o.k, true, o.block_elements);
      r.s_real = neighbour_similarity(f, all_f, bank.values(), r.real_neighbours, o.k);
    }
    r.fake_neighbours = detail::knn_search_finite(fake_keys, all_keys, bank.keys(), o.k, o.skip_first_fake, o.block_elements);
    r.s_fake = neighbour_similarity(fg, all_f, bank.values(), r.fake_neighbours, o.k);
    return r;
  }

  static void check_images(const char* op, const Tensor<T, D>& x_real, const Tensor<T, D>& x_fake) {
    require(x_real.defined() && x_fake.defined() && x_real.rank() >= 2 && x_real.rank() == x_fake.rank(), op,
            ": real ", x_real.shape(), " and generated ", x_fake.shape(), " batches must be b×… of the same rank");
    for (int i = 1; i < x_real.rank(); ++i)
      require(x_real.dim(i) == x_fake.dim(i), op, ": real ", x_real.shape(), " and generated ", x_fake.shape(),
              " batches differ past the first axis");
    require(x_real.dim(0) >= 1 && x_fake.dim(0) >= 1, op, ": empty batch");
  }
  static void check_outputs(const char* op, const Tensor<T, D>& f, const Tensor<T, D>& fg, index_t b, index_t m) {
    require(f.rank() == 2 && fg.rank() == 2 && f.dim(0) == b && fg.dim(0) == m, op, ": D must return N×p embeddings, got ",
            f.shape(), " and ", fg.shape(), " for batches of ", b, " and ", m);
  }

  ObjectiveOptions o_;
  distributed::Communicator* comm_ = nullptr;
};

}  // namespace structgan::objectives
