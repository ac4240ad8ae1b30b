#pragma once
/// \file Compile-time device tags. A backend is chosen by a template argument, never at run time
/// (a runtime switch inside every op is what made tiny-dnn 5x slower; STYLE.md, Layout).
#include <cstddef>
#include <iterator>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace structgan {

namespace backend {
/// The Eigen CPU backend (multi-threaded with OpenMP where it is enabled).
struct Cpu {
  static constexpr const char* name = "cpu";
};

/// The CUDA backend; its kernels live in structgan/backend/cuda/ and need nvcc.
struct Cuda {
  static constexpr const char* name = "cuda";
};
}  // namespace backend

// Kernels are free functions in structgan::backend taking the tag first; tensor ops call them
// unqualified, so argument-dependent lookup finds a backend's kernels even when its header is
// included after the ops (the CUDA backend adds overloads for `Cuda`).
using backend::Cpu;
using backend::Cuda;

/// Memory of a device: `allocate<T>(n)` returns an owning handle. Specialized per device.
template <class Device>
struct Allocator;

namespace detail {
/// Freed host blocks of 256 KiB and more, kept for reuse by later allocations of (nearly) the
/// same size. A training step allocates the same shapes every iteration; giving those blocks
/// back to the OS and faulting fresh, zeroed pages in again cost D's forward+backward ~25% of
/// its time (docs/performance.md). When a request finds no block of its size, the oldest cached
/// blocks (at least as many bytes as requested) go back to the OS first, so the cache does not
/// add to the process's peak memory. Thread-safe; holds at most `limit` bytes.
class HostBlockCache {
 public:
  /// The process-wide cache; never destroyed (tensors in static storage may die after it).
  static HostBlockCache& instance() {
    static HostBlockCache* cache = new HostBlockCache();
    return *cache;
  }
  /// A cached block of `bytes` to bytes·5/4 bytes with this alignment (its size in *got), or
  /// nullptr after giving back the oldest cached blocks, at least `bytes` of them.
  void* take(std::size_t bytes, std::size_t alignment, std::size_t* got) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.lower_bound(Key{bytes, alignment});
    if (it != free_.end() && it->first.alignment == alignment && it->first.bytes <= bytes + bytes / 4) {
      const Block b = *it->second;
      lru_.erase(it->second);
      free_.erase(it);
      cached_ -= b.bytes;
      *got = b.bytes;
      return b.p;
    }
    for (std::size_t freed = 0; freed < bytes && !lru_.empty();) {
      const Block b = lru_.front();
      auto range = free_.equal_range(Key{b.bytes, b.alignment});
      for (auto f = range.first; f != range.second; ++f)
        if (f->second == lru_.begin()) {
          free_.erase(f);
          break;
        }
      lru_.pop_front();
      cached_ -= b.bytes;
      freed += b.bytes;
      ::operator delete(b.p, std::align_val_t(b.alignment));
    }
    return nullptr;
  }
  /// Keeps a freed block; false (the caller frees it) when that would exceed the limit.
  bool give(void* p, std::size_t bytes, std::size_t alignment) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
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
  /// Frees every cached block (live tensors are untouched).
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Block& b : lru_) ::operator delete(b.p, std::align_val_t(b.alignment));
    lru_.clear();
    free_.clear();
    cached_ = 0;
  }
  std::size_t cached_bytes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
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
  std::size_t limit_ = std::size_t(2) << 30;
#endif
  std::size_t cached_ = 0;
  std::list<Block> lru_;  ///< oldest first
  std::multimap<Key, std::list<Block>::iterator> free_;
  mutable std::mutex mutex_;
};
}  // namespace detail

template <>
struct Allocator<Cpu> {
  static constexpr std::size_t alignment = 64;  // a cache line; AVX-512 loads are aligned
  /// Blocks of at least this size are aligned to a 2 MiB page and, on Linux, offered transparent
  /// huge pages: first touch then costs one page fault per 2 MiB instead of one per 4 KiB (each
  /// fault can take microseconds under a hypervisor, more than the arithmetic of most ops).
  static constexpr std::size_t huge_threshold = std::size_t(2) << 20;
  static constexpr std::size_t huge_alignment = std::size_t(2) << 20;
  /// Blocks of at least this size are recycled through detail::HostBlockCache.
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
    auto& cache = detail::HostBlockCache::instance();
    void* p = cache.take(size, align, &size);
    if (!p) {
      try {
        p = ::operator new(size, std::align_val_t(align));
      } catch (const std::bad_alloc&) {
        cache.release();
        p = ::operator new(size, std::align_val_t(align));
      }
#if defined(__linux__) && defined(MADV_HUGEPAGE)
      if (huge) ::madvise(p, size, MADV_HUGEPAGE);
#endif
    }
    return std::shared_ptr<T>(static_cast<T*>(p), [size, align](T* q) {
      if (!detail::HostBlockCache::instance().give(q, size, align)) ::operator delete(q, std::align_val_t(align));
    });
  }
  /// Gives the cached (freed, kept for reuse) host blocks back to the OS.
  static void release_cached() { detail::HostBlockCache::instance().release(); }
  /// Bytes of freed blocks kept for reuse.
  static std::size_t cached_bytes() { return detail::HostBlockCache::instance().cached_bytes(); }
  /// The most freed bytes kept for reuse (default 2 GiB; 0 turns the cache off).
  static void set_cache_limit(std::size_t bytes) { detail::HostBlockCache::instance().set_limit(bytes); }
};

}  // namespace structgan
