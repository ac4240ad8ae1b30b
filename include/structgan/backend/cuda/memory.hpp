#pragma once
/// \file Device memory: Allocator<Cuda> (RAII handles from a caching pool, no cudaMalloc per
/// op), scratch buffers for kernels, and the copies between host and device. Host-only code.
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include <cuda_runtime_api.h>

#include "structgan/backend/cuda/caching_pool.hpp"
#include "structgan/backend/cuda/runtime.hpp"
#include "structgan/backend/contract.hpp"

namespace structgan {
namespace backend::cuda {

/// cudaMalloc / cudaFree, and the events that guard blocks used on other streams, for
/// CachingPool. Events are recycled (creating one costs a driver call).
struct RawDeviceAllocator {
  using Stream = cudaStream_t;
  using Event = cudaEvent_t;

  void* allocate(std::size_t bytes) {
    void* p = nullptr;
    const cudaError_t status = cudaMalloc(&p, bytes);
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // not sticky; clear it so later checks do not report it
      return nullptr;
    }
    check(status, "cudaMalloc", __FILE__, __LINE__);
    return p;
  }
  void release(void* p) { STRUCTGAN_CUDA_CHECK(cudaFree(p)); }
  /// Waits for the work of every stream of the device (so every recorded event has completed).
  void synchronize() { STRUCTGAN_CUDA_CHECK(cudaDeviceSynchronize()); }

  Stream home_stream() const { return stream(); }
  Event record_event(Stream s) {
    Event e = nullptr;
    if (!spare_events_.empty()) {
      e = spare_events_.back();
      spare_events_.pop_back();
    } else {
      STRUCTGAN_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    }
    const cudaError_t status = cudaEventRecord(e, s);
    if (status != cudaSuccess) {
      spare_events_.push_back(e);
      check(status, "cudaEventRecord", __FILE__, __LINE__);
    }
    return e;
  }
  bool event_done(Event e) {
    const cudaError_t status = cudaEventQuery(e);
    if (status == cudaErrorNotReady) return false;  // not an error: the work is still queued
    check(status, "cudaEventQuery", __FILE__, __LINE__);
    return true;
  }
  void release_event(Event e) { spare_events_.push_back(e); }

