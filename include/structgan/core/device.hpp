#pragma once
/// \file Compile-time device tags. A backend is chosen by a template argument, never at run time
/// (a runtime switch inside every op is what made tiny-dnn 5x slower; STYLE.md, Layout).
#include <cstddef>
#include <memory>
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

template <>
struct Allocator<Cpu> {
  static constexpr std::size_t alignment = 64;  // a cache line; AVX-512 loads are aligned
  /// Blocks of at least this size are aligned to a 2 MiB page and, on Linux, offered transparent
  /// huge pages: first touch then costs one page fault per 2 MiB instead of one per 4 KiB (each
  /// fault can take microseconds under a hypervisor, more than the arithmetic of most ops).
  static constexpr std::size_t huge_threshold = std::size_t(2) << 20;
  static constexpr std::size_t huge_alignment = std::size_t(2) << 20;
  template <class T>
  static std::shared_ptr<T> allocate(std::size_t n) {
    if (n == 0) n = 1;
    const std::size_t bytes = n * sizeof(T);
    if (bytes >= huge_threshold) {
      void* p = ::operator new(bytes, std::align_val_t(huge_alignment));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
      ::madvise(p, (bytes + huge_alignment - 1) / huge_alignment * huge_alignment, MADV_HUGEPAGE);
#endif
      return std::shared_ptr<T>(static_cast<T*>(p), [](T* q) { ::operator delete(q, std::align_val_t(huge_alignment)); });
    }
    void* p = ::operator new(bytes, std::align_val_t(alignment));
    return std::shared_ptr<T>(static_cast<T*>(p), [](T* q) { ::operator delete(q, std::align_val_t(alignment)); });
  }
};

}  // namespace structgan
