#pragma once
/// \file Normalization modules: GroupNorm (D, SPEC §1), BatchNorm2d (G's output) and BigGAN's
/// conditional BatchNorm (G's blocks).
#include <string>

#include "structgan/distributed/communicator.hpp"
#include "structgan/nn/layers.hpp"
#include "structgan/ops/collective.hpp"
#include "structgan/ops/norm.hpp"

namespace structgan::nn {

/// Options of GroupNorm: groups = max(1, channels / channels_per_group) (the released code's rule).
struct GroupNormOptions {
  index_t channels = 0;
  index_t channels_per_group = 16;
  double eps = 1e-5;
  bool affine = true;
  GroupNormOptions() = default;
  explicit GroupNormOptions(index_t c, index_t per_group = 16) : channels(c), channels_per_group(per_group) {}
};

/// GroupNorm over N×C[×H×W]: standardize per sample and group of channels (over the group's
/// channels and all positions), then per-channel `weight` (1) and `bias` (0). Keeps samples
/// independent, so D's Jacobian is block-diagonal per sample (SPEC §4).
template <class T, class D = Cpu>
struct GroupNorm : Module<GroupNorm<T, D>> {
  using value_type = T;
  using device_type = D;

  Parameter<T, D> weight, bias;
  index_t groups = 1;
  T eps = T(1e-5);

  GroupNorm() = default;
  explicit GroupNorm(const GroupNormOptions& o) : eps(static_cast<T>(o.eps)) {
    require(o.channels >= 1 && o.channels_per_group >= 1, "GroupNorm: ", o.channels, " channels, ", o.channels_per_group,
            " per group");
    groups = std::max<index_t>(1, o.channels / o.channels_per_group);
    require(o.channels % groups == 0, "GroupNorm: ", o.channels, " channels do not split into ", groups, " groups");
    if (o.affine) {
      weight.value = filled<T, D>(Shape{o.channels}, T(1));
      bias.value = filled<T, D>(Shape{o.channels}, T(0));
    }
  }
  template <class V>
  V operator()(const V& x) {
    const bool affine = weight.value.defined();
    return group_norm(x, groups, affine ? lift<V>(weight) : V(), affine ? lift<V>(bias) : V(), eps);
  }
  template <class F>
  void members(F&& f) {
    if (!weight.value.defined()) return;
    f("weight", weight);
    f("bias", bias);
  }
};

/// Options of BatchNorm2d.
struct BatchNormOptions {
  index_t channels = 0;
  double eps = 1e-5;
  double momentum = 0.1;  ///< running = (1 − momentum)·running + momentum·batch statistic
  bool affine = true;
  BatchNormOptions() = default;
  explicit BatchNormOptions(index_t c, bool affine_ = true) : channels(c), affine(affine_) {}
};

/// BatchNorm over N×C[×H×W] with PyTorch's semantics. Training: standardize with the batch's
/// statistics (biased variance) and update the running mean and the running *unbiased*
/// variance; evaluation: use the running statistics. Buffers `running_mean` (0) and
/// `running_var` (1); parameters `weight` (1) and `bias` (0) when affine.
///
/// Synchronized (data-parallel training, docs/distributed.md): with `set_sync(&comm)` on a
/// communicator of N > 1 ranks, training mode standardizes with the statistics of every rank's
/// rows (batch_norm_train_over_ranks, ops/collective.hpp), as one process on the concatenated
/// batch does, and every rank updates its running statistics with those same global statistics.
/// Every rank must then run the module in the same order (collectives in the forward and the
/// backward pass). Without a communicator, or with one rank, it is the one-process module.
template <class T, class D = Cpu>
struct BatchNorm2d : Module<BatchNorm2d<T, D>> {
  using value_type = T;
  using device_type = D;

  Parameter<T, D> weight, bias;
  Tensor<T, D> running_mean, running_var;
  T eps = T(1e-5), momentum = T(0.1);
  /// The ranks whose rows make the batch in training (not owned: it must outlive the module and
  /// the graphs built with it); nullptr: this process's rows only. Not a member (not saved).
  distributed::Communicator* sync = nullptr;

