#pragma once
/// \file Image quality of a generator (issue #23): its samples and a data set's images through the
/// FID Inception-v3 (nn/inception.hpp), then FID, Inception Score and KID (eval/image_metrics.hpp).
/// Shared by `structgan-eval --generator` and the trainer's `fid_every` (train/run.hpp).
///
/// Generated images: the latents are drawn from Rng(seed) in batches of `generator_batch` (the
/// run's batch_size), each batch through an independent copy of the generator in training mode —
/// BatchNorm with batch statistics, as the sample grids (Trainer::generate) and training see it —
/// and the last batch is drawn whole and cut, so every image sees a batch of the same size. The
/// images go to Inception as floats in [−1, 1] (not rounded to 8 bits), gray ones repeated to RGB.
///
/// \code
///   auto inception = train::load_inception_v3<float>("pt_inception.npz");
///   train::InceptionRun run;                                   // batch 50, pytorch-fid's resize
///   const auto fake = train::generator_inception_features(g_ema, 10000, 64, 7, inception, run);
///   const auto real = train::image_set_inception_features(train_set, transform, 10000, 7, inception, run);
///   const train::GeneratorQuality q = train::generator_quality(train::pool3_statistics(real), fake);
///   // q.fid, q.inception_score.mean, q.inception_score.std
/// \endcode
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "structgan/data/all.hpp"
#include "structgan/eval/image_metrics.hpp"
#include "structgan/io/npz.hpp"
#include "structgan/nn/inception.hpp"
#include "structgan/train/inception.hpp"
#include "structgan/train/config.hpp"
#include "structgan/train/data_source.hpp"

