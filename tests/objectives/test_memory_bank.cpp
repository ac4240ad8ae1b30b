#define BOOST_TEST_MODULE objectives_memory_bank
#include <boost/test/unit_test.hpp>

// The memory bank of SPEC §3: random unit initialization, wrap-around with batch sizes that do
// not divide L (and batches longer than L), snapshots, checkpoint state, errors.
#include <cmath>
#include <deque>
#include <limits>

#include "objectives_test_util.hpp"
#include "structgan/backend/ref.hpp"
#include "structgan/objectives/clustering.hpp"

using namespace structgan;
using namespace structgan::objectives;
using namespace structgan::objtest;

BOOST_AUTO_TEST_CASE(initialization_is_random_unit_and_seeded) {
  Rng a(11), b(11), c(12);
  MemoryBank<double> x(50, 7, 5, a), y(50, 7, 5, b), z(50, 7, 5, c);
  BOOST_TEST(x.size() == 50);
  BOOST_TEST(x.key_dim() == 7);
  BOOST_TEST(x.value_dim() == 5);
  BOOST_TEST(x.pointer() == 0);
  for (index_t i = 0; i < 50; ++i) {
    BOOST_TEST(close(x.keys().matrix().row(i).norm(), 1.0, 1e-14, 0));
    BOOST_TEST(close(x.values().matrix().row(i).norm(), 1.0, 1e-14, 0));
  }
  BOOST_TEST((x.keys().array() == y.keys().array()).all());
  BOOST_TEST((x.values().array() == y.values().array()).all());
  BOOST_TEST(!(x.keys().array() == z.keys().array()).all());
  // Keys and values are not the same draws.
  BOOST_TEST(x.keys().matrix().col(0).norm() > 0);
  // Roughly isotropic: the mean of 50 random unit rows is small.
  BOOST_TEST(x.keys().matrix().colwise().mean().norm() < 0.5);
}

