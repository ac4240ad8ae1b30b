#define BOOST_TEST_MODULE cuda_streams_gpu
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

// Two streams sharing the device pool's memory (issue #24): a block read by a kernel on a second,
// non-blocking stream (as NCCL's or a user's) and freed while that kernel still runs must not be
// handed to the next allocation until the kernel has finished, when the use was declared with
// cuda::record_stream; without the declaration the pool reuses it at once (the hazard).
//
// The second stream's kernel waits for a gate that the host opens (mapped host memory), so the
// test does not depend on timing: everything between launch and opening the gate happens while
// the kernel provably has not read its input yet.
#include <cstdint>
#include <set>
#include <vector>

#include <cuda_runtime_api.h>

#include "gpu_test_main.hpp"
#include "structgan/backend/cuda/memory.hpp"
#include "structgan/backend/transfer.hpp"
#include "structgan/core/random.hpp"

using namespace structgan;
namespace cuda = structgan::backend::cuda;

namespace {

/// Each block's first thread waits until the host sets *gate (or about 20 s have passed: then
/// *timed_out = 1, so a hang becomes a failure), then the grid copies src into dst.
__global__ void gated_copy_kernel(const volatile int* gate, index_t n, const float* src, float* dst, int* timed_out) {
  if (threadIdx.x == 0) {
    const long long start = clock64();
    while (*gate == 0) {
      if (clock64() - start > 40'000'000'000LL) {  // ≈ 20 s at 2 GHz
        *timed_out = 1;
        break;
      }
      __nanosleep(1000);
    }
  }
  __syncthreads();
  for (index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += index_t(gridDim.x) * blockDim.x)
    dst[i] = src[i];
}

__global__ void fill_kernel(index_t n, float v, float* x) {
  for (index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += index_t(gridDim.x) * blockDim.x) x[i] = v;
}

/// A gate in mapped host memory, a timeout flag, and a non-blocking stream.
struct SecondStream {
  volatile int* gate = nullptr;
  int* timed_out = nullptr;
  cudaStream_t stream = nullptr;
  SecondStream() {
    void* g = nullptr;
    STRUCTGAN_CUDA_CHECK(cudaHostAlloc(&g, sizeof(int), cudaHostAllocMapped));
    gate = static_cast<volatile int*>(g);
    *gate = 0;
    STRUCTGAN_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&timed_out), sizeof(int), cudaHostAllocMapped));
    *timed_out = 0;
    STRUCTGAN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  }
  ~SecondStream() {
    *gate = 1;  // never leave a kernel waiting
    (void)cudaStreamSynchronize(stream);
    (void)cudaStreamDestroy(stream);
    (void)cudaFreeHost(const_cast<int*>(gate));
    (void)cudaFreeHost(timed_out);
  }
  /// Queues dst = src on the stream, held until open().
  void gated_copy(index_t n, const float* src, float* dst) {
    *gate = 0;
    gated_copy_kernel<<<64, 256, 0, stream>>>(gate, n, src, dst, timed_out);
    STRUCTGAN_CUDA_CHECK_LAUNCH("gated_copy_kernel");
  }
  void open() {
    *gate = 1;
    STRUCTGAN_CUDA_CHECK(cudaStreamSynchronize(stream));
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_block_used_on_a_second_stream_waits_for_it_before_reuse) {
  SecondStream second;
  const index_t n = index_t(1) << 20;  // 4 MiB: a size class of its own in this test
  Rng rng(3);
  const Tensor<float, Cpu> values = rand_uniform<float>(Shape{n}, rng, -1, 1);
  Tensor<float, Cuda> a = to_device<Cuda>(values);
  Tensor<float, Cuda> b(Shape{n});
  { Tensor<float, Cuda> spare(Shape{n}); }  // a cached block of the class: no cudaMalloc while the gate is shut
  const auto before = cuda::memory_stats();

  // The second stream will copy a into b once the gate opens; a is freed before that.
  second.gated_copy(n, a.data(), b.data());
  cuda::record_stream(a, second.stream);
  cuda::record_stream(b, second.stream);
  const float* freed = a.data();
  a = Tensor<float, Cuda>();
  auto stats = cuda::memory_stats();
  BOOST_TEST(stats.bytes_pending == before.bytes_pending + cuda::bin_size(n * sizeof(float)));
  BOOST_TEST(stats.events_recorded == before.events_recorded + 1);

  // The next owner of a block of that class, writing on the backend's stream, gets the spare.
  Tensor<float, Cuda> c(Shape{n});
  BOOST_TEST(c.data() != freed);
  fill_kernel<<<cuda::grid_for(n), cuda::block_threads, 0, cuda::stream()>>>(n, -7.f, c.data());
  STRUCTGAN_CUDA_CHECK_LAUNCH("fill_kernel");
  cuda::synchronize();  // the backend's stream does not wait for the non-blocking one: done, gate still shut

  second.open();
  BOOST_TEST_REQUIRE(*second.timed_out == 0, "the gated kernel timed out");
  const Tensor<float, Cpu> copied = to_host(b);
  index_t wrong = 0;
  for (index_t i = 0; i < n; ++i) wrong += copied[i] != values[i];
  BOOST_TEST(wrong == 0, wrong << " of " << n << " values read on the second stream were overwritten");

  // The second stream has finished: the next allocations of the class find the freed block again.
  c = Tensor<float, Cuda>();
  Tensor<float, Cuda> d1(Shape{n}), d2(Shape{n});
  BOOST_TEST((d1.data() == freed || d2.data() == freed));
  stats = cuda::memory_stats();
  BOOST_TEST(stats.bytes_pending == before.bytes_pending);
  BOOST_TEST(stats.raw_allocations == before.raw_allocations);
}

BOOST_AUTO_TEST_CASE(without_record_stream_the_block_is_reused_at_once) {
  // The hazard the record guards against (and proof that the test above could fail): undeclared
  // work on another stream does not hold the block back.
  SecondStream second;
  const index_t n = (index_t(1) << 20) + 4096;  // another class than the test above
  Tensor<float, Cuda> e(Shape{n}), sink(Shape{n});
  second.gated_copy(n, e.data(), sink.data());
  const float* freed = e.data();
  e = Tensor<float, Cuda>();
  Tensor<float, Cuda> f(Shape{n});
  BOOST_TEST(f.data() == freed);  // handed out while the second stream's kernel has yet to read it
  second.open();
  BOOST_TEST(*second.timed_out == 0);
}

BOOST_AUTO_TEST_CASE(record_stream_refuses_memory_outside_the_pool) {
  SecondStream second;
  float* own = nullptr;
  STRUCTGAN_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&own), 1024));
  BOOST_TEST(!cuda::record_stream(static_cast<const void*>(own), second.stream));
  STRUCTGAN_CUDA_CHECK(cudaFree(own));
  Tensor<float, Cuda> t(Shape{100});
  BOOST_TEST(cuda::record_stream(static_cast<const void*>(t.data() + 10), second.stream));  // inside a pool block
}