namespace structgan::train {

/// How images reach Inception.
struct InceptionRun {
  index_t batch = 50;                               ///< images per forward pass (pytorch-fid: 50)
  ResizeKind resize = ResizeKind::PytorchBilinear;  ///< pytorch-fid's resize (its statistics need it)
  bool progress = false;                            ///< a progress bar on stderr
};

namespace detail {

/// Copies images [from, from + count) of a host N×C×H×W batch into rows [to, to + count) of `out`
/// (M×3×H×W), gray ones repeated to R, G and B.
inline void copy_rgb_rows(const Tensor<float, Cpu>& x, index_t from, index_t count, Tensor<float, Cpu>& out, index_t to) {
  const index_t c = x.dim(1), plane = x.dim(2) * x.dim(3);
  require(c == 1 || c == 3, "Inception: images must be gray or RGB, got ", x.shape());
  require(out.dim(2) == x.dim(2) && out.dim(3) == x.dim(3), "Inception: images of ", x.shape(), " into ", out.shape());
  for (index_t i = 0; i < count; ++i)
    for (index_t k = 0; k < 3; ++k)
      std::memcpy(out.data() + ((to + i) * 3 + k) * plane, x.data() + ((from + i) * c + (c == 3 ? k : 0)) * plane,
                  sizeof(float) * static_cast<std::size_t>(plane));
}

}  // namespace detail

/// Inception features of `n` images of generator g (see the file comment): latents from Rng(seed),
/// `generator_batch` per generator pass, g itself untouched.
template <class GNet, class Dev>
InceptionFeatures generator_inception_features(const GNet& g, std::int64_t n, std::int64_t generator_batch,
                                               std::uint64_t seed, const nn::InceptionV3<float, Dev>& inception,
                                               const InceptionRun& o) {
  using T = typename GNet::value_type;
  using GDev = typename GNet::device_type;
  require(n >= 1, "generator_inception_features: needs at least one image, got ", n);
  require(generator_batch >= 1, "generator_inception_features: generator batch must be ≥ 1, got ", generator_batch);
  GNet copy = nn::clone_module(g);
  copy.train(true);  // batch statistics (see the file comment)
  Rng rng(seed);
  NoGradGuard no_grad;
  Tensor<float, Cpu> pending;  // the last generated batch; rows [0, used) handed out already
  index_t used = 0;
  auto generate = [&] {
    const Tensor<T, Cpu> z = randn<T>(Shape{static_cast<index_t>(generator_batch), copy.options.z_dim}, rng);
    const Tensor<T, Cpu> y = to_host(copy(to_device<GDev>(z)));
    pending = Tensor<float, Cpu>(y.shape());
    for (index_t i = 0; i < y.numel(); ++i) pending.data()[i] = static_cast<float>(y.data()[i]);
    used = 0;
  };
  // Inception asks for consecutive ranges; each is cut from the generated batches in order.
  const InceptionImageBatch<float, Dev> images = [&](index_t, index_t count) {
    Tensor<float, Cpu> x;
    for (index_t done = 0; done < count;) {
      if (!pending.defined() || used == pending.dim(0)) generate();
      if (!x.defined()) x = Tensor<float, Cpu>(Shape{count, 3, pending.dim(2), pending.dim(3)});
      const index_t k = std::min(count - done, pending.dim(0) - used);
      detail::copy_rgb_rows(pending, used, k, x, done);
      used += k;
      done += k;
    }
    return to_device<Dev>(x);
  };
  return extract_inception_features<float, Dev>(inception, static_cast<index_t>(n), images, o.batch, o.resize, o.progress);
}

/// Inception features of `n` images of `set` through transform `t` (0 or ≥ the set's size: all, in order;
/// else the first n of a permutation seeded by `seed`, i.e. a seeded subset).
template <class Dev>
InceptionFeatures image_set_inception_features(const data::ImageSet& set, const data::Transform& t, std::int64_t n,
                                               std::uint64_t seed, const nn::InceptionV3<float, Dev>& inception,
                                               const InceptionRun& o) {
  require(set.size() >= 1, "image_set_inception_features: no images");
  const bool all = n <= 0 || static_cast<std::size_t>(n) >= set.size();
  const index_t count = all ? static_cast<index_t>(set.size()) : static_cast<index_t>(n);
  data::LoaderOptions lo;
  lo.batch_size = static_cast<int>(o.batch);
  lo.shuffle = !all;
  lo.drop_last = false;
  lo.seed = seed;
  data::BatchLoader loader(set, t, lo);
  data::Batch b;
  Tensor<float, Cpu> pending;  // the last loaded batch; rows [0, used) handed out already
  index_t used = 0;
  const InceptionImageBatch<float, Dev> images = [&](index_t, index_t want) {
    Tensor<float, Cpu> x;
    for (index_t done = 0; done < want;) {
      if (!pending.defined() || used == pending.dim(0)) {
        loader.next(b);
        pending = Tensor<float, Cpu>(Shape{b.n, b.c, b.h, b.w});
        std::memcpy(pending.data(), b.images.data(), sizeof(float) * static_cast<std::size_t>(pending.numel()));
        used = 0;
      }
      if (!x.defined()) x = Tensor<float, Cpu>(Shape{want, 3, pending.dim(2), pending.dim(3)});
      const index_t k = std::min(want - done, pending.dim(0) - used);
      detail::copy_rgb_rows(pending, used, k, x, done);
      used += k;
      done += k;
    }
    return to_device<Dev>(x);
  };
  return extract_inception_features<float, Dev>(inception, count, images, o.batch, o.resize, o.progress);
}

/// The transform that brings a data set's images to the generator's size, without augmentation
/// (the test transform at image_size: ImageNet-10's center crop, a bilinear resize elsewhere).
inline data::Transform real_image_transform(const TrainConfig& c, int in_h, int in_w) {
  TrainConfig at_size = c;
  at_size.eval_image_size = 0;
  return test_transform_of(at_size, in_h, in_w);
}

/// FID statistics of features (double).
inline FidStatistics pool3_statistics(const InceptionFeatures& f) { return eval::fid_statistics(f.pool3); }

/// FID and Inception Score of generated features against real statistics.
struct GeneratorQuality {
  double fid = 0;
  eval::MeanStd inception_score;
};

/// FID of `fake` against `real` and the Inception Score of fake's logits without the fc bias (as the
/// original Inception Score code and torch-fidelity; 10 splits unless fewer images). Throws structgan::Error when the feature dimensions differ (statistics of another network).
inline GeneratorQuality generator_quality(const FidStatistics& real, const InceptionFeatures& fake, int is_splits = 10) {
  require(real.mu.size() == fake.pool3.cols(), "FID: the real statistics have dimension ", real.mu.size(),
          " but the Inception network gives ", fake.pool3.cols(), "-d features (statistics of another network?)");
  GeneratorQuality q;
  q.fid = eval::frechet_distance(real, pool3_statistics(fake));
  eval::InceptionScoreOptions io;
  io.splits = static_cast<int>(std::min<Eigen::Index>(is_splits, fake.logits.rows()));
  q.inception_score = eval::inception_score(fake.logits_unbiased, io);
  return q;
}

/// The trainer's periodic FID (fid_every): Inception loaded once; the training data's statistics over
/// min(fid_samples, N) of its images (a seeded subset) computed at the first measurement and cached in
/// the output folder as fid_stats_train.npz (a resumed run reads them back); every measurement
/// samples the same fid_samples latents (Rng(seed + 2): the sample grid's are seed + 1).
template <class Tr>
class FidMonitor {
 public:
  using Dev = typename Tr::Tn::device_type;

