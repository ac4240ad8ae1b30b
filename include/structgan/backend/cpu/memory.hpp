#pragma once
/// \file Host memory of the CPU backend: Allocator<Cpu> and the cache of freed large blocks it
/// recycles (a training step allocates the same shapes every iteration).
#include <algorithm>
#include <cstring>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <type_traits>

#if defined(__linux__)
#include <sys/mman.h>
#endif
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "structgan/backend/contract.hpp"

namespace structgan {

namespace backend::cpu {
/// Freed host blocks of 256 KiB and more, kept for reuse by later allocations of (nearly) the
/// same size. A training step allocates the same shapes every iteration; giving those blocks
/// back to the OS and faulting fresh, zeroed pages in again cost D's forward+backward ~25% of
/// its time (docs/performance.md).
///
/// No fixed limit by default (set_limit caps it): a training step at batch 64 has 3.8 GB of such
/// blocks live at its peak, in many sizes, and any cap below what its phases need together
/// turned into misses every step (2 GiB: 277 misses and 3.7 GB of fresh pages per step, 17%
/// of the step's time). What bounds the cache instead is the working set: a request that finds
/// no block of its size gives back the oldest cached blocks while the cache plus the request
/// would exceed the most bytes ever live at once. (Giving back as many bytes as requested on
/// every miss, as before, thrashed: the blocks given back were needed later in the same step,
/// so the generator's forward+backward faulted in 725 MiB of fresh pages per step.)
/// Thread-safe.
class HostBlockCache {
 public:
  /// The process-wide cache; never destroyed (tensors in static storage may die after it).
  static HostBlockCache& instance() {
    static HostBlockCache* cache = new HostBlockCache();
    return *cache;
  }
  /// A cached block of `bytes` to bytes·5/4 bytes with this alignment (its size in *got), or
  /// nullptr, after which the caller allocates `bytes` itself (and gives it back here when it is
  /// freed). On a miss the oldest cached blocks go back to the OS while the cache plus the
  /// request would exceed the live high-water mark.
  void* take(std::size_t bytes, std::size_t alignment, std::size_t* got) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.lower_bound(Key{bytes, alignment});
    if (it != free_.end() && it->first.alignment == alignment && it->first.bytes <= bytes + bytes / 4) {
      ++stats_.hits;
      const Block b = *it->second;
      lru_.erase(it->second);
      free_.erase(it);
      cached_ -= b.bytes;
      add_live(b.bytes);
      *got = b.bytes;
      return b.p;
    }
    ++stats_.misses;
    stats_.missed_bytes += bytes;
    add_live(bytes);
    while (!lru_.empty() && cached_ + bytes > max_live_) {
      const Block b = lru_.front();
      auto range = free_.equal_range(Key{b.bytes, b.alignment});
      for (auto f = range.first; f != range.second; ++f)
        if (f->second == lru_.begin()) {
          free_.erase(f);
          break;
        }
      lru_.pop_front();
      cached_ -= b.bytes;
      stats_.evicted_bytes += b.bytes;
      ::operator delete(b.p, std::align_val_t(b.alignment));
    }
    return nullptr;
  }
  /// Keeps a freed block (one that take() handed out or that the caller allocated after a miss);
  /// false (the caller frees it) when that would exceed the limit.
  bool give(void* p, std::size_t bytes, std::size_t alignment) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    live_ -= std::min(live_, bytes);
    if (cached_ + bytes > limit_) return false;
    try {
      lru_.push_back(Block{p, bytes, alignment});
      try {
        free_.emplace(Key{bytes, alignment}, std::prev(lru_.end()));
      } catch (...) {
        lru_.pop_back();
        return false;
      }
    } catch (...) {
      return false;
    }
    cached_ += bytes;
    return true;
  }
  /// The caller's allocation after a miss failed: it does not count as live.
  void forget(std::size_t bytes) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    live_ -= std::min(live_, bytes);
  }
  /// Frees every cached block (live tensors are untouched) and restarts the high-water mark.
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    max_live_ = live_;
    for (const Block& b : lru_) ::operator delete(b.p, std::align_val_t(b.alignment));
    lru_.clear();
    free_.clear();
    cached_ = 0;
  }
  std::size_t cached_bytes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }
  /// Counts since the start (or the last reset_stats()).
  struct Stats {
    std::size_t hits = 0, misses = 0, missed_bytes = 0, evicted_bytes = 0;
    std::size_t max_live_bytes = 0;  ///< the most bytes of cache-sized blocks live at once
  };
  Stats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    Stats s = stats_;
    s.max_live_bytes = max_live_;
    return s;
  }
  void reset_stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_ = Stats{};
  }
  void set_limit(std::size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      limit_ = bytes;
    }
    if (cached_bytes() > bytes) release();
  }

 private:
  struct Block {
    void* p;
    std::size_t bytes, alignment;
  };
  struct Key {
    std::size_t bytes, alignment;
    bool operator<(const Key& o) const { return alignment != o.alignment ? alignment < o.alignment : bytes < o.bytes; }
  };
#if defined(__SANITIZE_ADDRESS__)
  std::size_t limit_ = 0;  // let AddressSanitizer see every free
#else
  std::size_t limit_ = std::numeric_limits<std::size_t>::max();  // see the class comment
