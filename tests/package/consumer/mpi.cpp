// A user's program: the communicator through structgan/distributed.hpp (structgan::mpi alone).
// Run alone it is one process (MPI joins processes only when a launcher started several).
#include <structgan/distributed.hpp>

#include <iostream>

int main() {
  using namespace structgan;
  auto comm = distributed::make_communicator();
  Tensor<float, Cpu> t = full<float>(Shape{3}, 2.0f);
  distributed::all_reduce_sum(*comm, t);
  const bool ok = comm->size() == 1 && comm->rank() == 0 && t[2] == 2.0f;
  std::cout << "rank " << comm->rank() << " of " << comm->size() << " (" << comm->engine() << ")" << (ok ? " ok" : " FAILED")
            << "\n";
  return ok ? 0 : 1;
}
