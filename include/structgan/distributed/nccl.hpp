#pragma once
/// \file The NCCL engine of the communicator: collectives on CUDA buffers (NCCL from the CUDA
/// toolkit, CMake option STRUCTGAN_NCCL, target structgan::nccl; compile the including file with
/// nvcc). MPI starts the processes and carries NCCL's unique id from rank 0 to the others; host
/// buffers (logged scalars, configuration text) go over MPI.
///
/// Streams: the collectives run on the communicator's own non-blocking stream, ordered with the
/// backend's stream by events in both directions (the collective waits for the work queued on
/// the buffers before the call; work queued after the call waits for the collective), so for
/// the caller a collective behaves as if it were queued on the backend's stream. The buffers are
/// also declared to the device pool with cuda::record_stream: a buffer freed right after the call
/// is not handed out again until the collective has finished, whatever stream its next owner
/// uses.
///
/// Each rank uses the GPU `local rank mod GPUs on the node` (OMPI_COMM_WORLD_LOCAL_RANK, or
/// SLURM_LOCALID), selected before anything touches the device.
#include <nccl.h>

#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>

#include "structgan/backend/cuda/memory.hpp"
#include "structgan/backend/cuda/runtime.hpp"
#include "structgan/distributed/mpi.hpp"

namespace structgan::distributed {

namespace detail {
inline void check_nccl(ncclResult_t r, const char* call) {
  require(r == ncclSuccess, "NCCL: ", call, " failed: ", ncclGetErrorString(r));
}
inline ncclDataType_t nccl_type(ScalarType t) {
  switch (t) {
    case ScalarType::Float32: return ncclFloat32;
    case ScalarType::Float64: return ncclFloat64;
    case ScalarType::Int64: return ncclInt64;
    case ScalarType::Byte: return ncclUint8;
  }
  return ncclUint8;
}
/// This process's rank among those on its node (0 when the launcher does not say).
inline int local_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "LOCAL_RANK"})
    if (const char* v = std::getenv(name)) return std::atoi(v);
  return 0;
}
}  // namespace detail

class NcclCommunicator final : public Communicator {
 public:
  /// Joins the processes of `bootstrap` (which must outlive this communicator).
  explicit NcclCommunicator(MpiCommunicator& bootstrap) : mpi_(bootstrap) {
    int devices = 0;
    STRUCTGAN_CUDA_CHECK(cudaGetDeviceCount(&devices));
    require(devices > 0, "NcclCommunicator: no CUDA device");
    STRUCTGAN_CUDA_CHECK(cudaSetDevice(detail::local_rank() % devices));
    ncclUniqueId id;
    if (mpi_.rank() == 0) detail::check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    mpi_.broadcast(&id, sizeof id, ScalarType::Byte, 0, Memory::Host);
    detail::check_nccl(ncclCommInitRank(&comm_, mpi_.size(), id, mpi_.rank()), "ncclCommInitRank");
    STRUCTGAN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    STRUCTGAN_CUDA_CHECK(cudaEventCreateWithFlags(&inputs_ready_, cudaEventDisableTiming));
    STRUCTGAN_CUDA_CHECK(cudaEventCreateWithFlags(&collective_done_, cudaEventDisableTiming));
  }
  /// Joins the processes of `bootstrap` and owns it: MPI is finalized after NCCL is torn down.
  explicit NcclCommunicator(std::unique_ptr<MpiCommunicator> bootstrap)
      : NcclCommunicator(*require_bootstrap(bootstrap), std::move(bootstrap)) {}
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;
  ~NcclCommunicator() override {
    // Errors cannot be reported from here; the queued collectives finish before the teardown.
    if (stream_) (void)cudaStreamSynchronize(stream_);
    ncclCommDestroy(comm_);
    if (collective_done_) (void)cudaEventDestroy(collective_done_);
    if (inputs_ready_) (void)cudaEventDestroy(inputs_ready_);
    if (stream_) (void)cudaStreamDestroy(stream_);
  }

  int rank() const override { return mpi_.rank(); }
  int size() const override { return mpi_.size(); }
  std::string engine() const override { return "nccl"; }
  bool takes(Memory) const override { return true; }  // device buffers to NCCL, host ones to MPI

 protected:
  void do_all_reduce_sum(void* data, std::size_t count, ScalarType type, Memory memory) override {
    if (memory == Memory::Host) return mpi_.all_reduce_sum(data, count, type, memory);
    const cudaStream_t s = begin_collective({data});
    detail::check_nccl(ncclAllReduce(data, data, count, detail::nccl_type(type), ncclSum, comm_, s), "ncclAllReduce");
    end_collective();
  }
  void do_all_gather(const void* send, void* recv, std::size_t count, ScalarType type, Memory memory) override {
    if (memory == Memory::Host) return mpi_.all_gather(send, recv, count, type, memory);
    const cudaStream_t s = begin_collective({send, recv});
    detail::check_nccl(ncclAllGather(send, recv, count, detail::nccl_type(type), comm_, s), "ncclAllGather");
    end_collective();
  }
  void do_broadcast(void* data, std::size_t count, ScalarType type, int root, Memory memory) override {
    if (memory == Memory::Host) return mpi_.broadcast(data, count, type, root, memory);
    const cudaStream_t s = begin_collective({data});
    detail::check_nccl(ncclBroadcast(data, data, count, detail::nccl_type(type), root, comm_, s), "ncclBroadcast");
    end_collective();
  }
  void do_barrier() override {
    STRUCTGAN_CUDA_CHECK(cudaStreamSynchronize(stream_));  // this rank's queued collectives are done ...
    backend::cuda::synchronize();
    mpi_.barrier();  // ... and so are everyone's
  }

 private:
  /// Orders the communicator's stream after the work queued so far on the backend's stream and
  /// declares the buffers' use on it to the device pool (buffers the pool does not hold, e.g.
  /// from the caller's own cudaMalloc, are the caller's to guard). Returns the stream.
  cudaStream_t begin_collective(std::initializer_list<const void*> buffers) {
    STRUCTGAN_CUDA_CHECK(cudaEventRecord(inputs_ready_, backend::cuda::stream()));
    STRUCTGAN_CUDA_CHECK(cudaStreamWaitEvent(stream_, inputs_ready_, 0));
    for (const void* b : buffers) (void)backend::cuda::record_stream(b, stream_);
    return stream_;
  }
  /// Orders the work queued on the backend's stream from now on after the collective.
  void end_collective() {
    STRUCTGAN_CUDA_CHECK(cudaEventRecord(collective_done_, stream_));
    STRUCTGAN_CUDA_CHECK(cudaStreamWaitEvent(backend::cuda::stream(), collective_done_, 0));
  }

  static MpiCommunicator* require_bootstrap(const std::unique_ptr<MpiCommunicator>& bootstrap) {
    require(bootstrap != nullptr, "NcclCommunicator: no MPI communicator to bootstrap from");
    return bootstrap.get();
  }
  // `owned` by reference: it is moved from only once the NCCL communicator is made.
  NcclCommunicator(MpiCommunicator& bootstrap, std::unique_ptr<MpiCommunicator>&& owned) : NcclCommunicator(bootstrap) {
    owned_ = std::move(owned);
  }

  std::unique_ptr<MpiCommunicator> owned_;  // declared first: destroyed after ~NcclCommunicator ran ncclCommDestroy
  MpiCommunicator& mpi_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;          ///< the collectives' stream (non-blocking)
  cudaEvent_t inputs_ready_ = nullptr;     ///< backend stream → stream_
  cudaEvent_t collective_done_ = nullptr;  ///< stream_ → backend stream
};

}  // namespace structgan::distributed
