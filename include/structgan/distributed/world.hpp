#pragma once
/// \file The communicator a process was launched with. `mpirun -np N`, SLURM's `srun` and other
/// PMI launchers say in the environment how many processes they started; with more than one, the
/// MPI engine joins them (it needs structgan::mpi, which defines STRUCTGAN_HAVE_MPI), else the
/// process runs alone. For a CUDA run the NCCL engine joins them instead where it is compiled in
/// (structgan::nccl, which defines STRUCTGAN_HAVE_NCCL): make_communicator_for<Dev>().
#include <cstdlib>
#include <memory>
#include <string>

#include "structgan/distributed/communicator.hpp"
#if defined(STRUCTGAN_HAVE_MPI)
#include "structgan/distributed/mpi.hpp"
#endif
#if defined(STRUCTGAN_HAVE_NCCL)
#include "structgan/distributed/nccl.hpp"
#endif

namespace structgan::distributed {

/// The number of processes the launcher started (1 when none says): OpenMPI's
/// OMPI_COMM_WORLD_SIZE, then PMI_SIZE (MPICH, Intel MPI, srun --mpi=pmi2), then SLURM_NTASKS.
inline int launched_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"}) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') continue;
    char* end = nullptr;
    const long n = std::strtol(value, &end, 10);
    require(end != value && *end == '\0' && n >= 1 && n <= 1 << 20, "the launcher's ", name, " = '", value,
            "' is not a process count");
    return static_cast<int>(n);
  }
  return 1;
}

/// The communicator of this process: MPI when the launcher started several processes, else one
/// process. Throws structgan::Error when several were started but MPI is not compiled in.
inline std::unique_ptr<Communicator> make_communicator() {
  const int n = launched_world_size();
#if defined(STRUCTGAN_HAVE_MPI)
  if (n > 1) return std::make_unique<MpiCommunicator>();
#else
  require(n == 1, "launched as ", n, " processes, but this program was built without MPI (configure with -DSTRUCTGAN_MPI=ON ",
          "and libopenmpi-dev installed)");
#endif
  return std::make_unique<SingleProcess>();
}

/// The communicator of this process when its tensors live on device Dev: make_communicator(),
/// except that a CUDA run on several processes gets the NCCL engine where it is compiled in, so
/// that gradients are reduced in device memory instead of staged through host copies (MPI starts
/// the processes and carries NCCL's id; the NCCL communicator owns it). A template on Dev rather
/// than a Memory argument: only the units that instantiate it for Cuda (compiled with nvcc and
/// structgan::nccl) see the NCCL branch, so units built without NCCL never define it differently.
template <class Dev>
std::unique_ptr<Communicator> make_communicator_for() {
#if defined(STRUCTGAN_HAVE_NCCL)
  if constexpr (detail::memory_of<Dev>() == Memory::Cuda)
    if (launched_world_size() > 1) return std::make_unique<NcclCommunicator>(std::make_unique<MpiCommunicator>());
#endif
  return make_communicator();
}

}  // namespace structgan::distributed
