#pragma once
/// \file Compile-time device tags. A backend is chosen by a template argument, never at run time
/// (a runtime switch inside every op is what made tiny-dnn 5x slower; STYLE.md, Layout).
///
/// The tags are names only: what a device must provide (its Allocator specialization and its
/// kernels) is declared in structgan/backend/contract.hpp and implemented in backend/<name>/.

namespace structgan {

namespace backend {
/// The Eigen CPU backend (multi-threaded with OpenMP where it is enabled): backend/cpu.hpp.
struct Cpu {
  static constexpr const char* name = "cpu";
  static constexpr bool host_memory = true;  ///< the host reads its values without a transfer
};

/// The CUDA backend (cuBLAS, Thrust, CUB; needs nvcc): backend/cuda.hpp.
struct Cuda {
  static constexpr const char* name = "cuda";
  static constexpr bool host_memory = false;
};

/// The reference device: plain single-threaded kernels on host memory that the generic code may
/// not touch directly, with counters of allocations and transfers (backend/ref.hpp). It checks,
/// without a GPU, that code above the backend makes no CPU-only assumption.
struct Ref {
  static constexpr const char* name = "ref";
  static constexpr bool host_memory = false;
};
}  // namespace backend

// Kernels are free functions in structgan::backend taking the tag first; tensor ops call them
// unqualified, so argument-dependent lookup finds a backend's kernels even when its header is
// included after the ops.
using backend::Cpu;
using backend::Cuda;
using backend::Ref;

/// Memory of a device: `allocate<T>(n)` returns an owning handle. Each backend specializes it
/// (backend/contract.hpp states what it must provide).
template <class Device>
struct Allocator;

}  // namespace structgan
