// The NCCL engine on CUDA tensors (needs a GPU; without one it reports skipped). Alone, NCCL's
// collectives over one rank must leave sums and broadcasts as they are and gather the rank's own
// rows; under `mpirun -np N` on N GPUs, every rank checks the sums of all ranks' known values.
#include "structgan/backend/cuda.hpp"  // first: Eigen stays host code
#define BOOST_TEST_NO_MAIN
#define BOOST_TEST_MODULE distributed_nccl
#include "../cuda/gpu_test_main.hpp"

#include "structgan/autodiff.hpp"
#include "structgan/distributed/nccl.hpp"
#include "structgan/distributed/world.hpp"

using namespace structgan;

namespace {
double value(int rank, index_t i) { return 0.5 * (rank + 1) + 0.25 * static_cast<double>(i % 1000); }
}  // namespace

BOOST_AUTO_TEST_CASE(nccl_collectives_on_cuda_tensors) {
  distributed::MpiCommunicator mpi;
  distributed::NcclCommunicator nccl(mpi);
  BOOST_TEST(nccl.takes(distributed::Memory::Cuda));
  const Shape s{7, 13};
  Tensor<float, Cpu> h(s);
  for (index_t i = 0; i < h.numel(); ++i) h[i] = static_cast<float>(value(nccl.rank(), i));
  Tensor<float, Cuda> t = to_device<Cuda>(h);
  auto& counters = backend::counters(Cuda{});
  counters.reset();
  distributed::all_reduce_sum(nccl, t);
  BOOST_TEST(counters.to_host == 0u);  // device memory goes to NCCL as it is
  const Tensor<float, Cpu> sum = to_host(t);
  for (index_t i = 0; i < sum.numel(); ++i) {
    double want = 0;
    for (int r = 0; r < nccl.size(); ++r) want += value(r, i);
    BOOST_TEST(sum[i] == static_cast<float>(want));
  }
  const Tensor<float, Cpu> gathered = to_host(distributed::all_gather(nccl, to_device<Cuda>(h)));
  BOOST_TEST(gathered.dim(0) == s[0] * nccl.size());
  for (index_t i = 0; i < h.numel(); ++i) BOOST_TEST(gathered[nccl.rank() * h.numel() + i] == h[i]);
  Tensor<float, Cuda> b = to_device<Cuda>(h);
  distributed::broadcast(nccl, b, 0);
  const Tensor<float, Cpu> root = to_host(b);
  for (index_t i = 0; i < root.numel(); ++i) BOOST_TEST(root[i] == static_cast<float>(value(0, i)));
  nccl.barrier();

  // The owning form, as make_communicator_for<Cuda>() builds it (MPI stays initialized here: `mpi`
  // above owns it, so this one only joins). The same ranks, and sums on device memory.
  {
    distributed::NcclCommunicator owning(std::make_unique<distributed::MpiCommunicator>());
    BOOST_TEST(owning.rank() == nccl.rank());
    BOOST_TEST(owning.size() == nccl.size());
    Tensor<float, Cuda> u = to_device<Cuda>(h);
    distributed::all_reduce_sum(owning, u);
    const Tensor<float, Cpu> usum = to_host(u);
    for (index_t i = 0; i < usum.numel(); ++i) BOOST_TEST(usum[i] == sum[i]);
  }
  // CUDA runs launched as several processes get NCCL; alone, one process.
  const auto world = distributed::make_communicator_for<Cuda>();
  BOOST_TEST(world->engine() == (distributed::launched_world_size() > 1 ? "nccl" : "single"));
  BOOST_TEST(world->size() == nccl.size());
}