  /// Loads the weights (`fresh`: a new run, whose stale cached statistics are removed).
  FidMonitor(Tr& trainer, bool fresh)
      : config_(trainer.config()),
        inception_(load_inception_v3<float, Dev>(config_.fid_inception_weights)),
        cache_((std::filesystem::path(config_.output_dir) / "fid_stats_train.npz").string()) {
    require(dynamic_cast<const ImageData*>(&trainer.data()) != nullptr, "fid_every: the training data holds no images");
    std::error_code ec;
    if (fresh) std::filesystem::remove(cache_, ec);
  }

  /// The cached statistics file.
  const std::string& cache_path() const { return cache_; }

  /// FID and IS of the trainer's EMA generator now: {"fid", "is_mean", "is_std", "fid_samples", "fid_seconds"}.
  nlohmann::json measure(Tr& trainer, bool progress) {
    const auto t0 = std::chrono::steady_clock::now();
    InceptionRun run;
    run.batch = static_cast<index_t>(config_.fid_batch);
    run.progress = progress;
    if (!real_) real_ = std::make_unique<FidStatistics>(real_statistics(trainer, run));
    const InceptionFeatures fake =
        generator_inception_features(trainer.ema_generator(), config_.fid_samples, config_.batch_size,
                                     static_cast<std::uint64_t>(config_.seed) + 2, inception_, run);
    const GeneratorQuality q = generator_quality(*real_, fake);
    nlohmann::json j;
    j["fid"] = q.fid;
    j["is_mean"] = q.inception_score.mean;
    j["is_std"] = q.inception_score.std;
    j["fid_samples"] = config_.fid_samples;
    j["fid_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return j;
  }

 private:
  FidStatistics real_statistics(Tr& trainer, const InceptionRun& run) {
    if (std::filesystem::exists(cache_)) {
      FidStatistics s = io::read_fid_statistics(cache_);
      if (s.mu.size() == inception_output_dim()) return s;
    }
    const data::ImageSet& set = dynamic_cast<const ImageData&>(trainer.data()).images();
    const InceptionFeatures f =
        image_set_inception_features(set, real_image_transform(config_, set.height, set.width), config_.fid_samples,
                                     static_cast<std::uint64_t>(config_.seed) + 3, inception_, run);
    FidStatistics s = pool3_statistics(f);
    io::write_fid_statistics(cache_, s);
    return s;
  }
  Eigen::Index inception_output_dim() const { return static_cast<Eigen::Index>(inception_.feature_dim()); }

  TrainConfig config_;
  nn::InceptionV3<float, Dev> inception_;
  std::string cache_;
  std::unique_ptr<FidStatistics> real_;
};

/// The periodic FID of a run as train::run's `measure_image_quality`: a FidMonitor made now (the
/// Inception weights are read here, so a bad file fails before the first iteration; `fresh`: a new
/// run, whose stale cached statistics are removed) and measured at each call, with Inception's
/// progress and a line of the result on stderr when `progress`. Call it on the rank that measures
/// (rank 0).
/// \code
///   train::run(trainer, options, train::image_sample_writer(trainer), {},
///              train::fid_measurement(trainer, !options.resume, options.progress));
/// \endcode
template <class Tr>
std::function<nlohmann::json(Tr&)> fid_measurement(Tr& trainer, bool fresh, bool progress) {
  auto monitor = std::make_shared<FidMonitor<Tr>>(trainer, fresh);
  return [monitor, progress](Tr& t) {
    nlohmann::json m = monitor->measure(t, progress);
    if (progress)
      std::fprintf(stderr, "structgan: iteration %lld: FID %.4f, IS %.4f ± %.4f (%lld images, %.1f s)\n",
                   static_cast<long long>(t.iteration()), m["fid"].get<double>(), m["is_mean"].get<double>(),
                   m["is_std"].get<double>(), static_cast<long long>(t.config().fid_samples),
                   m["fid_seconds"].get<double>());
    return m;
  };
}

}  // namespace structgan::train
