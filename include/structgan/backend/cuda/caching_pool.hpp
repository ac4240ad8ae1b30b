#pragma once
/// \file The caching allocator behind Allocator<Cuda>, written over a raw allocator so that its
/// logic (size classes, reuse, emptying the cache when memory runs out, and when a block used on
/// other streams may be reused) is plain host C++ and can be tested without a GPU.
///
/// Freed blocks go to a free list per size class and are handed out again without a call to
/// cudaMalloc. Every block belongs to the pool's *home stream* (the backend's stream, see
/// runtime.hpp), on which structgan queues all its work: work queued there on a block before it
/// was freed completes before work queued there by its next owner, so such a block is reused at
/// once. Work on any other stream (NCCL's, a user's) is not ordered with it, so whoever queues
/// work on a block there declares it with record_stream(block, stream), as PyTorch's
/// Tensor.record_stream. When such a block is freed, the pool records an event on each of those
/// streams and parks the block; it goes back to its free list only once every one of those
/// events has completed (checked without waiting, at each allocation). Until then a request of
/// its class gets another block.
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "structgan/core/error.hpp"

namespace structgan::backend::cuda {

/// The smallest block the pool hands out (cudaMalloc aligns to 256 bytes anyway).
inline constexpr std::size_t min_block_bytes = 512;

/// The size class of a request of `bytes`: 512 bytes at least, else rounded up to a quarter of
/// the power of two below it (four classes per doubling, so at most 25% is wasted).
inline std::size_t bin_size(std::size_t bytes) {
  if (bytes <= min_block_bytes) return min_block_bytes;
  std::size_t e = 0;  // 2^e < bytes <= 2^(e+1)
  while ((std::size_t(1) << (e + 1)) < bytes) ++e;
  const std::size_t step = std::size_t(1) << (e - 2);
  return (bytes + step - 1) / step * step;
}

/// Counters of a CachingPool (bytes are size classes, not requests).
struct PoolStats {
  std::size_t raw_allocations = 0;  ///< calls to the raw allocator that succeeded
  std::size_t raw_frees = 0;        ///< blocks given back to the raw allocator
  std::size_t reuses = 0;           ///< allocations served from a free list
  std::size_t bytes_in_use = 0;     ///< held by live handles
  std::size_t bytes_cached = 0;     ///< in the free lists
  std::size_t bytes_pending = 0;    ///< freed, waiting for work on other streams (record_stream) to finish
  std::size_t events_recorded = 0;  ///< events recorded on other streams when their blocks were freed
  std::size_t bytes_abandoned = 0;  ///< freed blocks never reused because an event could not be recorded
  std::size_t peak_bytes_in_use = 0;
};

/// A thread-safe caching allocator over `Raw`, which provides
/// - `void* allocate(std::size_t)` (nullptr when out of memory; throws on other errors),
///   `void release(void*)`, and `void synchronize()` (waits for all queued work on every stream,
///   before blocks are really freed);
/// - types `Stream` and `Event`, `Stream home_stream()` (the stream all the pool's users queue
///   their work on), `Event record_event(Stream)` (an event marking the work queued on that
///   stream so far), `bool event_done(Event)` (whether that work has finished; never waits) and
///   `void release_event(Event)`.
/// The pool calls Raw only while holding its lock.
template <class Raw>
class CachingPool {
 public:
  using Stream = typename Raw::Stream;
  using Event = typename Raw::Event;

  explicit CachingPool(Raw raw = Raw()) : raw_(std::move(raw)) {}
  CachingPool(const CachingPool&) = delete;
  CachingPool& operator=(const CachingPool&) = delete;

  /// A block of at least `bytes` bytes; `*size_class` receives its size class, which
  /// deallocate needs back. Empties the cache and retries once when the raw allocator fails;
  /// throws structgan::Error if it still fails.
  void* allocate(std::size_t bytes, std::size_t* size_class) {
    const std::size_t b = bin_size(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    if (!pending_.empty()) process_pending_locked();
    void* p = nullptr;
    auto it = free_.find(b);
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      stats_.bytes_cached -= b;
      ++stats_.reuses;
    } else {
      p = raw_.allocate(b);
      if (!p && stats_.bytes_cached + stats_.bytes_pending > 0) {
        release_cached_locked();
        p = raw_.allocate(b);
      }
      if (!p)
        fail("cuda: out of device memory allocating ", b, " bytes (", stats_.bytes_in_use,
             " bytes held by live tensors; the cache was emptied)");
      ++stats_.raw_allocations;
    }
    try {
      live_.emplace(address(p), LiveBlock{b, {}});
    } catch (...) {  // no memory for the record: the block goes back to its list
      free_[b].push_back(p);
      stats_.bytes_cached += b;
      throw;
    }
    stats_.bytes_in_use += b;
    if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
    if (size_class) *size_class = b;
    return p;
  }

