#pragma once
/// \file structgan/distributed/: the communicator and the world a process was launched with
/// (docs/distributed.md). The MPI engine comes with structgan::mpi (which defines
/// STRUCTGAN_HAVE_MPI); the NCCL engine (distributed/nccl.hpp) needs nvcc and structgan::nccl.
#include "structgan/distributed/communicator.hpp"
#include "structgan/distributed/world.hpp"
