#pragma once
/// \file The NCCL engine of the communicator: collectives on CUDA buffers, queued on the CUDA
/// backend's stream (NCCL from the CUDA toolkit, CMake option STRUCTGAN_NCCL, target
/// structgan::nccl; compile the including file with nvcc). MPI starts the processes and carries
/// NCCL's unique id from rank 0 to the others; host buffers (logged scalars, configuration text)
/// go over MPI.
///
/// Each rank uses the GPU `local rank mod GPUs on the node` (OMPI_COMM_WORLD_LOCAL_RANK, or
/// SLURM_LOCALID), selected before anything touches the device.
#include <nccl.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

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
  }
  /// Joins the processes of `bootstrap` and owns it: MPI is finalized after NCCL is torn down.
  explicit NcclCommunicator(std::unique_ptr<MpiCommunicator> bootstrap)
      : NcclCommunicator(*require_bootstrap(bootstrap), std::move(bootstrap)) {}
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;
  ~NcclCommunicator() override { ncclCommDestroy(comm_); }

  int rank() const override { return mpi_.rank(); }
  int size() const override { return mpi_.size(); }
  std::string engine() const override { return "nccl"; }
  bool takes(Memory) const override { return true; }  // device buffers to NCCL, host ones to MPI

 protected:
  void do_all_reduce_sum(void* data, std::size_t count, ScalarType type, Memory memory) override {
    if (memory == Memory::Host) return mpi_.all_reduce_sum(data, count, type, memory);
    detail::check_nccl(ncclAllReduce(data, data, count, detail::nccl_type(type), ncclSum, comm_, backend::cuda::stream()),
                       "ncclAllReduce");
  }
  void do_all_gather(const void* send, void* recv, std::size_t count, ScalarType type, Memory memory) override {
    if (memory == Memory::Host) return mpi_.all_gather(send, recv, count, type, memory);
    detail::check_nccl(ncclAllGather(send, recv, count, detail::nccl_type(type), comm_, backend::cuda::stream()),
                       "ncclAllGather");
  }
  void do_broadcast(void* data, std::size_t count, ScalarType type, int root, Memory memory) override {
    if (memory == Memory::Host) return mpi_.broadcast(data, count, type, root, memory);
    detail::check_nccl(ncclBroadcast(data, data, count, detail::nccl_type(type), root, comm_, backend::cuda::stream()),
                       "ncclBroadcast");
  }
  void do_barrier() override {
    backend::cuda::synchronize();  // this rank's queued collectives are done ...
    mpi_.barrier();                // ... and so are everyone's
  }

 private:
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
};

}  // namespace structgan::distributed
