#pragma once
/// \file Real training data as an endless, seekable sequence of batches (SPEC §5, §7): batch k
/// depends only on (configuration, k), so a resumed run continues with exactly the batch the
/// interrupted one would have drawn next.
///
/// \code
///   auto data = train::make_train_data(config);     // reads the train split, augmentation per config
///   train::HostBatch b;
///   data->next(b);                                  // b.x: batch × C×H×W floats in [−1, 1]
///   data->seek(1000);                               // the next batch is batch 1000
/// \endcode
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "structgan/core/random.hpp"
#include "structgan/core/shape.hpp"
#include "structgan/data/all.hpp"
#include "structgan/train/config.hpp"

namespace structgan::train {

/// One batch on the host: n samples of `sample` shape (C×H×W images or 2-D points), NCHW floats.
struct HostBatch {
  std::vector<float> x;
  Shape shape;              ///< n × sample shape
  std::vector<int> labels;  ///< n labels
  std::uint64_t epoch = 0;
};

/// A seekable endless sequence of real batches.
class RealData {
 public:
  virtual ~RealData() = default;
  /// Fills b with batch position() and advances.
  virtual void next(HostBatch& b) = 0;
  /// The index of the batch next() returns next.
  virtual std::uint64_t position() const = 0;
  /// Makes batch k the next one.
  virtual void seek(std::uint64_t k) = 0;
  virtual index_t classes() const = 0;
  virtual std::vector<std::string> class_names() const = 0;
  /// The shape of one sample (C×H×W, or {2} for points).
  virtual Shape sample_shape() const = 0;
  virtual std::uint64_t batches_per_epoch() const = 0;
  /// Data-parallel training: from now on serve only rank `rank`'s rows [rank·b/N, (rank+1)·b/N)
  /// of each batch, exactly as they are in the whole batch. Returns false when this source cannot
  /// (then it serves whole batches and the caller keeps its rows).
  virtual bool select_rows(int /*rank*/, int /*ranks*/) { return false; }
};

/// An ImageSet served by data::BatchLoader (seeded shuffles and transforms; drop_last).
/// `source_indices` (optional) says which image of the data set's train split each image of `set`
/// is: the images a run trains on, with the validation images left out (see make_train_data).
class ImageData : public RealData {
 public:
  ImageData(data::ImageSet set, const data::Transform& t, int batch_size, std::uint64_t seed, int threads,
            std::vector<std::size_t> source_indices = {})
      : set_(std::make_shared<const data::ImageSet>(std::move(set))), transform_(t),
        source_indices_(std::move(source_indices)) {
    require(source_indices_.empty() || source_indices_.size() == set_->size(), "ImageData: ", source_indices_.size(),
            " source indices for ", set_->size(), " images");
    options_.batch_size = batch_size;
    options_.shuffle = true;
    options_.drop_last = true;
    options_.seed = seed;
    options_.threads = threads;
    seek(0);
  }
  void next(HostBatch& b) override {
    loader_->next(batch_);
    b.x.swap(batch_.images);
    b.labels.swap(batch_.labels);
    b.shape = Shape{batch_.n, batch_.c, batch_.h, batch_.w};
    b.epoch = batch_.epoch;
    ++position_;
  }
  std::uint64_t position() const override { return position_; }
  void seek(std::uint64_t k) override {
    loader_.reset();
    options_.start_batch = k;
    loader_ = std::make_unique<data::BatchLoader>(*set_, transform_, options_);
    position_ = k;
  }
  index_t classes() const override { return static_cast<index_t>(set_->class_names.size()); }
  std::vector<std::string> class_names() const override { return set_->class_names; }
  Shape sample_shape() const override { return Shape{set_->channels, loader_->height(), loader_->width()}; }
  std::uint64_t batches_per_epoch() const override { return loader_->batches_per_epoch(); }
  /// The loader transforms only this rank's images (with their draws in the whole batch).
  bool select_rows(int rank, int ranks) override {
    options_.part = rank;
    options_.parts = ranks;
    seek(position_);
    return true;
  }
  const data::ImageSet& images() const { return *set_; }
  /// The index in the train split of each image served (empty: the whole split, in order).
  const std::vector<std::size_t>& source_indices() const { return source_indices_; }

