#pragma once
/// \file The caching allocator behind Allocator<Cuda>, written over a raw allocator so that its
/// logic (size classes, reuse, emptying the cache when memory runs out) is plain host C++ and can
/// be tested without a GPU.
///
/// Freed blocks go to a free list per size class and are handed out again without a call to
/// cudaMalloc. Reuse is safe without events because every structgan kernel and copy runs on one
/// stream (the legacy default stream, see runtime.hpp): work queued on a block before it was
/// freed completes before work queued by its next owner.
#include <cstddef>
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
  std::size_t peak_bytes_in_use = 0;
};

/// A thread-safe caching allocator over `Raw`, which provides `void* allocate(std::size_t)`
/// (nullptr when out of memory; throws on other errors), `void release(void*)` and
/// `void synchronize()` (waits for all queued work, before blocks are really freed).
template <class Raw>
class CachingPool {
 public:
  explicit CachingPool(Raw raw = Raw()) : raw_(std::move(raw)) {}
  CachingPool(const CachingPool&) = delete;
  CachingPool& operator=(const CachingPool&) = delete;

  /// A block of at least `bytes` bytes; `*size_class` receives its size class, which
  /// deallocate needs back. Empties the cache and retries once when the raw allocator fails;
  /// throws structgan::Error if it still fails.
  void* allocate(std::size_t bytes, std::size_t* size_class) {
    const std::size_t b = bin_size(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    void* p = nullptr;
    auto it = free_.find(b);
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      stats_.bytes_cached -= b;
      ++stats_.reuses;
    } else {
      p = raw_.allocate(b);
      if (!p && stats_.bytes_cached > 0) {
        release_cached_locked();
        p = raw_.allocate(b);
      }
      if (!p)
        fail("cuda: out of device memory allocating ", b, " bytes (", stats_.bytes_in_use,
             " bytes held by live tensors; the cache was emptied)");
      ++stats_.raw_allocations;
    }
    stats_.bytes_in_use += b;
    if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
    if (size_class) *size_class = b;
    return p;
  }

  /// Returns a block obtained from allocate (with its size class) to its free list.
  void deallocate(void* p, std::size_t size_class) noexcept {
    if (!p) return;
    std::lock_guard<std::mutex> lock(mutex_);
    try {
      free_[size_class].push_back(p);
    } catch (...) {  // no memory for the list: leak the block rather than throw from a deleter
      stats_.bytes_in_use -= size_class;
      return;
    }
    stats_.bytes_in_use -= size_class;
    stats_.bytes_cached += size_class;
  }

  /// Waits for queued work, then gives every cached block back to the raw allocator.
  void release_cached() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cached_locked();
  }

  PoolStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  void release_cached_locked() {
    if (stats_.bytes_cached == 0) return;
    raw_.synchronize();
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
  PoolStats stats_;
};

}  // namespace structgan::backend::cuda
