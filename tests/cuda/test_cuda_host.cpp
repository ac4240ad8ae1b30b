#define BOOST_TEST_MODULE cuda_host
#include <boost/test/unit_test.hpp>

// Host-side tests of the CUDA backend: what can be checked without a GPU (plain C++, no nvcc).
#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "structgan/backend/cuda/caching_pool.hpp"
#include "structgan/backend/cuda/error.hpp"
#include "structgan/backend/cuda/memory.hpp"
#include "structgan/backend/cuda/plans.hpp"
#include "structgan/backend/cuda/runtime.hpp"
#include "structgan/backend/cuda/tf32.hpp"
#include "structgan/core/tensor.hpp"

using namespace structgan;
using backend::cuda::bin_size;
using backend::cuda::CachingPool;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

/// A raw allocator over host memory with a byte budget and a fake event clock: streams are
/// numbers (0 the home stream), an event recorded on a stream completes when the test finishes
/// that stream's work (finish) or synchronizes. Records every call.
struct FakeRaw {
  using Stream = int;
  using Event = int;
  struct FakeEvent {
    Stream stream;
    bool done;
  };
  struct Log {
    std::set<void*> live;
    std::vector<std::string> calls;  // "alloc N", "fail N", "sync", "release N", "record S", "query E"
    std::map<void*, std::size_t> size;
    std::size_t used = 0, budget = 1 << 20;
    std::map<Event, FakeEvent> events;  // recorded and not yet released
    Event next_event = 1;
    std::mutex m;
  };
  std::shared_ptr<Log> log = std::make_shared<Log>();

  Stream home_stream() const { return 0; }
  Event record_event(Stream s) {
    std::lock_guard<std::mutex> lock(log->m);
    BOOST_REQUIRE(s != 0);  // the home stream is ordered: the pool must not record on it
    const Event e = log->next_event++;
    log->events[e] = FakeEvent{s, false};
    log->calls.push_back("record " + std::to_string(s));
    return e;
  }
  bool event_done(Event e) {
    std::lock_guard<std::mutex> lock(log->m);
    BOOST_REQUIRE(log->events.count(e) == 1);  // never queried after release
    log->calls.push_back("query " + std::to_string(e));
    return log->events[e].done;
  }
  void release_event(Event e) {
    std::lock_guard<std::mutex> lock(log->m);
    BOOST_REQUIRE(log->events.count(e) == 1);
    log->events.erase(e);
  }
  /// The work queued on stream s so far has finished (the test's clock).
  void finish(Stream s) {
    std::lock_guard<std::mutex> lock(log->m);
    for (auto& [id, ev] : log->events)
      if (ev.stream == s) ev.done = true;
  }