 private:
  std::vector<Event> spare_events_;  // guarded by the pool's lock
};

using DevicePool = CachingPool<RawDeviceAllocator>;

/// The process-wide pool of device memory. Never destroyed: tensors held in static storage may
/// be released after the CUDA runtime has shut down, and then only go back to a free list.
inline DevicePool& device_pool() {
  static DevicePool* pool = new DevicePool();
  return *pool;
}

/// Counters of the device pool (allocations from the driver, reuses, bytes in use and cached).
inline PoolStats memory_stats() { return device_pool().stats(); }

/// Gives cached (unused) device memory back to the driver; live tensors are untouched.
inline void release_cached_memory() { device_pool().release_cached(); }

/// Declares that work queued on `s` (a stream other than the backend's, e.g. NCCL's or one of
/// yours) uses the device memory at `device_ptr` (any address inside a pool block): when the
/// block is freed, the pool reuses it only once the work queued on `s` until then has finished,
/// as PyTorch's Tensor.record_stream. Returns false when `device_ptr` is not in a live block of
/// the pool (memory allocated otherwise: guarding its reuse is then the caller's business).
inline bool record_stream(const void* device_ptr, cudaStream_t s) { return device_pool().record_stream(device_ptr, s); }

/// record_stream for the storage of a device tensor (or any holder of pool memory with data()).
/// A defined tensor's storage always comes from the pool.
template <class Holder, class = decltype(std::declval<const Holder&>().data())>
void record_stream(const Holder& t, cudaStream_t s) {
  if (t.data() == nullptr) return;
  require(record_stream(static_cast<const void*>(t.data()), s),
          "cuda::record_stream: the memory is not a live block of structgan's device pool");
}

/// Bytes for n values of T, refusing sizes that overflow.
template <class T>
std::size_t bytes_for(std::size_t n) {
  require(n <= (std::numeric_limits<std::size_t>::max() / 4) / sizeof(T), "cuda: allocation of ", n, " values of ",
          sizeof(T), " bytes overflows");
  return (n == 0 ? 1 : n) * sizeof(T);
}

/// A scratch array on the device owned by one kernel call (unique ownership), from the pool.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n) : n_(n) {
    p_ = static_cast<T*>(device_pool().allocate(bytes_for<T>(n), &size_class_));
  }
  /// A device copy of a host vector (waits for the copy, so the vector may then go away).
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) {
    if (host.empty()) return;
    STRUCTGAN_CUDA_CHECK(cudaMemcpyAsync(p_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice, stream()));
    STRUCTGAN_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept { swap(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    DeviceBuffer(std::move(o)).swap(*this);
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { device_pool().deallocate(p_, size_class_); }

  T* data() const { return p_; }
  std::size_t size() const { return n_; }
  void swap(DeviceBuffer& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    std::swap(size_class_, o.size_class_);
  }
  /// The values, copied to the host (waits for the queued work).
  std::vector<T> to_host() const {
    std::vector<T> h(n_);
    if (n_) {
      STRUCTGAN_CUDA_CHECK(cudaMemcpyAsync(h.data(), p_, n_ * sizeof(T), cudaMemcpyDeviceToHost, stream()));
      STRUCTGAN_CUDA_CHECK(cudaStreamSynchronize(stream()));
    }
    return h;
  }

 private:
  T* p_ = nullptr;
  std::size_t n_ = 0;
  std::size_t size_class_ = 0;
};

}  // namespace backend::cuda

/// Device memory for Tensor<T, Cuda>: a handle whose deleter returns the block to the pool.
template <>
struct Allocator<Cuda> {
  template <class T>
  static std::shared_ptr<T> allocate(std::size_t n) {
    std::size_t size_class = 0;
    T* p = static_cast<T*>(backend::cuda::device_pool().allocate(backend::cuda::bytes_for<T>(n), &size_class));
    backend::counters(Cuda{}).allocation(backend::cuda::bytes_for<T>(n));
    try {
      return std::shared_ptr<T>(p, [size_class](T* q) { backend::cuda::device_pool().deallocate(q, size_class); });
    } catch (...) {  // the control block could not be allocated
      backend::cuda::device_pool().deallocate(p, size_class);
      throw;
    }
  }
};

namespace backend {

/// Copies n values from device memory to host memory; returns when they have arrived.
inline void synchronize(Cuda) {
  ++counters(Cuda{}).synchronizations;
  cuda::synchronize();
}

template <class T>
void copy_to_host(Cuda, index_t n, const T* device_src, T* host_dst) {
  if (n <= 0) return;
  counters(Cuda{}).copy_to_host(static_cast<std::uint64_t>(n) * sizeof(T));
  STRUCTGAN_CUDA_CHECK(cudaMemcpyAsync(host_dst, device_src, static_cast<std::size_t>(n) * sizeof(T),
                                       cudaMemcpyDeviceToHost, cuda::stream()));
  STRUCTGAN_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
}

/// Copies n values from host memory to device memory; the host buffer may be reused on return.
template <class T>
void copy_from_host(Cuda, index_t n, const T* host_src, T* device_dst) {
  if (n <= 0) return;
  counters(Cuda{}).copy_from_host(static_cast<std::uint64_t>(n) * sizeof(T));
  STRUCTGAN_CUDA_CHECK(cudaMemcpyAsync(device_dst, host_src, static_cast<std::size_t>(n) * sizeof(T),
                                       cudaMemcpyHostToDevice, cuda::stream()));
  // Pinned host memory would still be read asynchronously: wait, so the contract holds for any buffer.
  STRUCTGAN_CUDA_CHECK(cudaStreamSynchronize(cuda::stream()));
}

/// Copies n values between device buffers (stream-ordered).
template <class T>
void copy(Cuda, index_t n, const T* x, T* y) {
  if (n <= 0 || x == y) return;
  STRUCTGAN_CUDA_CHECK(cudaMemcpyAsync(y, x, static_cast<std::size_t>(n) * sizeof(T), cudaMemcpyDeviceToDevice,
                                       cuda::stream()));
}

}  // namespace backend
}  // namespace structgan
