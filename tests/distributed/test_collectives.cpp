// The communicator's collectives on every rank of the job it runs in (CTest runs it twice: alone,
// and under `mpirun -np 2`): odd sizes, float and double, host (Cpu) tensors and tensors of the
// reference device (staged through host memory, so the staging is checked without a GPU). Each
// rank's data are a known function of its rank, so every expected value is computed here by hand.
#define BOOST_TEST_MODULE distributed_collectives
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>
#include <vector>

#include "structgan/backend/ref.hpp"
#include "structgan/distributed/world.hpp"

using namespace structgan;
using distributed::Communicator;

namespace {

/// The job's communicator, made once per process (MPI may be initialized only once).
struct World {
  World() { comm() = distributed::make_communicator(); }
  ~World() { comm().reset(); }
  static std::unique_ptr<Communicator>& comm() {
    static std::unique_ptr<Communicator> c;
    return c;
  }
};
Communicator& world() { return *World::comm(); }

/// Rank r's value at index i: exact in float for the sizes used (multiples of 1/4 below 2¹⁸).
double value(int rank, index_t i) { return 0.5 * (rank + 1) + 0.25 * static_cast<double>(i % 1000); }

template <class T, class D>
Tensor<T, D> rank_tensor(const Shape& s, int rank) {
  Tensor<T, Cpu> h(s);
  for (index_t i = 0; i < h.numel(); ++i) h[i] = static_cast<T>(value(rank, i));
  return to_device<D>(h);
}

using Cases = std::tuple<std::pair<float, Cpu>, std::pair<double, Cpu>, std::pair<float, Ref>, std::pair<double, Ref>>;

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(World);

BOOST_AUTO_TEST_CASE(the_world_is_what_the_launcher_started) {
  Communicator& c = world();
  BOOST_TEST(c.size() == distributed::launched_world_size());
  BOOST_TEST(c.rank() >= 0);
  BOOST_TEST(c.rank() < c.size());
  BOOST_TEST_MESSAGE("rank " << c.rank() << " of " << c.size() << " (" << c.engine() << ")");
  // Every rank sees every rank once: the sum of the ranks is n(n−1)/2.
  std::vector<std::int64_t> ranks{c.rank()};
  distributed::all_reduce_sum(c, ranks);
  BOOST_TEST(ranks[0] == std::int64_t(c.size()) * (c.size() - 1) / 2);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(all_reduce_sum_adds_every_rank, Case, Cases) {
  using T = typename Case::first_type;
  using D = typename Case::second_type;
  Communicator& c = world();
  for (const Shape& s : {Shape{1}, Shape{7}, Shape{3, 5, 7}, Shape{1001}, Shape{0}, Shape{2, 3, 5, 7}}) {
    Tensor<T, D> t = rank_tensor<T, D>(s, c.rank());
    distributed::all_reduce_sum(c, t);
    const Tensor<T, Cpu> h = to_host(t);
    BOOST_REQUIRE(h.shape() == s);
    index_t wrong = 0;
    for (index_t i = 0; i < h.numel(); ++i) {
      double want = 0;
      for (int r = 0; r < c.size(); ++r) want += value(r, i);
      wrong += h[i] != static_cast<T>(want);
    }
    BOOST_TEST(wrong == 0, wrong << " of " << h.numel() << " sums wrong for shape " << s);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(all_gather_stacks_the_ranks_in_order, Case, Cases) {
  using T = typename Case::first_type;
  using D = typename Case::second_type;
  Communicator& c = world();
  for (const Shape& s : {Shape{1}, Shape{3, 5}, Shape{13, 7}, Shape{0, 4}}) {
    const Tensor<T, Cpu> g = to_host(distributed::all_gather(c, rank_tensor<T, D>(s, c.rank())));
    BOOST_REQUIRE(g.dim(0) == s[0] * c.size());
    const index_t per_rank = s.numel();
    index_t wrong = 0;
    for (int r = 0; r < c.size(); ++r)
      for (index_t i = 0; i < per_rank; ++i) wrong += g[r * per_rank + i] != static_cast<T>(value(r, i));
    BOOST_TEST(wrong == 0, wrong << " gathered values wrong for shape " << s);
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(broadcast_gives_the_roots_values, Case, Cases) {
  using T = typename Case::first_type;
  using D = typename Case::second_type;
  Communicator& c = world();
  for (int root = 0; root < c.size(); ++root) {
    Tensor<T, D> t = rank_tensor<T, D>(Shape{5, 3}, c.rank());
    distributed::broadcast(c, t, root);
    const Tensor<T, Cpu> h = to_host(t);
    for (index_t i = 0; i < h.numel(); ++i) BOOST_TEST(h[i] == static_cast<T>(value(root, i)));
  }
  Tensor<T, D> u = rank_tensor<T, D>(Shape{2}, 0);
  BOOST_CHECK_THROW(distributed::broadcast(c, u, c.size()), Error);  // no such root: refused on every rank alike
}

BOOST_AUTO_TEST_CASE(reference_device_tensors_are_staged_through_the_host_once_each_way) {
  Communicator& c = world();
  Tensor<double, Ref> t = rank_tensor<double, Ref>(Shape{9}, c.rank());
  auto& counters = backend::counters(Ref{});
  counters.reset();
  distributed::all_reduce_sum(c, t);
  BOOST_TEST(counters.to_host == (c.size() > 1 ? 1u : 0u));
  BOOST_TEST(counters.from_host == (c.size() > 1 ? 1u : 0u));
}

BOOST_AUTO_TEST_CASE(text_and_the_check_that_ranks_agree) {
  Communicator& c = world();
  std::string text = c.rank() == 0 ? std::string("config of rank 0: {\"lr\": 0.0002}") : std::string("other");
  distributed::broadcast(c, text, 0);
  BOOST_TEST(text == "config of rank 0: {\"lr\": 0.0002}");
  BOOST_CHECK_NO_THROW(distributed::require_same_on_every_rank(c, "same everywhere", "the configuration"));
  if (c.size() > 1) {
    // Differs on the last rank only: every rank throws, naming that rank.
    const std::string mine = c.rank() == c.size() - 1 ? "batch_size 64" : "batch_size 32";
    try {
      distributed::require_same_on_every_rank(c, mine, "the configuration");
      BOOST_FAIL("expected structgan::Error on rank " << c.rank());
    } catch (const Error& e) {
      const std::string what = e.what();
      BOOST_TEST(what.find("the configuration differs between ranks: rank " + std::to_string(c.size() - 1)) != std::string::npos,
                 what);
    }
  }
  c.barrier();
}

BOOST_AUTO_TEST_CASE(the_statistics_count_calls_and_bytes) {
  Communicator& c = world();
  c.reset_stats();
  Tensor<float, Cpu> t = rank_tensor<float, Cpu>(Shape{10}, c.rank());
  c.all_reduce_sum(t.data(), 10, distributed::ScalarType::Float32, distributed::Memory::Host);
  c.barrier();
  BOOST_TEST(c.stats().calls == 2u);
  BOOST_TEST(c.stats().bytes == 40u);
  BOOST_TEST(c.stats().seconds >= 0.0);
}