 private:
  std::shared_ptr<const data::ImageSet> set_;
  data::Transform transform_;
  std::vector<std::size_t> source_indices_;
  data::LoaderOptions options_;
  std::unique_ptr<data::BatchLoader> loader_;
  data::Batch batch_;
  std::uint64_t position_ = 0;
};

/// The double spiral (SPEC §7), a fresh seeded draw of batch_size points for every batch
/// (batch k uses seed mix(seed, k)); half of each batch per spiral.
class SpiralData : public RealData {
 public:
  SpiralData(int batch_size, std::uint64_t seed, double noise) : batch_(batch_size), seed_(seed), noise_(noise) {
    require(batch_size >= 2 && batch_size % 2 == 0, "SpiralData: batch_size must be even and ≥ 2, got ", batch_size);
  }
  void next(HostBatch& b) override {
    data::SpiralOptions o;
    o.noise = noise_;
    const data::PointSet p = data::make_double_spiral(static_cast<std::size_t>(batch_), batch_seed(seed_, position_), o);
    b.x.resize(static_cast<std::size_t>(batch_) * 2);
    for (int i = 0; i < batch_; ++i) {
      b.x[2 * i] = p.points(i, 0);
      b.x[2 * i + 1] = p.points(i, 1);
    }
    b.labels = p.labels;
    b.shape = Shape{batch_, 2};
    b.epoch = 0;
    ++position_;
  }
  std::uint64_t position() const override { return position_; }
  void seek(std::uint64_t k) override { position_ = k; }
  index_t classes() const override { return 2; }
  std::vector<std::string> class_names() const override { return {"spiral 0", "spiral 1"}; }
  Shape sample_shape() const override { return Shape{2}; }
  std::uint64_t batches_per_epoch() const override { return 1; }

