#pragma once
/// \file What every training example's main() does around its work: the allocator setting, the
/// processes it was launched with (mpirun/srun: distributed/world.hpp), and the mapping of errors
/// to exit codes (docs/training.md, docs/distributed.md).
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>

#include "structgan/distributed/world.hpp"
#include "structgan/train/trainer.hpp"

namespace structgan::examples {

/// glibc: keep freed blocks for reuse instead of returning them to the kernel (every op allocates
/// its output; fresh pages cost a page fault each).
inline void tune_malloc() {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

namespace detail {
inline std::unique_ptr<distributed::Communicator>& world_slot() {
  static std::unique_ptr<distributed::Communicator> c;
  return c;
}
}  // namespace detail

/// The processes this program was launched with (made on first use; when mpirun or srun started
/// several: NCCL for a CUDA run where structgan::nccl is built, else MPI; else this process alone).
/// Lives until the program ends.
template <class Dev = Cpu>
distributed::Communicator& world() {
  auto& c = detail::world_slot();
  if (!c) c = distributed::make_communicator_for<Dev>();
  return *c;
}

/// Runs body() (which returns the exit code) and turns an escaping error into a message on stderr
/// and an exit code: 3 for a non-finite loss (the last good checkpoint is kept), 1 for any other.
/// On several processes a rank that fails ends at once without finalizing MPI, so that the
/// launcher (mpirun, srun) ends the others instead of leaving them waiting in a collective.
template <class Body>
int exit_code_of(Body&& body) {
  auto failed = [](const char* what, int code) {
    const auto& c = detail::world_slot();
    if (c && c->size() > 1) {
      std::fprintf(stderr, "error (rank %d of %d): %s\n", c->rank(), c->size(), what);
      std::fflush(stderr);
      std::fflush(stdout);
      std::_Exit(code);
    }
    std::cerr << "error: " << what << "\n";
    return code;
  };
  try {
    return body();
  } catch (const train::NonFiniteError& e) {
    return failed(e.what(), 3);
  } catch (const std::exception& e) {
    return failed(e.what(), 1);
  }
}

}  // namespace structgan::examples