  BatchNorm2d() = default;
  explicit BatchNorm2d(const BatchNormOptions& o) : eps(static_cast<T>(o.eps)), momentum(static_cast<T>(o.momentum)) {
    require(o.channels >= 1, "BatchNorm2d: needs channels ≥ 1, got ", o.channels);
    running_mean = filled<T, D>(Shape{o.channels}, T(0));
    running_var = filled<T, D>(Shape{o.channels}, T(1));
    if (o.affine) {
      weight.value = filled<T, D>(Shape{o.channels}, T(1));
      bias.value = filled<T, D>(Shape{o.channels}, T(0));
    }
  }
  index_t channels() const { return running_mean.numel(); }
  /// Synchronizes the batch statistics over comm's ranks in training (nullptr: no longer).
  void set_sync(distributed::Communicator* comm) { sync = comm; }

  /// The normalized x (no affine transform); updates the running statistics in training.
  template <class V>
  V normalize(const V& x) {
    require(x.shape().rank() >= 2 && x.shape()[1] == channels(), "BatchNorm2d: input ", x.shape(), " for ", channels(),
            " channels");
    if (!this->training) return batch_norm_eval(x, running_mean, running_var, V(), V(), eps);
    if (sync && sync->size() > 1) {
      NormStats<T, D> st;
      index_t global_count = 0;
      V y = batch_norm_train_over_ranks(*sync, x, V(), V(), eps, &st, &global_count);
      require(global_count > 1, "BatchNorm2d: training needs more than one value per channel over the ", sync->size(),
              " ranks, got ", global_count);
      update_running(st, global_count);
      return y;
    }
    const index_t count = x.numel() / channels();
    require(count > 1, "BatchNorm2d: training needs more than one value per channel, got input ", x.shape());
    NormStats<T, D> st;
    V y = batch_norm_train(x, V(), V(), eps, &st);
    update_running(st, count);
    return y;
  }
  template <class V>
  V operator()(const V& x) {
    V y = normalize(x);
    if (!weight.value.defined()) return y;
    Shape cs = ones_shape(x.shape());
    cs[1] = channels();
    return add(mul(y, reshape(lift<V>(weight), cs)), reshape(lift<V>(bias), cs));
  }
  /// ReLU(BatchNorm(x)) (BigGAN's output block): one op in training on one process.
  template <class V>
  V with_relu(const V& x) {
    if (!weight.value.defined()) return normalize_affine(x, V(), V(), true);
    // the per-channel affine map as one per sample and channel, what the fused op takes
    require(x.shape().rank() >= 2, "BatchNorm2d: input ", x.shape(), " for ", channels(), " channels");
    const V rows = constant<V>(filled<T, D>(Shape{x.shape()[0], channels()}, T(0)));
    const Shape cs{1, channels()};
    return normalize_affine(x, add(rows, reshape(lift<V>(weight), cs)), add(rows, reshape(lift<V>(bias), cs)), true);
  }
  /// x normalized (no affine map of its own), then ·scale + shift per sample and channel (N×C or
  /// N×C×1×1; undefined: 1, 0), then a ReLU when `relu`: batch_norm_train_affine, one op, in
  /// training on one process; composed from normalize otherwise. Updates the running statistics
  /// in training (ConditionalBatchNorm's path).
  template <class V>
  V normalize_affine(const V& x, const V& scale, const V& shift, bool relu) {
    if (!this->training || (sync && sync->size() > 1)) {
      V y = normalize(x);
      Shape ps = ones_shape(x.shape());
      ps[0] = x.shape()[0];
      ps[1] = channels();
      if (scale.defined()) y = mul(y, reshape(scale, ps));
      if (shift.defined()) y = add(y, reshape(shift, ps));
      return relu ? structgan::relu(y) : y;
    }
    require(x.shape().rank() >= 2 && x.shape()[1] == channels(), "BatchNorm2d: input ", x.shape(), " for ", channels(),
            " channels");
    const index_t count = x.numel() / channels();
    require(count > 1, "BatchNorm2d: training needs more than one value per channel, got input ", x.shape());
    NormStats<T, D> st;
    V y = batch_norm_train_affine(x, scale, shift, eps, relu, &st);
    update_running(st, count);
    return y;
  }
  template <class F>
  void members(F&& f) {
    if (weight.value.defined()) {
      f("weight", weight);
      f("bias", bias);
    }
    f("running_mean", running_mean);
    f("running_var", running_var);
  }