#endif
  void add_live(std::size_t bytes) {
    live_ += bytes;
    max_live_ = std::max(max_live_, live_);
  }
  std::size_t cached_ = 0;
  std::size_t live_ = 0, max_live_ = 0;  ///< bytes handed out and not given back yet; the most ever
  Stats stats_;
  std::list<Block> lru_;  ///< oldest first
  std::multimap<Key, std::list<Block>::iterator> free_;
  mutable std::mutex mutex_;
};
/// dst[i] = src[i] for i < n, with stores that bypass the caches where the instruction set has
/// them (x86's non-temporal stores; a plain copy elsewhere, or when dst is not 16-byte aligned),
/// for output written once and too large to stay in cache: a plain store first reads each line
/// from memory, then writes it back when it is evicted. Call stream_fence() before other threads
/// read what was written.
template <class T>
void stream_copy(const T* src, index_t n, T* dst) {
#if defined(__SSE2__)
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    constexpr index_t lanes = 16 / static_cast<index_t>(sizeof(T));
    if (reinterpret_cast<std::uintptr_t>(dst) % 16 == 0) {
      index_t i = 0;
      for (; i + lanes <= n; i += lanes) {
        if constexpr (std::is_same_v<T, float>) _mm_stream_ps(dst + i, _mm_loadu_ps(src + i));
        else _mm_stream_pd(dst + i, _mm_loadu_pd(src + i));
      }
      std::memcpy(dst + i, src + i, static_cast<std::size_t>(n - i) * sizeof(T));
      return;
    }
  }
#endif
  std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(T));
}
/// Orders this thread's stream_copy stores before its later stores (x86's sfence).
inline void stream_fence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}
}  // namespace backend::cpu

template <>
struct Allocator<Cpu> {
  static constexpr std::size_t alignment = 64;  // a cache line; AVX-512 loads are aligned
  /// Blocks of at least this size are aligned to a 2 MiB page and, on Linux, offered transparent
  /// huge pages: first touch then costs one page fault per 2 MiB instead of one per 4 KiB (each
  /// fault can take microseconds under a hypervisor, more than the arithmetic of most ops).
  static constexpr std::size_t huge_threshold = std::size_t(2) << 20;
  static constexpr std::size_t huge_alignment = std::size_t(2) << 20;
  /// Blocks of at least this size are recycled through backend::cpu::HostBlockCache.
  static constexpr std::size_t cache_threshold = std::size_t(256) << 10;

  template <class T>
  static std::shared_ptr<T> allocate(std::size_t n) {
    if (n == 0) n = 1;
    const std::size_t bytes = n * sizeof(T);
    if (bytes < cache_threshold) {
      void* p = ::operator new(bytes, std::align_val_t(alignment));
      return std::shared_ptr<T>(static_cast<T*>(p), [](T* q) { ::operator delete(q, std::align_val_t(alignment)); });
    }
    // Size classes: multiples of 64 KiB below 2 MiB, of 2 MiB above.
    const bool huge = bytes >= huge_threshold;
    const std::size_t align = huge ? huge_alignment : alignment, grain = huge ? huge_alignment : std::size_t(64) << 10;
    std::size_t size = (bytes + grain - 1) / grain * grain;
    auto& cache = backend::cpu::HostBlockCache::instance();
    void* p = cache.take(size, align, &size);
    if (!p) {
      try {
        p = ::operator new(size, std::align_val_t(align));
      } catch (const std::bad_alloc&) {
        cache.release();
        try {
          p = ::operator new(size, std::align_val_t(align));
        } catch (...) {
          cache.forget(size);
          throw;
        }
      }
#if defined(__linux__) && defined(MADV_HUGEPAGE)
      if (huge) ::madvise(p, size, MADV_HUGEPAGE);
#endif
    }
    return std::shared_ptr<T>(static_cast<T*>(p), [size, align](T* q) {
      if (!backend::cpu::HostBlockCache::instance().give(q, size, align)) ::operator delete(q, std::align_val_t(align));
    });
  }
  /// Gives the cached (freed, kept for reuse) host blocks back to the OS.
  static void release_cached() { backend::cpu::HostBlockCache::instance().release(); }
  /// Bytes of freed blocks kept for reuse.
  static std::size_t cached_bytes() { return backend::cpu::HostBlockCache::instance().cached_bytes(); }
  /// The cache's hits, misses and bytes given back to the OS since the start or the last reset.
  static backend::cpu::HostBlockCache::Stats cache_stats() { return backend::cpu::HostBlockCache::instance().stats(); }
  static void reset_cache_stats() { backend::cpu::HostBlockCache::instance().reset_stats(); }
  /// The most freed bytes kept for reuse (default: no fixed limit, see backend::cpu::HostBlockCache;
  /// 0 turns the cache off).
  static void set_cache_limit(std::size_t bytes) { backend::cpu::HostBlockCache::instance().set_limit(bytes); }
};

namespace backend {
// Host memory is the CPU's memory: transfers are copies, and there is nothing to wait for.
template <class T>
void copy_to_host(Cpu, index_t n, const T* src, T* host_dst) {
  if (n > 0 && src != host_dst) std::memcpy(host_dst, src, static_cast<std::size_t>(n) * sizeof(T));
}
template <class T>
void copy_from_host(Cpu, index_t n, const T* host_src, T* dst) {
  if (n > 0 && host_src != dst) std::memcpy(dst, host_src, static_cast<std::size_t>(n) * sizeof(T));
}
inline void synchronize(Cpu) {}
}  // namespace backend

}  // namespace structgan
