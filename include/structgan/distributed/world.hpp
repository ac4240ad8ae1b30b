#pragma once
/// \file The communicator a process was launched with. `mpirun -np N`, SLURM's `srun` and other
/// PMI launchers say in the environment how many processes they started; with more than one, the
/// MPI engine joins them (it needs structgan::mpi, which defines STRUCTGAN_HAVE_MPI), else the
/// process runs alone.
#include <cstdlib>
#include <memory>
#include <string>

#include "structgan/distributed/communicator.hpp"
#if defined(STRUCTGAN_HAVE_MPI)
#include "structgan/distributed/mpi.hpp"
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

}  // namespace structgan::distributed
