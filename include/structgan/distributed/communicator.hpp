#pragma once
/// \file The collectives of data-parallel training (all-reduce, all-gather, broadcast, barrier) on
/// tensors of any backend, behind one interface with three engines:
/// - `SingleProcess` (this header; no dependency): one rank, every collective the identity;
/// - `MpiCommunicator` (distributed/mpi.hpp; OpenMPI, CMake option STRUCTGAN_MPI): host buffers,
///   device tensors staged through host memory;
/// - `NcclCommunicator` (distributed/nccl.hpp; NCCL from the CUDA toolkit, STRUCTGAN_NCCL): CUDA
///   buffers on the backend's stream, its unique id broadcast over MPI.
///
/// An engine moves raw buffers; the typed functions below (all_reduce_sum(comm, tensor), …) take a
/// `Tensor<T, D>` of any device and hand the engine device memory where it takes that device's
/// memory, else a host copy (one transfer each way, counted by the device like any other).
///
/// \code
///   auto comm = distributed::make_communicator();   // MPI when launched by mpirun/srun, else one process
///   distributed::all_reduce_sum(*comm, gradients);   // every rank now holds the sum
///   if (comm->rank() == 0) save(...);
/// \endcode
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "structgan/backend/tensor_util.hpp"
#include "structgan/core/error.hpp"
#include "structgan/core/tensor.hpp"

namespace structgan::distributed {

/// The element type of a buffer (the collectives sum floats and doubles, and move bytes).
enum class ScalarType { Float32, Float64, Int64, Byte };

template <class T>
constexpr ScalarType scalar_type_of() {
  if constexpr (std::is_same_v<T, float>) return ScalarType::Float32;
  else if constexpr (std::is_same_v<T, double>) return ScalarType::Float64;
  else if constexpr (std::is_same_v<T, std::int64_t>) return ScalarType::Int64;
  else {
    static_assert(std::is_same_v<T, unsigned char> || std::is_same_v<T, char>, "collectives move float, double, int64 or bytes");
    return ScalarType::Byte;
  }
}

inline std::size_t size_of(ScalarType t) {
  switch (t) {
    case ScalarType::Float32: return 4;
    case ScalarType::Float64: return 8;
    case ScalarType::Int64: return 8;
    case ScalarType::Byte: return 1;
  }
  return 0;
}

/// Where a buffer handed to an engine lives.
enum class Memory { Host, Cuda };

/// What the collectives cost since the start or the last reset (docs/distributed.md reports these
/// per training step).
struct CommunicatorStats {
  std::uint64_t calls = 0;
  std::uint64_t bytes = 0;   ///< this rank's payload: the buffer reduced, gathered or broadcast
  double seconds = 0;        ///< wall time inside collectives (including waiting for other ranks)
  void reset() { *this = CommunicatorStats{}; }
};

/// One process's view of a group of processes that run the same program.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string engine() const = 0;  ///< "single", "mpi", "nccl"
  /// Whether the engine's collectives take buffers in `memory` directly (else they are staged).
  virtual bool takes(Memory memory) const { return memory == Memory::Host; }

  /// Every rank's `count` values become the element-wise sum over ranks (in place).
  void all_reduce_sum(void* data, std::size_t count, ScalarType type, Memory memory) {
    timed(count * size_of(type), [&] { do_all_reduce_sum(data, count, type, memory); });
  }
  /// `recv` (size()·count values) becomes every rank's `send` (count values) in rank order.
  void all_gather(const void* send, void* recv, std::size_t count, ScalarType type, Memory memory) {
    timed(count * size_of(type), [&] { do_all_gather(send, recv, count, type, memory); });
  }
  /// Every rank's `count` values become rank `root`'s.
  void broadcast(void* data, std::size_t count, ScalarType type, int root, Memory memory) {
    require(root >= 0 && root < size(), "broadcast: root ", root, " outside the ", size(), " ranks");
    timed(count * size_of(type), [&] { do_broadcast(data, count, type, root, memory); });
  }
  /// Returns when every rank has called it.
  void barrier() {
    timed(0, [&] { do_barrier(); });
  }

  const CommunicatorStats& stats() const { return stats_; }
  void reset_stats() { stats_.reset(); }

 protected:
  virtual void do_all_reduce_sum(void* data, std::size_t count, ScalarType type, Memory memory) = 0;
  virtual void do_all_gather(const void* send, void* recv, std::size_t count, ScalarType type, Memory memory) = 0;
  virtual void do_broadcast(void* data, std::size_t count, ScalarType type, int root, Memory memory) = 0;
  virtual void do_barrier() = 0;

 private:
  template <class F>
  void timed(std::size_t bytes, F&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    stats_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++stats_.calls;
    stats_.bytes += bytes;
  }
  CommunicatorStats stats_;
};

/// One process: rank 0 of 1. The collectives leave buffers as they are (all_gather copies).
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string engine() const override { return "single"; }
  bool takes(Memory memory) const override { return memory == Memory::Host; }

 protected:
  void do_all_reduce_sum(void*, std::size_t, ScalarType, Memory) override {}
  void do_all_gather(const void* send, void* recv, std::size_t count, ScalarType type, Memory) override {
    if (send != recv && count > 0) std::memcpy(recv, send, count * size_of(type));
  }
  void do_broadcast(void*, std::size_t, ScalarType, int, Memory) override {}
  void do_barrier() override {}
};

