#define BOOST_TEST_MODULE core_host_cache
#include <boost/test/unit_test.hpp>
// Allocator<Cpu>'s cache of freed large blocks (core/device.hpp), which the benchmarks showed
// to matter: reuse of a freed block for the same size class, no sharing between live tensors,
// the size window, the limit (0 turns it off), release, giving back the oldest blocks on a miss
// only beyond the live high-water mark, and a repeated step that hits every time.
#include <cstdint>
#include <set>
#include <vector>

#include "structgan/structgan.hpp"

using namespace structgan;
using A = Allocator<Cpu>;

BOOST_AUTO_TEST_CASE(freed_large_blocks_are_reused_and_live_ones_never_shared) {
  A::release_cached();
  const float* first;
  {
    Tensor<float> t(Shape{1 << 20});  // 4 MiB
    first = t.data();
    t.array().setConstant(1.0f);
  }
  BOOST_TEST(A::cached_bytes() >= (std::size_t(4) << 20));
  Tensor<float> again(Shape{(1 << 20) - 100});  // the same 2 MiB size class
  BOOST_TEST(again.data() == first);
  BOOST_TEST(A::cached_bytes() == 0u);
  // live tensors of one class get distinct blocks
  std::vector<Tensor<float>> live;
  std::set<const float*> seen{again.data()};
  for (int i = 0; i < 4; ++i) {
    live.emplace_back(Shape{1 << 20});
    BOOST_TEST(seen.insert(live.back().data()).second);
  }
  // writes to one do not show in another
  for (std::size_t i = 0; i < live.size(); ++i) live[i].array().setConstant(float(i));
  for (std::size_t i = 0; i < live.size(); ++i) BOOST_TEST(live[i][12345] == float(i));
  BOOST_TEST(reinterpret_cast<std::uintptr_t>(live[0].data()) % (std::uintptr_t(2) << 20) == 0u);
}

BOOST_AUTO_TEST_CASE(a_much_larger_block_is_not_handed_out_for_a_small_request) {
  A::release_cached();
  const double* big;
  {
    Tensor<double> t(Shape{1 << 22});  // 32 MiB
    big = t.data();
  }
  Tensor<double> small(Shape{1 << 18});  // 2 MiB: outside the 5/4 window of the 32 MiB block
  BOOST_TEST(small.data() != big);
  Tensor<double> same(Shape{1 << 22});
  BOOST_TEST(same.data() == big);
}

BOOST_AUTO_TEST_CASE(limit_zero_turns_the_cache_off_and_release_empties_it) {
  A::release_cached();
  { Tensor<float> t(Shape{1 << 19}); }
  BOOST_TEST(A::cached_bytes() > 0u);
  A::release_cached();
  BOOST_TEST(A::cached_bytes() == 0u);
  A::set_cache_limit(0);
  { Tensor<float> t(Shape{1 << 19}); }
  BOOST_TEST(A::cached_bytes() == 0u);
  A::set_cache_limit(std::size_t(2) << 30);
  { Tensor<float> t(Shape{1 << 19}); }
  BOOST_TEST(A::cached_bytes() > 0u);
  // small blocks never enter the cache
  A::release_cached();
  { Tensor<float> t(Shape{1000}); }
  BOOST_TEST(A::cached_bytes() == 0u);
}

BOOST_AUTO_TEST_CASE(a_miss_gives_back_the_oldest_cached_blocks_first) {
  A::release_cached();
  { Tensor<float> a(Shape{1 << 19}), b(Shape{1 << 20}); }  // 2 MiB then 4 MiB freed (a is freed last)
  const std::size_t both = A::cached_bytes();
  BOOST_TEST(both >= (std::size_t(6) << 20));
  // 8 MiB fits neither, and 6 MiB cached + 8 MiB exceeds the 8 MiB ever live at once: the oldest
  // blocks go back to the OS until it does not (here all of them)
  Tensor<float> c(Shape{1 << 21});
  BOOST_TEST(A::cached_bytes() == 0u);
  { Tensor<float> d(Shape{1 << 19}), e(Shape{1 << 20}); }
  // a 2 MiB request takes the cached 2 MiB block and leaves the 4 MiB one
  const float* two = nullptr;
  {
    Tensor<float> f(Shape{1 << 19});
    two = f.data();
    BOOST_TEST(A::cached_bytes() == (std::size_t(4) << 20));  // only the 4 MiB block left
  }
  BOOST_TEST(two != nullptr);
}

BOOST_AUTO_TEST_CASE(a_miss_within_the_live_high_water_mark_keeps_the_cache) {
  A::release_cached();
  A::reset_cache_stats();
  {
    std::vector<Tensor<float>> five;
    for (int i = 0; i < 5; ++i) five.emplace_back(Shape{1 << 20});  // 20 MiB live at once
  }
  BOOST_TEST(A::cached_bytes() == (std::size_t(20) << 20));
  Tensor<float> x(Shape{1 << 20}), y(Shape{1 << 20});  // two hits: 12 MiB left in the cache
  BOOST_TEST(A::cached_bytes() == (std::size_t(12) << 20));
  Tensor<float> z(Shape{3 << 19});  // 6 MiB, a miss: 12 + 6 <= 20, so nothing is given back
  BOOST_TEST(A::cached_bytes() == (std::size_t(12) << 20));
  BOOST_TEST(A::cache_stats().evicted_bytes == 0u);
}

BOOST_AUTO_TEST_CASE(a_repeated_step_hits_the_cache_every_time) {
  // A step whose blocks of one size are live while larger ones of the 5/4 window are free: the
  // first steps may hand a larger block to a smaller request, but from then on every request hits.
  A::release_cached();
  auto step = [] {
    std::vector<Tensor<float>> keep;
    for (int i = 0; i < 3; ++i) keep.emplace_back(Shape{2 << 20});  // 8 MiB
    { Tensor<float> t(Shape{5 << 19}); }                             // 10 MiB, freed at once
    for (int i = 0; i < 3; ++i) keep.emplace_back(Shape{5 << 19});
    keep.erase(keep.begin());  // one 8 MiB block back mid-step
    keep.emplace_back(Shape{2 << 20});
  };
  for (int i = 0; i < 3; ++i) step();
  A::reset_cache_stats();
  for (int i = 0; i < 3; ++i) step();
  const auto s = A::cache_stats();
  BOOST_TEST(s.misses == 0u);
  BOOST_TEST(s.evicted_bytes == 0u);
  BOOST_TEST(s.hits == 3u * 8u);
}