BOOST_AUTO_TEST_CASE(wrap_around_with_non_dividing_batches) {
  const index_t L = 10, q = 3, p = 2;
  Rng rng(1);
  MemoryBank<double> bank(L, q, p, rng);
  // A model of the ring: row r holds the last (key, value) written at r.
  std::vector<TD> key_rows(L), value_rows(L);
  for (index_t r = 0; r < L; ++r) {
    key_rows[r] = slice(bank.keys(), 0, r, 1);
    value_rows[r] = slice(bank.values(), 0, r, 1);
  }
  index_t ptr = 0;
  Rng data(2);
  for (index_t b : {3, 4, 7, 1, 10, 12, 25, 6, 9}) {
    const TD k = randn<double>(Shape{b, q}, data), v = randn<double>(Shape{b, p}, data);
    bank.enqueue(k, v);
    const TD kn = row_normalize(k);
    for (index_t i = 0; i < b; ++i) {
      key_rows[(ptr + i) % L] = slice(kn, 0, i, 1);
      value_rows[(ptr + i) % L] = slice(v, 0, i, 1);
    }
    ptr = (ptr + b) % L;
    BOOST_TEST_CONTEXT("after a batch of " << b) {
      BOOST_TEST(bank.pointer() == ptr);
      for (index_t r = 0; r < L; ++r) {
        BOOST_TEST((bank.keys().matrix().row(r).array() == key_rows[r].matrix().row(0).array()).all(), "key row " << r);
        BOOST_TEST((bank.values().matrix().row(r).array() == value_rows[r].matrix().row(0).array()).all(), "value row " << r);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(enqueue_normalizes_keys_and_keeps_values) {
  Rng rng(3);
  MemoryBank<float> bank(8, 4, 3, rng);
  Tensor<float> k = from_vector<float>(Shape{2, 4}, {3, 0, 0, 4, 0, 2, 0, 0});
  Tensor<float> v = from_vector<float>(Shape{2, 3}, {5, 6, 7, 8, 9, 10});
  bank.enqueue(k, v);
  BOOST_TEST(bank.keys().at(0, 0) == 0.6f);
  BOOST_TEST(bank.keys().at(0, 3) == 0.8f);
  BOOST_TEST(bank.keys().at(1, 1) == 1.0f);
  BOOST_TEST(bank.values().at(1, 2) == 10.0f);  // values are stored as given
  BOOST_TEST(bank.pointer() == 2);
}

BOOST_AUTO_TEST_CASE(snapshots_survive_an_enqueue) {
  Rng rng(4);
  MemoryBank<double> bank(6, 3, 2, rng);
  const TD keys_before = bank.keys(), keys_copy = clone(bank.keys());
  bank.enqueue(unit_rows(2, 3, rng), unit_rows(2, 2, rng));
  BOOST_TEST((keys_before.array() == keys_copy.array()).all());
  BOOST_TEST(!(bank.keys().array() == keys_copy.array()).all());
}

BOOST_AUTO_TEST_CASE(state_round_trip) {
  Rng rng(5);
  MemoryBank<double> bank(9, 4, 3, rng);
  bank.enqueue(unit_rows(5, 4, rng), unit_rows(5, 3, rng));
  const MemoryBankState<double> s = bank.state();
  BOOST_TEST(s.pointer == 5);
  Rng other(99);
  MemoryBank<double> restored(2, 4, 3, other);
  restored.load_state(s);
  BOOST_TEST(restored.size() == 9);
  BOOST_TEST(restored.pointer() == 5);
  BOOST_TEST((restored.keys().array() == bank.keys().array()).all());
  BOOST_TEST((restored.values().array() == bank.values().array()).all());
  // The state is a copy: later enqueues do not change it.
  bank.enqueue(unit_rows(3, 4, rng), unit_rows(3, 3, rng));
  BOOST_TEST((s.keys.array() == restored.keys().array()).all());
  // Named tensors; a bank restored from them continues identically.
  const TD k = unit_rows(3, 4, rng), v = unit_rows(3, 3, rng);
  const auto named = bank.named_tensors();
  BOOST_TEST(named.size() == 3u);
  BOOST_TEST(named[0].first == "keys");
  BOOST_TEST(named[2].first == "pointer");
  BOOST_TEST(named[2].second[0] == 8.0);
  MemoryBank<double> from_named;
  from_named.load_named(named);
  BOOST_TEST(from_named.pointer() == 8);
  BOOST_TEST((from_named.values().array() == bank.values().array()).all());
  from_named.enqueue(k, v);
  bank.enqueue(k, v);
  BOOST_TEST((from_named.keys().array() == bank.keys().array()).all());
  BOOST_TEST(from_named.pointer() == bank.pointer());
}

BOOST_AUTO_TEST_CASE(bad_inputs_throw) {
  Rng rng(6);
  BOOST_CHECK_THROW(MemoryBank<double>(0, 3, 2, rng), Error);
  BOOST_CHECK_THROW(MemoryBank<double>(4, 0, 2, rng), Error);
  MemoryBank<double> bank(4, 3, 2, rng);
  BOOST_CHECK_THROW(bank.enqueue(unit_rows(2, 4, rng), unit_rows(2, 2, rng)), Error);  // key width
  BOOST_CHECK_THROW(bank.enqueue(unit_rows(2, 3, rng), unit_rows(2, 3, rng)), Error);  // value width
  BOOST_CHECK_THROW(bank.enqueue(unit_rows(2, 3, rng), unit_rows(3, 2, rng)), Error);  // rows differ
  TD nan = unit_rows(2, 3, rng);
  nan[1] = std::nan("");
  BOOST_CHECK_THROW(bank.enqueue(nan, unit_rows(2, 2, rng)), Error);
  BOOST_TEST(bank.pointer() == 0);  // failed enqueues change nothing
  MemoryBank<double> empty;
  BOOST_CHECK_THROW(empty.enqueue(unit_rows(1, 3, rng), unit_rows(1, 2, rng)), Error);
  MemoryBankState<double> s = bank.state();
  s.pointer = 4;
  BOOST_CHECK_THROW(bank.load_state(s), Error);
  s.pointer = 0;
  s.values = unit_rows(5, 2, rng);
  BOOST_CHECK_THROW(bank.load_state(s), Error);
  auto named = bank.named_tensors();
  named.emplace_back("extra", TD());
  BOOST_CHECK_THROW(bank.load_named(named), Error);
}

// A bank holds finite rows only (a search relies on it): a state with NaN is refused on load.
BOOST_AUTO_TEST_CASE(a_state_with_nan_rows_is_refused) {
  Rng rng(8);
  MemoryBank<double> bank(4, 3, 2, rng);
  MemoryBankState<double> s = bank.state();
  s.keys[5] = std::nan("");
  const std::string what = [&] {
    try {
      bank.load_state(s);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  }();
  BOOST_TEST(what.find("NaN or Inf") != std::string::npos, what);
  s = bank.state();
  s.values[0] = std::numeric_limits<double>::infinity();
  BOOST_CHECK_THROW(bank.load_state(s), Error);
}

// The searches against a MemoryBank check the batch once and never read the bank's rows back
// (on a GPU every such check copies the whole bank to the host): counted on the reference device.
BOOST_AUTO_TEST_CASE(searches_against_a_bank_do_not_read_it_back) {
  Rng rng(9);
  const index_t L = 2048, q = 64, p = 16, n = 6;
  MemoryBank<double, Ref> bank(L, q, p, rng);
  const auto keys = to_device<Ref>(unit_rows(n, q, rng)), fake_keys = to_device<Ref>(unit_rows(n, q, rng));
  const auto f = to_device<Ref>(unit_rows(n, p, rng)), fg = to_device<Ref>(unit_rows(n, p, rng));
  auto& counters = backend::counters(Ref{});
  counters.reset();
  const auto c = cluster_similarities(f, fg, keys, fake_keys, bank);
  const std::uint64_t bank_bytes = static_cast<std::uint64_t>(L * q) * sizeof(double);
  BOOST_TEST(counters.to_host_bytes < bank_bytes / 2, counters.to_host_bytes << " bytes read for a bank of " << bank_bytes);
  const std::uint64_t bank_reads = counters.to_host;
  // The raw-tensor form cannot know the keys are finite: it checks them once more, on the device
  // (backend/device_readout.hpp: one value read back, not the keys).
  counters.reset();
  const auto raw = cluster_similarities(f, fg, keys, fake_keys, bank.keys(), bank.values());
  BOOST_TEST(counters.to_host == bank_reads + 1);
  BOOST_TEST(counters.to_host_bytes < bank_bytes / 2);
  BOOST_TEST(to_host(raw.s_real)[0] == to_host(c.s_real)[0]);
  BOOST_TEST(to_host(raw.s_fake)[0] == to_host(c.s_fake)[0]);
  BOOST_TEST(to_host(raw.real_neighbours) == to_host(c.real_neighbours));
}

// The kNN branch of a training step makes no host round trip (issue #24): with the finite checks
// deferred (DeferredReads), the search (top-k and the merge of the candidate blocks), the gathers
// of the neighbours' values and the backward pass run on the device; the neighbours equal the
// CPU's, the similarities and gradients agree to rounding (Ref sums in long double), and the
// neighbours are read only when asked for.
BOOST_AUTO_TEST_CASE(knn_branch_makes_no_device_to_host_transfer) {
  Rng rng(10);
  const index_t L = 300, q = 16, p = 8, n = 9;
  MemoryBank<double> cpu_bank(L, q, p, rng);
  MemoryBank<double, Ref> bank;
  bank.load_state({to_device<Ref>(cpu_bank.keys()), to_device<Ref>(cpu_bank.values()), 0});
  const TD keys = unit_rows(n, q, rng), fake_keys = unit_rows(n, q, rng), f = unit_rows(n, p, rng), fg = unit_rows(n, p, rng);
  ClusterOptions o;
  o.k = 3;
  o.block_elements = 40;  // several query and candidate blocks, merged on the device
  VD fv(f, true), gv(fg, true);
  const auto want = cluster_similarities(fv, gv, keys, fake_keys, cpu_bank, o);
  backward(add(want.s_real, want.s_fake));

  using VR = Var<double, Ref>;
  VR fr(to_device<Ref>(f), true), gr(to_device<Ref>(fg), true);
  const auto kr = to_device<Ref>(keys), kf = to_device<Ref>(fake_keys);
  DeviceReadout<double, Ref> readout;
  auto& counters = backend::counters(Ref{});
  counters.reset();
  {
    DeferredReads<double, Ref> deferred(readout);
    const auto c = cluster_similarities(fr, gr, kr, kf, bank, o);
    backward(add(c.s_real, c.s_fake));
    BOOST_TEST(counters.to_host == 0u, counters.to_host << " device→host transfers in the kNN branch");
    BOOST_TEST(readout.checks() > 0u);  // the finite checks were queued, not read
    BOOST_TEST(to_host(c.real_neighbours) == to_host(want.real_neighbours));
    BOOST_TEST(to_host(c.fake_neighbours) == to_host(want.fake_neighbours));
    BOOST_TEST(close(to_host(c.s_real.value())[0], want.s_real.value()[0], 1e-14, 1e-15));
    BOOST_TEST(close(to_host(c.s_fake.value())[0], want.s_fake.value()[0], 1e-14, 1e-15));
  }
  BOOST_TEST(!readout.read().has_value());
  const TD grad_f = to_host(fr.grad()), grad_g = to_host(gr.grad());
  for (index_t i = 0; i < f.numel(); ++i) BOOST_TEST(close(grad_f[i], fv.grad()[i], 1e-13, 1e-15));
  for (index_t i = 0; i < fg.numel(); ++i) BOOST_TEST(close(grad_g[i], gv.grad()[i], 1e-13, 1e-15));
}

// With the checks deferred, NaN keys reach the search: it still returns candidates (indices in
// [0, n + L)), so the gathers stay inside the values, and the queued check reports the NaN.
BOOST_AUTO_TEST_CASE(deferred_nan_keys_give_candidates_and_a_failed_check) {
  Rng rng(11);
  const index_t L = 40, q = 5, p = 3, n = 6;
  MemoryBank<double, Ref> bank(L, q, p, rng);
  TD keys = unit_rows(n, q, rng);
  keys.at(2, 1) = std::nan("");
  const auto kr = to_device<Ref>(keys), f = to_device<Ref>(unit_rows(n, p, rng));
  ClusterOptions o;
  o.k = 2;
  o.block_elements = 16;
  DeviceReadout<double, Ref> readout;
  {
    DeferredReads<double, Ref> deferred(readout);
    const auto c = cluster_similarities(f, f, kr, kr, bank, o);
    for (index_t j : to_host(c.real_neighbours)) BOOST_TEST((j >= 0 && j < n + L), "neighbour " << j);
    for (index_t j : to_host(c.fake_neighbours)) BOOST_TEST((j >= 0 && j < n + L), "neighbour " << j);
  }
  const auto failed = readout.read();
  BOOST_REQUIRE(failed.has_value());
  BOOST_TEST(failed->find("NaN or Inf") != std::string::npos, *failed);
}