namespace detail {
template <class D>
constexpr Memory memory_of() {
  return std::is_same_v<D, Cuda> ? Memory::Cuda : Memory::Host;
}
/// Whether a tensor of device D can be handed to the engine as it is: host memory for the CPU,
/// device memory the engine takes (NCCL, CUDA-aware MPI). Other devices (CUDA under plain MPI, the
/// reference device, whose memory generic code may not touch) are staged through a host copy.
template <class D>
bool direct(const Communicator& c) {
  if constexpr (std::is_same_v<D, Cpu>) return true;
  else if constexpr (std::is_same_v<D, Cuda>) return c.takes(Memory::Cuda);
  else return false;
}
}  // namespace detail

// ---- the collectives on tensors ----------------------------------------------------------------

/// t becomes the element-wise sum of every rank's t (same shape on every rank).
template <class T, class D>
void all_reduce_sum(Communicator& c, Tensor<T, D>& t) {
  if (c.size() == 1 || t.numel() == 0) return;
  if (detail::direct<D>(c)) {
    c.all_reduce_sum(t.data(), static_cast<std::size_t>(t.numel()), scalar_type_of<T>(), detail::memory_of<D>());
    return;
  }
  Tensor<T, Cpu> h = clone(to_host(t));
  c.all_reduce_sum(h.data(), static_cast<std::size_t>(h.numel()), scalar_type_of<T>(), Memory::Host);
  copy_from_host(D{}, h.numel(), h.data(), t.data());
}

/// The rows of every rank's t (n × …, the same shape on every rank) stacked in rank order:
/// (size()·n) × ….
template <class T, class D>
Tensor<T, D> all_gather(Communicator& c, const Tensor<T, D>& t) {
  require(t.rank() >= 1, "all_gather: needs a tensor of rank ≥ 1, got ", t.shape());
  Shape s = t.shape();
  s[0] = s[0] * c.size();
  Tensor<T, D> out(s);
  const auto count = static_cast<std::size_t>(t.numel());
  if (detail::direct<D>(c)) {
    c.all_gather(t.data(), out.data(), count, scalar_type_of<T>(), detail::memory_of<D>());
    return out;
  }
  const Tensor<T, Cpu> h = to_host(t);
  Tensor<T, Cpu> gathered(s);
  c.all_gather(h.data(), gathered.data(), count, scalar_type_of<T>(), Memory::Host);
  copy_from_host(D{}, gathered.numel(), gathered.data(), out.data());
  return out;
}

/// t becomes rank `root`'s t (same shape on every rank).
template <class T, class D>
void broadcast(Communicator& c, Tensor<T, D>& t, int root = 0) {
  require(root >= 0 && root < c.size(), "broadcast: root ", root, " outside the ", c.size(), " ranks");
  if (c.size() == 1 || t.numel() == 0) return;
  if (detail::direct<D>(c)) {
    c.broadcast(t.data(), static_cast<std::size_t>(t.numel()), scalar_type_of<T>(), root, detail::memory_of<D>());
    return;
  }
  Tensor<T, Cpu> h = clone(to_host(t));
  c.broadcast(h.data(), static_cast<std::size_t>(h.numel()), scalar_type_of<T>(), root, Memory::Host);
  copy_from_host(D{}, h.numel(), h.data(), t.data());
}

/// Host values: the element-wise sum over ranks (logged scalars, counts).
template <class T>
void all_reduce_sum(Communicator& c, std::vector<T>& values) {
  if (c.size() == 1 || values.empty()) return;
  c.all_reduce_sum(values.data(), values.size(), scalar_type_of<T>(), Memory::Host);
}

/// Rank `root`'s bytes on every rank; the length travels first, so ranks need not know it.
inline void broadcast(Communicator& c, std::string& text, int root = 0) {
  if (c.size() == 1) return;
  std::vector<std::int64_t> length{static_cast<std::int64_t>(text.size())};
  c.broadcast(length.data(), 1, ScalarType::Int64, root, Memory::Host);
  text.resize(static_cast<std::size_t>(length[0]));
  if (!text.empty()) c.broadcast(text.data(), text.size(), ScalarType::Byte, root, Memory::Host);
}

/// Throws structgan::Error on every rank, naming `what` and the first rank whose text differs
/// from rank 0's (e.g. a configuration key that differs between ranks).
inline void require_same_on_every_rank(Communicator& c, const std::string& text, const std::string& what) {
  if (c.size() == 1) return;
  std::string root_text = text;
  broadcast(c, root_text, 0);
  std::vector<std::int64_t> differs(static_cast<std::size_t>(c.size()), 0);
  differs[static_cast<std::size_t>(c.rank())] = root_text != text;
  all_reduce_sum(c, differs);
  for (int r = 0; r < c.size(); ++r)
    require(differs[static_cast<std::size_t>(r)] == 0, what, " differs between ranks: rank ", r, "'s is not rank 0's");
}

}  // namespace structgan::distributed