 private:
  /// running ← (1 − m)·running + m·batch, with the unbiased batch variance (× n/(n − 1)), as
  /// PyTorch does. The batch variance is recovered from rstd = 1/√(var + eps).
  void update_running(const NormStats<T, D>& st, index_t count) {
    const Tensor<T, D> var = clamp_min(add_scalar(reciprocal(square(st.rstd)), -eps), T(0));
    const T unbias = static_cast<T>(static_cast<double>(count) / static_cast<double>(count - 1));
    assign(running_mean, add(mul_scalar(running_mean, T(1) - momentum), mul_scalar(st.mean, momentum)));
    assign(running_var, add(mul_scalar(running_var, T(1) - momentum), mul_scalar(var, momentum * unbias)));
  }
};

/// Options of BigGAN's conditional BatchNorm.
struct ConditionalBatchNormOptions {
  index_t channels = 0;   ///< C of the normalized input
  index_t cond_dim = 0;   ///< size of the conditioning vector y
  double eps = 1e-5;
  double momentum = 0.1;
  bool spectral_norm = true;  ///< on the gain and bias linears (SPEC §1)
  double sn_eps = 1e-6;
  WeightInit init = WeightInit::KaimingNormalFanOut;
  ConditionalBatchNormOptions() = default;
  ConditionalBatchNormOptions(index_t c, index_t cond) : channels(c), cond_dim(cond) {}
};

/// cbn(x, y) = BatchNorm(x, no affine) · (1 + gain(y)) + bias(y), gain and bias linear maps
/// cond_dim → C without bias (spectrally normalized), applied per sample (SPEC §1, BigGAN's ccbn).
/// x: N×C×H×W, y: N×cond_dim. `set_sync(&comm)` synchronizes its BatchNorm (see BatchNorm2d).
template <class T, class D = Cpu>
struct ConditionalBatchNorm : Module<ConditionalBatchNorm<T, D>> {
  using value_type = T;
  using device_type = D;

  BatchNorm2d<T, D> bn;
  Linear<T, D> gain, bias;

  ConditionalBatchNorm() = default;
  ConditionalBatchNorm(const ConditionalBatchNormOptions& o, Rng& rng) {
    BatchNormOptions bo(o.channels, false);
    bo.eps = o.eps;
    bo.momentum = o.momentum;
    bn = BatchNorm2d<T, D>(bo);
    LinearOptions lo(o.cond_dim, o.channels);
    lo.bias = false;
    lo.spectral_norm = o.spectral_norm;
    lo.sn_eps = o.sn_eps;
    lo.init = o.init;
    gain = Linear<T, D>(lo, rng);
    bias = Linear<T, D>(lo, rng);
  }
  template <class V>
  V operator()(const V& x, const V& y) {
    return apply(x, y, false);
  }
  /// ReLU(cbn(x, y)): BigGAN's blocks follow every conditional BatchNorm with a ReLU; one op in
  /// training (BatchNorm2d::normalize_affine).
  template <class V>
  V with_relu(const V& x, const V& y) {
    return apply(x, y, true);
  }
  void set_sync(distributed::Communicator* comm) { bn.set_sync(comm); }
  template <class F>
  void members(F&& f) {
    f("gain", gain);
    f("bias", bias);
    f("", bn);  // the running statistics directly under the module's name
  }

 private:
  template <class V>
  V apply(const V& x, const V& y, bool relu) {
    require(x.shape().rank() == 4 && y.shape().rank() == 2 && y.shape()[0] == x.shape()[0], "ConditionalBatchNorm: input ",
            x.shape(), " with condition ", y.shape());
    V scale = add_scalar(gain(y), typename ValueTraits<V>::scalar(1));  // N×C
    return bn.normalize_affine(x, scale, bias(y), relu);
  }
};

namespace detail {
// set_batch_norm_sync's walk over a members() list: parameters and buffers are skipped, BatchNorm
// takes the communicator, other modules pass it to their members.
template <class T, class D>
void sync_member(Parameter<T, D>&, distributed::Communicator*) {}
template <class T, class D>
void sync_member(Tensor<T, D>&, distributed::Communicator*) {}
template <class T, class D>
void sync_member(BatchNorm2d<T, D>& bn, distributed::Communicator* comm) { bn.set_sync(comm); }
template <class M>
void sync_member(M& module, distributed::Communicator* comm) {
  module.members([&](const std::string&, auto& m) { sync_member(m, comm); });
}
}  // namespace detail

/// Synchronizes every BatchNorm2d inside `module` (conditional ones included; e.g. BigGAN's
/// generator) over comm's ranks in training; nullptr makes them local again.
template <class M>
void set_batch_norm_sync(M& module, distributed::Communicator* comm) {
  detail::sync_member(module, comm);
}

}  // namespace structgan::nn