  void* allocate(std::size_t bytes) {
    std::lock_guard<std::mutex> lock(log->m);
    if (log->used + bytes > log->budget) {
      log->calls.push_back("fail " + std::to_string(bytes));
      return nullptr;
    }
    void* p = ::operator new(bytes);
    log->live.insert(p);
    log->size[p] = bytes;
    log->used += bytes;
    log->calls.push_back("alloc " + std::to_string(bytes));
    return p;
  }
  void release(void* p) {
    std::lock_guard<std::mutex> lock(log->m);
    BOOST_REQUIRE(log->live.count(p) == 1);
    log->used -= log->size[p];
    log->calls.push_back("release " + std::to_string(log->size[p]));
    log->live.erase(p);
    log->size.erase(p);
    ::operator delete(p);
  }
  void synchronize() {  // as cudaDeviceSynchronize: every stream's work has finished
    std::lock_guard<std::mutex> lock(log->m);
    log->calls.push_back("sync");
    for (auto& [id, ev] : log->events) ev.done = true;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(bin_sizes_cover_requests_with_bounded_waste) {
  BOOST_TEST(bin_size(0) == 512u);
  BOOST_TEST(bin_size(1) == 512u);
  BOOST_TEST(bin_size(512) == 512u);
  BOOST_TEST(bin_size(513) == 640u);
  BOOST_TEST(bin_size(1024) == 1024u);
  BOOST_TEST(bin_size(1025) == 1280u);
  BOOST_TEST(bin_size(3 * 1024 * 1024 + 1) == 3.5 * 1024 * 1024);
  std::size_t previous = 0;
  for (std::size_t n = 1; n < (1u << 16); n += 7) {
    const std::size_t b = bin_size(n);
    BOOST_TEST_REQUIRE(b >= n);
    BOOST_TEST_REQUIRE(b >= previous);                 // monotone
    BOOST_TEST_REQUIRE(bin_size(b) == b);              // a class is its own class
    BOOST_TEST_REQUIRE((n <= 512 || b * 4 < n * 5));   // under 25% waste
    BOOST_TEST_REQUIRE(b % 128 == 0);                  // keeps 128-byte alignment of sub-blocks
    previous = b;
  }
  // Exactly four classes per doubling above 512 bytes.
  for (std::size_t e = 10; e < 40; ++e) {
    std::set<std::size_t> classes;
    for (std::size_t k = 1; k <= 64; ++k) classes.insert(bin_size((std::size_t(1) << e) + k * ((std::size_t(1) << e) / 64)));
    BOOST_TEST(classes.size() == 4u);
  }
}

BOOST_AUTO_TEST_CASE(pool_reuses_freed_blocks_of_the_same_class) {
  FakeRaw raw;
  CachingPool<FakeRaw> pool(raw);
  std::size_t c1 = 0, c2 = 0, c3 = 0;
  void* a = pool.allocate(1000, &c1);
  BOOST_TEST(c1 == bin_size(1000));
  pool.deallocate(a, c1);
  void* b = pool.allocate(900, &c2);  // same class (1024): the cached block, no raw call
  BOOST_TEST(b == a);
  BOOST_TEST(c2 == c1);
  BOOST_TEST(pool.stats().raw_allocations == 1u);
  BOOST_TEST(pool.stats().reuses == 1u);
  void* c = pool.allocate(4000, &c3);  // another class
  BOOST_TEST(c != b);
  BOOST_TEST(pool.stats().raw_allocations == 2u);
  BOOST_TEST(pool.stats().bytes_in_use == c2 + c3);
  pool.deallocate(b, c2);
  pool.deallocate(c, c3);
  auto s = pool.stats();
  BOOST_TEST(s.bytes_in_use == 0u);
  BOOST_TEST(s.bytes_cached == c2 + c3);
  BOOST_TEST(s.peak_bytes_in_use == c2 + c3);
  // A loop of same-sized temporaries never reaches the raw allocator again.
  for (int i = 0; i < 100; ++i) {
    std::size_t k1 = 0, k2 = 0;
    void* x = pool.allocate(1000, &k1);
    void* y = pool.allocate(3900, &k2);  // class 4096, as 4000
    pool.deallocate(x, k1);
    pool.deallocate(y, k2);
  }
  BOOST_TEST(pool.stats().raw_allocations == 2u);
  // Emptying the cache synchronizes first, then releases every cached block.
  pool.release_cached();
  BOOST_TEST(pool.stats().bytes_cached == 0u);
  BOOST_TEST(pool.stats().raw_frees == 2u);
  BOOST_TEST(raw.log->live.empty());
  const auto& calls = raw.log->calls;
  const auto sync = std::find(calls.begin(), calls.end(), "sync");
  BOOST_TEST_REQUIRE((sync != calls.end()));
  BOOST_TEST(std::count_if(sync, calls.end(), [](const std::string& s) { return s.rfind("release", 0) == 0; }) == 2);
}

BOOST_AUTO_TEST_CASE(pool_empties_its_cache_when_memory_runs_out) {
  FakeRaw raw;
  raw.log->budget = 4096;
  CachingPool<FakeRaw> pool(raw);
  std::size_t c1 = 0, c2 = 0;
  void* a = pool.allocate(3000, &c1);  // class 3072
  pool.deallocate(a, c1);              // cached: 3072 of 4096 used
  void* b = pool.allocate(2048, &c2);  // fails once, cache emptied, retried
  BOOST_TEST(b != nullptr);
  BOOST_TEST(c2 == 2048u);
  const auto& calls = raw.log->calls;
  const std::vector<std::string> expected{"alloc 3072", "fail 2048", "sync", "release 3072", "alloc 2048"};
  BOOST_TEST(calls == expected, boost::test_tools::per_element());
  // Still too large: a structgan::Error saying so, and the pool stays usable.
  std::size_t c3 = 0;
  try {
    pool.allocate(1 << 20, &c3);
    BOOST_FAIL("expected an out-of-memory error");
  } catch (const Error& e) {
    BOOST_TEST(contains(e.what(), "out of device memory"));
    BOOST_TEST(contains(e.what(), std::to_string(bin_size(1 << 20))));
  }
  pool.deallocate(b, c2);
  BOOST_TEST(pool.stats().bytes_in_use == 0u);
}

BOOST_AUTO_TEST_CASE(pool_is_thread_safe) {
  FakeRaw raw;
  raw.log->budget = std::size_t(1) << 30;
  CachingPool<FakeRaw> pool(raw);
  std::atomic<bool> overlap{false};
  auto worker = [&](unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<std::pair<unsigned char*, std::size_t>> held;
    for (int i = 0; i < 2000; ++i) {
      if (held.size() < 8 && (rng() % 3 != 0 || held.empty())) {
        std::size_t cls = 0;
        const std::size_t n = 1 + rng() % 5000;
        auto* p = static_cast<unsigned char*>(pool.allocate(n, &cls));
        std::fill(p, p + n, static_cast<unsigned char>(seed));  // a block shared by two owners would be overwritten
        if (rng() % 4 == 0 && !pool.record_stream(p + n / 2, static_cast<int>(seed))) overlap = true;
        held.emplace_back(p, n);
      } else {
        const std::size_t k = rng() % held.size();
        auto [p, n] = held[k];
        if (std::any_of(p, p + n, [&](unsigned char v) { return v != static_cast<unsigned char>(seed); })) overlap = true;
        pool.deallocate(p, bin_size(n));
        held.erase(held.begin() + static_cast<std::ptrdiff_t>(k));
        if (rng() % 8 == 0) raw.finish(static_cast<int>(seed));  // this worker's stream catches up
      }
    }
    for (auto [p, n] : held) pool.deallocate(p, bin_size(n));
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 4; ++t) threads.emplace_back(worker, t + 1);
  for (auto& t : threads) t.join();
  BOOST_TEST(!overlap.load());
  const auto s = pool.stats();
  BOOST_TEST(s.bytes_in_use == 0u);
  BOOST_TEST(s.raw_allocations == raw.log->live.size());
  BOOST_TEST(s.reuses > 0u);
  BOOST_TEST(s.events_recorded > 0u);
  pool.release_cached();
  BOOST_TEST(raw.log->live.empty());
  BOOST_TEST(raw.log->events.empty());
  BOOST_TEST(pool.stats().bytes_pending == 0u);
}

namespace {
std::size_t count_calls(const FakeRaw& raw, const std::string& prefix) {
  const auto& calls = raw.log->calls;
  return static_cast<std::size_t>(
      std::count_if(calls.begin(), calls.end(), [&](const std::string& c) { return c.rfind(prefix, 0) == 0; }));
}
}  // namespace

BOOST_AUTO_TEST_CASE(pool_reuses_a_block_used_on_another_stream_only_after_that_work_finished) {
  FakeRaw raw;
  CachingPool<FakeRaw> pool(raw);
  std::size_t ca = 0, cb = 0;
  void* a = pool.allocate(1000, &ca);
  BOOST_TEST(pool.record_stream(a, 1));  // e.g. an NCCL collective queued on stream 1 reads a
  pool.deallocate(a, ca);
  auto s = pool.stats();
  BOOST_TEST(s.bytes_pending == ca);  // parked, not in the free list
  BOOST_TEST(s.bytes_cached == 0u);
  BOOST_TEST(s.bytes_in_use == 0u);
  BOOST_TEST(s.events_recorded == 1u);
  BOOST_TEST(count_calls(raw, "record 1") == 1u);
  // While stream 1's event is pending, requests of a's class get other blocks, however often asked.
  void* b = pool.allocate(1000, &cb);
  BOOST_TEST(b != a);
  BOOST_TEST(pool.stats().raw_allocations == 2u);
  for (int i = 0; i < 3; ++i) {
    pool.deallocate(b, cb);  // used on the home stream only: back in the list at once
    b = pool.allocate(900, &cb);
    BOOST_TEST(b != a);
  }
  BOOST_TEST(pool.stats().raw_allocations == 2u);
  BOOST_TEST(pool.stats().bytes_pending == ca);
  // Stream 1's work finishes: the next allocation finds a's event done and a is handed out again.
  raw.finish(1);
  pool.deallocate(b, cb);
  std::size_t cx = 0, cy = 0;
  void* x = pool.allocate(1000, &cx);
  void* y = pool.allocate(1000, &cy);
  BOOST_TEST((std::set<void*>{x, y} == std::set<void*>{a, b}));
  s = pool.stats();
  BOOST_TEST(s.raw_allocations == 2u);
  BOOST_TEST(s.bytes_pending == 0u);
  BOOST_TEST(raw.log->events.empty());  // the event was given back
  pool.deallocate(x, cx);
  pool.deallocate(y, cy);
}

BOOST_AUTO_TEST_CASE(pool_waits_for_every_stream_that_used_a_block) {
  FakeRaw raw;
  CachingPool<FakeRaw> pool(raw);
  std::size_t ca = 0;
  void* a = pool.allocate(5000, &ca);
  // Two streams, one of them declared twice, and an address inside the block: one event per stream.
  BOOST_TEST(pool.record_stream(a, 1));
  BOOST_TEST(pool.record_stream(static_cast<char*>(a) + 4000, 2));
  BOOST_TEST(pool.record_stream(a, 1));
  BOOST_TEST(pool.record_stream(a, 0));  // the home stream: ordered anyway, nothing recorded
  pool.deallocate(a, ca);
  BOOST_TEST(pool.stats().events_recorded == 2u);
  BOOST_TEST(count_calls(raw, "record 1") == 1u);
  BOOST_TEST(count_calls(raw, "record 2") == 1u);
  raw.finish(1);  // stream 2 still works on a
  std::size_t cb = 0;
  void* b = pool.allocate(5000, &cb);
  BOOST_TEST(b != a);
  BOOST_TEST(pool.stats().bytes_pending == ca);
  pool.deallocate(b, cb);
  raw.finish(2);  // now both have finished
  std::size_t cx = 0, cy = 0;
  void* x = pool.allocate(5000, &cx);
  void* y = pool.allocate(5000, &cy);
  BOOST_TEST((std::set<void*>{x, y} == std::set<void*>{a, b}));
  BOOST_TEST(pool.stats().raw_allocations == 2u);
  BOOST_TEST(pool.stats().bytes_pending == 0u);
  // A block's streams are forgotten when it is freed: its next owner starts with none.
  pool.deallocate(x, cx);
  pool.deallocate(y, cy);
  BOOST_TEST(pool.stats().bytes_pending == 0u);
  BOOST_TEST(pool.stats().events_recorded == 2u);
  BOOST_TEST(raw.log->events.empty());
}

BOOST_AUTO_TEST_CASE(pool_records_streams_only_on_its_live_blocks) {
  FakeRaw raw;
  CachingPool<FakeRaw> pool(raw);
  int not_pool_memory = 0;
  BOOST_TEST(!pool.record_stream(&not_pool_memory, 1));  // memory the caller owns: not ours to guard
  std::size_t ca = 0;
  void* a = pool.allocate(100, &ca);
  BOOST_TEST(pool.record_stream(static_cast<char*>(a) + ca - 1, 1));  // the block's last byte
  pool.deallocate(a, ca);
  BOOST_TEST(!pool.record_stream(a, 2));  // freed: too late to declare work on it
  BOOST_TEST(pool.stats().events_recorded == 1u);
  BOOST_TEST(count_calls(raw, "record 2") == 0u);
}

BOOST_AUTO_TEST_CASE(emptying_the_cache_waits_for_parked_blocks_and_frees_them) {
  FakeRaw raw;
  raw.log->budget = 4096;
  CachingPool<FakeRaw> pool(raw);
  std::size_t c1 = 0, c2 = 0;
  void* a = pool.allocate(3000, &c1);  // class 3072
  BOOST_TEST(pool.record_stream(a, 1));
  pool.deallocate(a, c1);              // parked: stream 1 still uses it
  void* b = pool.allocate(2048, &c2);  // fails once; synchronizing finishes stream 1, a is freed, retried
  BOOST_TEST(b != nullptr);
  const std::vector<std::string> expected{"alloc 3072", "record 1", "query 1", "fail 2048",   "sync",
                                          "query 1",    "release 3072", "alloc 2048"};
  BOOST_TEST(raw.log->calls == expected, boost::test_tools::per_element());
  BOOST_TEST(pool.stats().bytes_pending == 0u);
  BOOST_TEST(raw.log->events.empty());
  // release_cached too: a parked block is freed only after synchronizing.
  BOOST_TEST(pool.record_stream(b, 2));
  pool.deallocate(b, c2);
  BOOST_TEST(pool.stats().bytes_pending == c2);
  raw.log->calls.clear();
  pool.release_cached();
  const std::vector<std::string> expected_release{"sync", "query 2", "release 2048"};
  BOOST_TEST(raw.log->calls == expected_release, boost::test_tools::per_element());
  BOOST_TEST(raw.log->live.empty());
  const auto s = pool.stats();
  BOOST_TEST(s.bytes_pending == 0u);
  BOOST_TEST(s.bytes_cached == 0u);
}

BOOST_AUTO_TEST_CASE(cuda_cublas_and_cusolver_failures_become_errors_naming_the_call) {
  try {
    STRUCTGAN_CUDA_CHECK(cudaErrorMemoryAllocation);
    BOOST_FAIL("expected an error");
  } catch (const Error& e) {
    const std::string m = e.what();
    BOOST_TEST(contains(m, "CUDA error"));
    BOOST_TEST(contains(m, "cudaErrorMemoryAllocation"));
    BOOST_TEST(contains(m, cudaGetErrorString(cudaErrorMemoryAllocation)));
    BOOST_TEST(contains(m, "test_cuda_host.cpp"));
  }
  try {
    STRUCTGAN_CUDA_CHECK(CUBLAS_STATUS_INVALID_VALUE);
    BOOST_FAIL("expected an error");
  } catch (const Error& e) {
    const std::string m = e.what();
    BOOST_TEST(contains(m, "cuBLAS error"));
    BOOST_TEST(contains(m, "CUBLAS_STATUS_INVALID_VALUE"));
  }
  try {
    STRUCTGAN_CUDA_CHECK(CUSOLVER_STATUS_INVALID_VALUE);
    BOOST_FAIL("expected an error");
  } catch (const Error& e) {
    const std::string m = e.what();
    BOOST_TEST(contains(m, "cuSOLVER error"));
    BOOST_TEST(contains(m, "CUSOLVER_STATUS_INVALID_VALUE"));
    BOOST_TEST(contains(m, "test_cuda_host.cpp"));
  }
  BOOST_CHECK_NO_THROW(STRUCTGAN_CUDA_CHECK(cudaSuccess));
  BOOST_CHECK_NO_THROW(STRUCTGAN_CUDA_CHECK(CUBLAS_STATUS_SUCCESS));
  BOOST_CHECK_NO_THROW(STRUCTGAN_CUDA_CHECK(CUSOLVER_STATUS_SUCCESS));
}

BOOST_AUTO_TEST_CASE(device_query_agrees_with_the_runtime) {
  std::string why;
  const bool available = backend::cuda::device_available(&why);
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  (void)cudaGetLastError();
  BOOST_TEST(available == (status == cudaSuccess && count > 0));
  if (available) {
    BOOST_TEST(why.empty());
    BOOST_TEST_MESSAGE("CUDA device visible: " << backend::cuda::device_name());
  } else {
    BOOST_TEST(contains(why, "cudaGetDeviceCount"));
    BOOST_TEST_MESSAGE("no CUDA device visible: " << why);
  }
}

BOOST_AUTO_TEST_CASE(device_tensors_without_a_device_fail_cleanly) {
  if (backend::cuda::device_available()) {
    // With a device, allocation succeeds and the block returns to the pool on release.
    const auto before = backend::cuda::memory_stats();
    { Tensor<float, Cuda> t(Shape{1000}); BOOST_TEST(t.data() != nullptr); }
    const auto after = backend::cuda::memory_stats();
    BOOST_TEST(after.bytes_in_use == before.bytes_in_use);
    BOOST_TEST(after.bytes_cached >= bin_size(4000));
    return;
  }
  // Without one, cudaMalloc's failure surfaces as structgan::Error naming it, nothing leaks.
  try {
    Tensor<float, Cuda> t(Shape{1000});
    BOOST_FAIL("allocating device memory without a device should throw");
  } catch (const Error& e) {
    BOOST_TEST(contains(e.what(), "cudaMalloc"));
    BOOST_TEST_MESSAGE("as expected: " << e.what());
  }
  BOOST_TEST(backend::cuda::memory_stats().bytes_in_use == 0u);
  BOOST_TEST(backend::cuda::memory_stats().raw_allocations == 0u);
}

namespace {
/// Every padded shape with dimensions in {1, 2, 3}, and for each the 16 ways to set some of
/// them to 1 (the operand shapes that broadcast to it).
template <class F>
void for_all_broadcasts(F&& f) {
  for (int o = 0; o < 81; ++o) {
    std::array<index_t, 4> out{};
    for (int d = 0, t = o; d < 4; ++d, t /= 3) out[d] = 1 + t % 3;
    for (int ma = 0; ma < 16; ++ma)
      for (int mb = 0; mb < 16; ++mb) {
        std::array<index_t, 4> a{}, b{};
        for (int d = 0; d < 4; ++d) {
          a[d] = (ma >> d & 1) ? 1 : out[d];
          b[d] = (mb >> d & 1) ? 1 : out[d];
        }
        f(out, a, b);
      }
  }
}
/// The offset in a contiguous tensor of `shape` of the output element at `idx` (repeating size-1 dimensions).
index_t direct_offset(const std::array<index_t, 4>& shape, const std::array<index_t, 4>& idx) {
  index_t off = 0;
  for (int d = 0; d < 4; ++d) off = off * shape[d] + (shape[d] == 1 ? 0 : idx[d]);
  return off;
}
}  // namespace

BOOST_AUTO_TEST_CASE(broadcast_plans_address_every_element_correctly) {
  // The CUDA binary kernel walks this plan; compare it with direct indexing for all small shapes.
  long cases = 0, wrong = 0;
  for_all_broadcasts([&](const std::array<index_t, 4>& out, const std::array<index_t, 4>& a, const std::array<index_t, 4>& b) {
    const backend::cuda::BroadcastIndex p = backend::cuda::plan_broadcast_index(out, a, b);
    index_t n = 1;
    for (int d = 0; d < p.rank; ++d) n *= p.size[d];
    wrong += n != out[0] * out[1] * out[2] * out[3];
    std::array<index_t, 4> idx{};
    for (index_t i = 0; i < out[0] * out[1] * out[2] * out[3]; ++i) {
      for (int d = 3, t = static_cast<int>(i); d >= 0; --d) {
        idx[d] = t % out[d];
        t /= static_cast<int>(out[d]);
      }
      index_t oa = 0, ob = 0;
      backend::cuda::broadcast_offsets(p, i, oa, ob);
      wrong += oa != direct_offset(a, idx) || ob != direct_offset(b, idx);
    }
    ++cases;
  });
  BOOST_TEST(cases == 81 * 256);
  BOOST_TEST(wrong == 0);
}

BOOST_AUTO_TEST_CASE(reduce_plans_visit_each_element_once_for_its_output) {
  // The CUDA sum kernels walk kept × reduced offsets; each x element must be summed exactly once,
  // into the output it broadcasts from.
  long wrong = 0, cases = 0;
  for_all_broadcasts([&](const std::array<index_t, 4>& x, const std::array<index_t, 4>& y, const std::array<index_t, 4>&) {
    const backend::cuda::ReducePlan p = backend::cuda::plan_reduce(x, y);
    const index_t nx = x[0] * x[1] * x[2] * x[3], ny = y[0] * y[1] * y[2] * y[3];
    wrong += p.ny != ny || p.ny * p.nr != nx;
    std::vector<index_t> owner(static_cast<std::size_t>(nx), -1);
    for (index_t j = 0; j < p.ny; ++j) {
      const index_t base = backend::cuda::offset_of(j, p.kept_rank, p.kept_size, p.kept_stride);
      for (index_t r = 0; r < p.nr; ++r) {
        const index_t off = base + backend::cuda::offset_of(r, p.red_rank, p.red_size, p.red_stride);
        if (off < 0 || off >= nx || owner[static_cast<std::size_t>(off)] != -1) {
          ++wrong;
          continue;
        }
        owner[static_cast<std::size_t>(off)] = j;
      }
    }
    std::array<index_t, 4> idx{};
    for (index_t i = 0; i < nx; ++i) {
      for (int d = 3, t = static_cast<int>(i); d >= 0; --d) {
        idx[d] = t % x[d];
        t /= static_cast<int>(x[d]);
      }
      wrong += owner[static_cast<std::size_t>(i)] != direct_offset(y, idx);
    }
    ++cases;
  });
  BOOST_TEST(cases == 81 * 256);
  BOOST_TEST(wrong == 0);
}

BOOST_AUTO_TEST_CASE(tf32_defaults_follow_pytorch_and_choose_the_cublas_compute_type) {
  using backend::cuda::gemm_compute_type;
  using backend::cuda::GemmUse;
  using backend::cuda::Tf32Options;
  // PyTorch: torch.backends.cudnn.allow_tf32 = True, torch.backends.cuda.matmul.allow_tf32 = False.
  BOOST_TEST(Tf32Options{}.conv);
  BOOST_TEST(!Tf32Options{}.matmul);
  BOOST_TEST((backend::cuda::tf32() == Tf32Options{}));  // nothing set it in this process
  BOOST_TEST(gemm_compute_type<float>(GemmUse::conv) == CUBLAS_COMPUTE_32F_FAST_TF32);
  BOOST_TEST(gemm_compute_type<float>(GemmUse::matmul) == CUBLAS_COMPUTE_32F);
  // Every combination: float follows the option of its use, double is never TF32.
  for (bool conv : {false, true})
    for (bool matmul : {false, true}) {
      const Tf32Options o{conv, matmul};
      BOOST_TEST(gemm_compute_type<float>(GemmUse::conv, o) == (conv ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F));
      BOOST_TEST(gemm_compute_type<float>(GemmUse::matmul, o) ==
                 (matmul ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F));
      BOOST_TEST(gemm_compute_type<double>(GemmUse::conv, o) == CUBLAS_COMPUTE_64F);
      BOOST_TEST(gemm_compute_type<double>(GemmUse::matmul, o) == CUBLAS_COMPUTE_64F);
    }
  // set_tf32 is process-wide and what the GEMMs read by default; a scope restores the previous options.
  {
    backend::cuda::Tf32Scope scope(Tf32Options{false, true});
    BOOST_TEST((backend::cuda::tf32() == Tf32Options{false, true}));
    BOOST_TEST(gemm_compute_type<float>(GemmUse::conv) == CUBLAS_COMPUTE_32F);
    BOOST_TEST(gemm_compute_type<float>(GemmUse::matmul) == CUBLAS_COMPUTE_32F_FAST_TF32);
    std::thread other([] { BOOST_TEST(!backend::cuda::tf32().conv); });  // seen from every thread
    other.join();
  }
  BOOST_TEST((backend::cuda::tf32() == Tf32Options{}));
}