  /// Declares that work on `stream` uses the live block that contains `p` (any address inside
  /// it): when the block is freed it is reused only after the work queued on `stream` until
  /// then has finished. The home stream needs no record (its work is ordered anyway). Returns
  /// false, and records nothing, when `p` is not in a live block of this pool (memory the
  /// caller allocated otherwise, whose reuse is the caller's business).
  bool record_stream(const void* p, Stream stream) {
    std::lock_guard<std::mutex> lock(mutex_);
    LiveBlock* block = live_block_locked(p);
    if (!block) return false;
    if (stream == raw_.home_stream()) return true;
    for (const Stream& s : block->streams)
      if (s == stream) return true;
    block->streams.push_back(stream);
    return true;
  }

  /// Returns a block obtained from allocate (with its size class) to its free list, or, when
  /// work on other streams was recorded on it, parks it until that work has finished.
  void deallocate(void* p, std::size_t size_class) noexcept {
    if (!p) return;
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Stream> streams;
    if (auto it = live_.find(address(p)); it != live_.end()) {
      streams = std::move(it->second.streams);
      live_.erase(it);
    }
    stats_.bytes_in_use -= size_class;
    if (streams.empty()) {
      try {
        free_[size_class].push_back(p);
      } catch (...) {  // no memory for the list: leak the block rather than throw from a deleter
        return;
      }
      stats_.bytes_cached += size_class;
      return;
    }
    PendingBlock parked{p, size_class, {}};
    try {
      parked.events.reserve(streams.size());
      for (const Stream& s : streams) {
        parked.events.push_back(raw_.record_event(s));
        ++stats_.events_recorded;
      }
      pending_.push_back(std::move(parked));
    } catch (...) {
      // Without an event on every stream that used it (no memory, or the runtime refused), the
      // block cannot be proven free: it is abandoned, never reused (a deleter must not throw).
      for (const Event& e : parked.events) release_event_quietly(e);
      stats_.bytes_abandoned += size_class;
      return;
    }
    stats_.bytes_pending += size_class;
  }

  /// Waits for queued work on every stream, then gives every cached block (and every parked
  /// one whose streams have finished) back to the raw allocator.
  void release_cached() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cached_locked();
  }

  PoolStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  struct LiveBlock {
    std::size_t size_class;
    std::vector<Stream> streams;  ///< other streams than the home stream that used the block
  };
  struct PendingBlock {
    void* p;
    std::size_t size_class;
    std::vector<Event> events;  ///< one per stream that used it, recorded when it was freed
  };

  static std::uintptr_t address(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

  /// The live block whose bytes contain p, or nullptr.
  LiveBlock* live_block_locked(const void* p) {
    auto it = live_.upper_bound(address(p));  // the first block starting after p
    if (it == live_.begin()) return nullptr;
    --it;
    return address(p) < it->first + it->second.size_class ? &it->second : nullptr;
  }

  void release_event_quietly(const Event& e) noexcept {
    try {
      raw_.release_event(e);
    } catch (...) {
    }
  }

  /// Moves every parked block whose events have all completed to its free list (a block is
  /// moved only once its events are known done, so a throwing query leaves the lists consistent).
  void process_pending_locked() {
    for (std::size_t i = 0; i < pending_.size();) {
      PendingBlock& b = pending_[i];
      bool done = true;
      for (const Event& e : b.events)
        if (!raw_.event_done(e)) {
          done = false;
          break;
        }
      if (!done) {
        ++i;
        continue;
      }
      free_[b.size_class].push_back(b.p);
      stats_.bytes_pending -= b.size_class;
      stats_.bytes_cached += b.size_class;
      std::vector<Event> events = std::move(b.events);
      if (i + 1 != pending_.size()) pending_[i] = std::move(pending_.back());  // order is irrelevant
      pending_.pop_back();
      for (const Event& e : events) release_event_quietly(e);
    }
  }

  void release_cached_locked() {
    if (stats_.bytes_cached + stats_.bytes_pending == 0) return;
    raw_.synchronize();  // every stream's work done: the parked blocks' events have completed
    if (!pending_.empty()) process_pending_locked();
    for (auto& [size, blocks] : free_) {
      for (void* p : blocks) {
        raw_.release(p);
        ++stats_.raw_frees;
        stats_.bytes_cached -= size;
      }
      blocks.clear();
    }
  }

  Raw raw_;
  mutable std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> free_;
  std::map<std::uintptr_t, LiveBlock> live_;  ///< by address: record_stream finds the block containing a pointer
  std::vector<PendingBlock> pending_;
  PoolStats stats_;
};

}  // namespace structgan::backend::cuda