  /// The seed of batch k (SplitMix64 of seed and k).
  static std::uint64_t batch_seed(std::uint64_t seed, std::uint64_t k) {
    std::uint64_t z = seed * 0x9E3779B97F4A7C15ull + k + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  int batch_;
  std::uint64_t seed_;
  double noise_;
  std::uint64_t position_ = 0;
};

/// The data_dir a configuration reads ("" means the data set's default folder).
inline std::string data_dir_of(const TrainConfig& c) {
  if (!c.data_dir.empty()) return c.data_dir;
  if (c.dataset == "fashion_mnist") return data::default_fashion_mnist_dir();
  if (c.dataset == "cifar10") return "data/cifar10";
  if (c.dataset == "cifar100") return "data/cifar100";
  if (c.dataset == "imagenet10") return "data/imagenet10";
  return "";
}

/// Reads one split of the configured image data set (the readers' errors surface unchanged).
inline data::ImageSet load_split(const TrainConfig& c, data::Split split) {
  const std::string dir = data_dir_of(c);
  if (c.dataset == "fashion_mnist") return data::load_fashion_mnist(dir, split);
  if (c.dataset == "cifar10") return data::load_cifar10(dir, split);
  if (c.dataset == "cifar100") {
    data::Cifar100Options o;
    o.coarse_labels = c.cifar100_labels == "coarse";
    return data::load_cifar100(dir, split, o);
  }
  if (c.dataset == "imagenet10") {
    require(c.bad_files == "fail" || c.bad_files == "skip", "train config: 'bad_files' must be fail or skip, got '",
            c.bad_files, "'");
    data::ImageNet10Options o;
    o.bad_files = c.bad_files == "skip" ? data::BadFiles::skip : data::BadFiles::fail;
    return data::load_imagenet10(dir, split, o);
  }
  fail("load_split: dataset '", c.dataset, "' holds no images");
}

/// The training transform of a configuration: RandomResizedCrop(image_size, crop_scale_min–1) and
/// a flip with probability flip_p when augment is on (SPEC §5), else a resize to image_size.
inline data::Transform train_transform_of(const TrainConfig& c, int in_h, int in_w) {
  const int s = static_cast<int>(c.image_size);
  if (c.augment) {
    data::Transform t = data::train_transform(s);
    t.scale_min = c.crop_scale_min;
    t.flip_p = c.flip_p;
    return t;
  }
  data::Transform t;
  t.out_h = t.out_w = s;
  if (in_h != s || in_w != s) t.resize_shorter = s;
  return t;
}

/// The test transform (SPEC §5): ImageNet-10 resizes the shorter side to 144 (9/8 of the size)
/// and crops the center; the others are used as they are, resized when their size differs. The
/// size is eval_image_size when set (a network trained on crops may see test images larger).
inline data::Transform test_transform_of(const TrainConfig& c, int in_h, int in_w) {
  const int s = static_cast<int>(c.eval_image_size > 0 ? c.eval_image_size : c.image_size);
  if (c.dataset == "imagenet10") {
    data::Transform t = data::imagenet10_test_transform();
    t.out_h = t.out_w = s;
    t.resize_shorter = s * 9 / 8;
    return t;
  }
  data::Transform t;
  t.out_h = t.out_w = s;
  if (in_h != s || in_w != s) {
    t.resize_shorter = s;
    t.resample.interpolation = data::Interpolation::bilinear;
  }
  return t;
}

/// A train split divided into the images training reads and the held-out validation images, as
/// indices into the split (each list ascending, the two disjoint, together every index).
struct HoldoutIndices {
  std::vector<std::size_t> train, validation;
};

/// Holds `n` of the images with `labels` out, stratified: each of the K classes gives the same
/// share n / K (a class with fewer images gives all of them and the others make up the rest), and
/// the remainder below K goes one image each to classes drawn by the seed. Within a class the
/// images are a seeded draw (Fisher–Yates over structgan::Rng, whose draws are the same with every
/// standard library). `n` must be below labels.size(); `what` names the key in the message.
inline HoldoutIndices stratified_holdout(const std::vector<int>& labels, std::size_t n, std::uint64_t seed,
                                         const std::string& what = "'validation_size'") {
  require(n < labels.size(), "train config: ", what, " = ", n, " must be less than the ", labels.size(),
          " images it is held out of");
  std::map<int, std::vector<std::size_t>> by_class;
  for (std::size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(i);
  std::vector<std::vector<std::size_t>*> classes;
  for (auto& [label, idx] : by_class) classes.push_back(&idx);
  // Water-filling: an equal share of what is left to every class that still has images, until the
  // shares no longer divide; then one more each to classes in a seeded order.
  std::vector<std::size_t> quota(classes.size(), 0);
  std::size_t left = n;
  while (left > 0) {
    std::vector<std::size_t> open;
    for (std::size_t k = 0; k < classes.size(); ++k)
      if (quota[k] < classes[k]->size()) open.push_back(k);
    const std::size_t share = left / open.size();  // open is never empty: n < labels.size()
    if (share == 0) {
      Rng order(seed ^ 0x5bd1e995ull);
      for (std::size_t i = open.size(); i > 1; --i) std::swap(open[i - 1], open[order.below(i)]);
      for (std::size_t i = 0; i < left; ++i) ++quota[open[i]];
      break;
    }
    for (const std::size_t k : open) {
      const std::size_t add = std::min(share, classes[k]->size() - quota[k]);
      quota[k] += add;
      left -= add;
    }
  }
  HoldoutIndices out;
  std::vector<bool> held(labels.size(), false);
  for (std::size_t k = 0; k < classes.size(); ++k) {
    std::vector<std::size_t> idx = *classes[k];
    Rng rng(seed * 0x9E3779B97F4A7C15ull + k + 1);
    for (std::size_t i = idx.size(); i > 1; --i) std::swap(idx[i - 1], idx[rng.below(i)]);
    for (std::size_t i = 0; i < quota[k]; ++i) held[idx[i]] = true;
  }
  for (std::size_t i = 0; i < labels.size(); ++i) (held[i] ? out.validation : out.train).push_back(i);
  return out;
}

/// The held-out indices of a configuration's train split (`validation_size` of them, drawn by
/// `validation_seed`; none when validation_size is 0). The training part must still hold a batch.
inline HoldoutIndices holdout_of(const TrainConfig& c, const data::ImageSet& train_split) {
  HoldoutIndices h;
  if (c.validation_size == 0) {
    h.train.resize(train_split.size());
    for (std::size_t i = 0; i < h.train.size(); ++i) h.train[i] = i;
    return h;
  }
  require(static_cast<std::uint64_t>(c.validation_size) < train_split.size(), "train config: 'validation_size' = ",
          c.validation_size, " must be less than the ", train_split.size(), " images of the ", c.dataset,
          " train split (the rest is trained on)");
  h = stratified_holdout(train_split.labels, static_cast<std::size_t>(c.validation_size),
                         static_cast<std::uint64_t>(c.validation_seed));
  require(h.train.size() >= static_cast<std::size_t>(c.batch_size), "train config: 'validation_size' = ",
          c.validation_size, " leaves ", h.train.size(), " of the ", train_split.size(),
          " training images, fewer than one batch ('batch_size' = ", c.batch_size, ")");
  return h;
}

/// A configuration's train split, divided: `train` the images training reads, `validation` the
/// held-out ones (empty when validation_size is 0), `indices` which image of the split each is.
struct TrainValidationSplit {
  data::ImageSet train, validation;
  HoldoutIndices indices;
};

/// Reads the train split and divides it as holdout_of says.
inline TrainValidationSplit load_train_validation(const TrainConfig& c) {
  data::ImageSet all = load_split(c, data::Split::train);
  TrainValidationSplit s;
  s.indices = holdout_of(c, all);
  if (s.indices.validation.empty()) {
    s.train = std::move(all);
  } else {
    s.train = data::subset(all, s.indices.train);
    s.validation = data::subset(all, s.indices.validation);
  }
  return s;
}

/// The training data a configuration describes: the train split without its validation_size
/// held-out images (load_train_validation), so that no held-out image is ever trained on.
inline std::unique_ptr<RealData> make_train_data(const TrainConfig& c) {
  validate(c);
  if (c.dataset == "double_spiral")
    return std::make_unique<SpiralData>(static_cast<int>(c.batch_size), static_cast<std::uint64_t>(c.seed), c.spiral_noise);
  TrainValidationSplit split = load_train_validation(c);
  const data::Transform t = train_transform_of(c, split.train.height, split.train.width);
  return std::make_unique<ImageData>(std::move(split.train), t, static_cast<int>(c.batch_size),
                                     static_cast<std::uint64_t>(c.seed) * 1000003ull + 17ull,
                                     static_cast<int>(c.loader_threads), std::move(split.indices.train));
}

}  // namespace structgan::train
