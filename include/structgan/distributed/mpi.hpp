#pragma once
/// \file The MPI engine of the communicator (OpenMPI from Debian: libopenmpi-dev, openmpi-bin;
/// CMake option STRUCTGAN_MPI, target structgan::mpi). It also launches and bootstraps the other
/// engines: `mpirun -np N program …` or SLURM's `srun` start the processes, and MPI tells each its
/// rank.
///
/// Errors of MPI calls throw structgan::Error naming the call and MPI's message. A rank that dies
/// (killed, crashed) makes the MPI runtime end the others (OpenMPI's mpirun does, with a non-zero
/// exit), so no rank waits for ever in a collective.
#include <mpi.h>

#include <memory>
#include <string>

#include "structgan/distributed/communicator.hpp"

namespace structgan::distributed {

namespace detail {
inline void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  fail("MPI: ", call, " failed: ", std::string(text, static_cast<std::size_t>(length)));
}

inline MPI_Datatype mpi_type(ScalarType t) {
  switch (t) {
    case ScalarType::Float32: return MPI_FLOAT;
    case ScalarType::Float64: return MPI_DOUBLE;
    case ScalarType::Int64: return MPI_INT64_T;
    case ScalarType::Byte: return MPI_BYTE;
  }
  return MPI_BYTE;
}

/// MPI's counts are int: a larger buffer goes in chunks (all-reduce, broadcast) or is refused.
constexpr std::size_t max_mpi_count = static_cast<std::size_t>(1) << 30;
}  // namespace detail

/// The processes of MPI_COMM_WORLD (a duplicate, so that structgan's messages never mix with the
/// program's own). Initializes MPI when nobody has (MPI_THREAD_FUNNELED: only the thread that
/// made the communicator calls it) and then finalizes it when destroyed.
class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      detail::check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      owns_mpi_ = true;
    }
    detail::check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    // Errors come back as codes and become exceptions (the default handler aborts the job).
    detail::check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;
  ~MpiCommunicator() override {
    MPI_Comm_free(&comm_);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owns_mpi_ && !finalized) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string engine() const override { return "mpi"; }
  bool takes(Memory memory) const override { return memory == Memory::Host; }
  MPI_Comm handle() const { return comm_; }

 protected:
  void do_all_reduce_sum(void* data, std::size_t count, ScalarType type, Memory memory) override {
    host_only(memory, "all_reduce_sum");
    auto* p = static_cast<unsigned char*>(data);
    for (std::size_t done = 0; done < count;) {
      const std::size_t n = std::min(count - done, detail::max_mpi_count);
      detail::check_mpi(MPI_Allreduce(MPI_IN_PLACE, p + done * size_of(type), static_cast<int>(n), detail::mpi_type(type),
                                      MPI_SUM, comm_),
                        "MPI_Allreduce");
      done += n;
    }
  }
  void do_all_gather(const void* send, void* recv, std::size_t count, ScalarType type, Memory memory) override {
    host_only(memory, "all_gather");
    require(count <= detail::max_mpi_count, "all_gather: ", count, " values per rank exceed MPI's count limit");
    detail::check_mpi(MPI_Allgather(send, static_cast<int>(count), detail::mpi_type(type), recv, static_cast<int>(count),
                                    detail::mpi_type(type), comm_),
                      "MPI_Allgather");
  }
  void do_broadcast(void* data, std::size_t count, ScalarType type, int root, Memory memory) override {
    host_only(memory, "broadcast");
    auto* p = static_cast<unsigned char*>(data);
    for (std::size_t done = 0; done < count;) {
      const std::size_t n = std::min(count - done, detail::max_mpi_count);
      detail::check_mpi(MPI_Bcast(p + done * size_of(type), static_cast<int>(n), detail::mpi_type(type), root, comm_),
                        "MPI_Bcast");
      done += n;
    }
  }
  void do_barrier() override { detail::check_mpi(MPI_Barrier(comm_), "MPI_Barrier"); }

 private:
  static void host_only(Memory memory, const char* op) {
    require(memory == Memory::Host, "MpiCommunicator::", op, ": device buffers must be staged through host memory");
  }
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1;
  bool owns_mpi_ = false;
};

}  // namespace structgan::distributed
