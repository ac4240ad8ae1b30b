#pragma once
/// \file Batches of transformed images, prepared on a worker thread while the caller trains on the
/// previous one (double buffering). Deterministic for a seed, whatever the thread timing.
///
/// \code
/// using namespace structgan::data;
/// ImageSet train = load_cifar10(dir, Split::train);
/// BatchLoader loader(train, train_transform(32), {/*batch_size=*/512, /*shuffle=*/true, /*drop_last=*/true, /*seed=*/7});
/// for (std::size_t it = 0; it < loader.batches_per_epoch(); ++it) {
///   Batch b = loader.next();  // b.images: 512×3×32×32 floats in [−1, 1], b.labels: 512
/// }
/// \endcode
#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "structgan/core/error.hpp"
#include "structgan/data/detail/random.hpp"
#include "structgan/data/image_set.hpp"
#include "structgan/data/transform.hpp"

namespace structgan::data {

/// One batch: n images C×H×W as one contiguous NCHW float buffer in [−1, 1], and their labels.
struct Batch {
  int n = 0, c = 0, h = 0, w = 0;
  std::vector<float> images;         ///< n·c·h·w floats, NCHW
  std::vector<int> labels;           ///< n labels
  std::vector<std::size_t> indices;  ///< n positions of the images in the ImageSet
  std::uint64_t epoch = 0;           ///< which epoch this batch belongs to (from 0)
  std::size_t index = 0;             ///< which batch of its epoch (from 0)
};

/// Options of BatchLoader.
struct LoaderOptions {
  int batch_size = 512;
  bool shuffle = true;     ///< a new seeded permutation every epoch; false: the set's order
  bool drop_last = false;  ///< true: skip the last, smaller batch of each epoch
  std::uint64_t seed = 0;  ///< the shuffles and every transform draw derive from it
  int threads = 1;         ///< threads transforming one batch (besides the caller's thread)
  std::uint64_t start_batch = 0;  ///< the first batch served is batch start_batch of the sequence (resuming)
  /// Data-parallel training: serve only part `part` of `parts` of each batch, its rows
  /// [part·n/parts, (part+1)·n/parts) (n must be divisible by parts), transformed with the draws
  /// of their positions in the whole batch, so the parts of all ranks are the whole batch.
  int part = 0, parts = 1;
};

/// Serves an endless sequence of batches, epoch after epoch: epoch e is a permutation of the set
/// (drawn from (seed, e)), cut into batches_per_epoch() batches; image i at position p of epoch e is
/// transformed with a generator seeded from (seed, e, p). So the k-th batch depends only on
/// (data, transform, options, k), not on timing or thread count. A worker thread prepares batch
/// k+1 while the caller holds batch k. An exception in the worker (e.g. a bad transform) is
/// rethrown by next(), after the batches prepared before it. The destructor stops and joins it.
///
/// The ImageSet passed by const reference must outlive the loader; one passed as an rvalue is
/// moved into it. Throws structgan::Error for an empty set, batch_size < 1, drop_last with fewer
/// images than one batch, or a transform that does not fit the images.
class BatchLoader {
 public:
  BatchLoader(const ImageSet& data, const Transform& transform, const LoaderOptions& options = {})
      : BatchLoader(std::shared_ptr<const ImageSet>(&data, [](const ImageSet*) {}), transform, options) {}
  BatchLoader(ImageSet&& data, const Transform& transform, const LoaderOptions& options = {})
      : BatchLoader(std::make_shared<const ImageSet>(std::move(data)), transform, options) {}

  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  ~BatchLoader() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

  /// Batches in one epoch: ceil(N / batch_size), or floor with drop_last.
  std::size_t batches_per_epoch() const { return batches_per_epoch_; }
  /// Number of images N in the set.
  std::size_t size() const { return data_->size(); }
  /// Shape of one output image.
  int channels() const { return data_->channels; }
  int height() const { return out_h_; }
  int width() const { return out_w_; }

  /// Moves the next batch into `out` (its old buffers are reused for later batches). Blocks until
  /// the worker has it ready; rethrows the worker's exception if it failed instead.
  void next(Batch& out) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return full_ || error_; });
    if (!full_) std::rethrow_exception(error_);
    std::swap(out, slot_);
    full_ = false;
    lock.unlock();
    cv_.notify_all();
  }

  /// Returns the next batch (see next(Batch&)).
  Batch next() {
    Batch b;
    next(b);
    return b;
  }

 private:
  BatchLoader(std::shared_ptr<const ImageSet> data, const Transform& transform, const LoaderOptions& options)
      : data_(std::move(data)), transform_(transform), options_(options) {
    check(*data_, "BatchLoader");
    const std::size_t n = data_->size();
    require(n > 0, "BatchLoader: the ImageSet is empty");
    require(options_.batch_size >= 1, "BatchLoader: batch_size must be >= 1, got ", options_.batch_size);
    require(options_.threads >= 1, "BatchLoader: threads must be >= 1, got ", options_.threads);
    require(options_.parts >= 1 && options_.part >= 0 && options_.part < options_.parts, "BatchLoader: part ", options_.part,
            " of ", options_.parts, " parts");
    const std::size_t b = static_cast<std::size_t>(options_.batch_size);
    require(!options_.drop_last || n >= b, "BatchLoader: drop_last with ", n, " images and batch_size ", b,
            " leaves no batch");
    batches_per_epoch_ = options_.drop_last ? n / b : (n + b - 1) / b;
    // Every image must give the batch's one output size (variable-size sets: a fixed-size crop).
    std::tie(out_h_, out_w_) = output_size(transform_, data_->image_height(0), data_->image_width(0));
    for (std::size_t i = 1; data_->variable_size() && i < n; ++i)
      require(output_size(transform_, data_->image_height(i), data_->image_width(i)) == std::pair{out_h_, out_w_},
              "BatchLoader: image ", i, " (", data_->image_height(i), "x", data_->image_width(i),
              ") gives another output size than image 0; set the transform's out_h and out_w");
    worker_ = std::thread([this] { run(); });
  }

  void run() {
    Batch work;
    for (std::uint64_t k = options_.start_batch;; ++k) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return !full_ || stop_; });
        if (stop_) return;
      }
      try {
        produce(k, work);
      } catch (...) {
        {
          std::lock_guard<std::mutex> lock(mutex_);
          error_ = std::current_exception();
        }
        cv_.notify_all();
        return;
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        std::swap(slot_, work);
        full_ = true;
      }
      cv_.notify_all();
    }
  }

  /// Fills `b` with batch k of the endless sequence.
  void produce(std::uint64_t k, Batch& b) {
    const ImageSet& d = *data_;
    const std::uint64_t epoch = k / batches_per_epoch_;
    const std::size_t index = static_cast<std::size_t>(k % batches_per_epoch_);
    if (order_.empty() || epoch != order_epoch_) {
      order_.resize(d.size());
      std::iota(order_.begin(), order_.end(), std::size_t(0));
      if (options_.shuffle) {
        std::mt19937_64 g(detail::mix_seed(options_.seed, epoch, ~std::uint64_t(0)));
        detail::shuffle(order_, g);
      }
      order_epoch_ = epoch;
    }
    const std::size_t bs = static_cast<std::size_t>(options_.batch_size);
    std::size_t begin = index * bs, end = std::min(begin + bs, d.size());
    if (options_.parts > 1) {
      const std::size_t whole = end - begin, share = whole / static_cast<std::size_t>(options_.parts);
      require(whole % static_cast<std::size_t>(options_.parts) == 0, "BatchLoader: a batch of ", whole,
              " images does not split into ", options_.parts, " equal parts");
      begin += static_cast<std::size_t>(options_.part) * share;
      end = begin + share;
    }
    const std::size_t n = end - begin;
    b.n = static_cast<int>(n);
    b.c = d.channels;
    b.h = out_h_;
    b.w = out_w_;
    b.epoch = epoch;
    b.index = index;
    const std::size_t per = std::size_t(b.c) * std::size_t(b.h) * std::size_t(b.w);
    b.images.resize(n * per);
    b.labels.resize(n);
    b.indices.assign(order_.begin() + static_cast<std::ptrdiff_t>(begin), order_.begin() + static_cast<std::ptrdiff_t>(end));
    auto one = [&](std::size_t j) {
      const std::size_t i = b.indices[j];
      std::mt19937_64 g(detail::mix_seed(options_.seed, epoch, begin + j));
      transform_image(transform_, d.image(i), d.channels, d.image_height(i), d.image_width(i), b.images.data() + j * per,
                      g);
      b.labels[j] = d.labels[i];
    };
    const std::size_t threads = std::min<std::size_t>(static_cast<std::size_t>(options_.threads), n);
    if (threads <= 1) {
      for (std::size_t j = 0; j < n; ++j) one(j);
      return;
    }
    std::vector<std::exception_ptr> errors(threads);
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < threads; ++t)
      pool.emplace_back([&, t] {
        try {
          for (std::size_t j = t; j < n; j += threads) one(j);
        } catch (...) {
          errors[t] = std::current_exception();
        }
      });
    try {
      for (std::size_t j = 0; j < n; j += threads) one(j);
    } catch (...) {
      errors[0] = std::current_exception();
    }
    for (auto& th : pool) th.join();
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
  }

  std::shared_ptr<const ImageSet> data_;
  Transform transform_;
  LoaderOptions options_;
  std::size_t batches_per_epoch_ = 0;
  int out_h_ = 0, out_w_ = 0;
  // Worker-only state.
  std::vector<std::size_t> order_;
  std::uint64_t order_epoch_ = 0;
  // Shared state, under mutex_.
  std::mutex mutex_;
  std::condition_variable cv_;
  Batch slot_;
  bool full_ = false;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread worker_;  // last: started after everything else is constructed
};

}  // namespace structgan::data
