#define BOOST_TEST_MODULE objectives_clustering
#include <boost/test/unit_test.hpp>

// The kNN search and the similarities of SPEC §3: the blocked search against a brute-force
// full sort, gradients against central differences, a 10240-entry bank, errors.
#include <algorithm>
#include <chrono>
#include <numeric>

#include "objectives_test_util.hpp"
#include "structgan/objectives/clustering.hpp"

using namespace structgan;
using namespace structgan::objectives;
using namespace structgan::objtest;

namespace {

/// Brute force: all similarities to [batch; bank] (one Eigen product per source), each row fully
/// sorted (value descending, index ascending).
template <class T>
std::vector<index_t> brute_knn(const Tensor<T>& q, const Tensor<T>& batch, const Tensor<T>& bank, index_t k, bool drop) {
  using M = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  const index_t m = q.dim(0), n = batch.dim(0), L = bank.defined() ? bank.dim(0) : 0;
  M sims(m, n + L);
  sims.leftCols(n) = q.matrix() * batch.matrix().transpose();
  if (L > 0) sims.rightCols(L) = q.matrix() * bank.matrix().transpose();
  std::vector<index_t> out;
  for (index_t i = 0; i < m; ++i) {
    std::vector<std::pair<double, index_t>> c;
    for (index_t j = 0; j < n + L; ++j) c.emplace_back(double(sims(i, j)), j);
    std::sort(c.begin(), c.end(), [](auto a, auto b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    for (index_t t = 0; t < k; ++t) out.push_back(c[static_cast<std::size_t>(t + (drop ? 1 : 0))].second);
  }
  return out;
}

/// knn_search's neighbours read back to the host.
template <class... A>
std::vector<index_t> knn(const A&... a) {
  return to_host(knn_search(a...));
}

}  // namespace

BOOST_AUTO_TEST_CASE(blocked_search_matches_a_full_sort) {
  Rng rng(1);
  const TD batch = unit_rows(13, 6, rng), bank = unit_rows(57, 6, rng), queries = unit_rows(11, 6, rng);
  for (index_t k : {1, 2, 3, 9})
    for (bool drop : {true, false})
      for (index_t block : {index_t(1), index_t(7), index_t(64), index_t(1) << 21}) {
        BOOST_TEST_CONTEXT("k " << k << " drop " << drop << " block " << block) {
          BOOST_TEST(knn(queries, batch, bank, k, drop, block) == brute_knn(queries, batch, bank, k, drop));
          BOOST_TEST(knn(batch, batch, bank, k, drop, block) == brute_knn(batch, batch, bank, k, drop));
          BOOST_TEST(knn(queries, batch, TD(), k, drop, block) == brute_knn(queries, batch, TD(), k, drop));
        }
      }
}

BOOST_AUTO_TEST_CASE(real_branch_drops_the_sample_itself) {
  Rng rng(2);
  const TD keys = unit_rows(20, 8, rng), bank = unit_rows(30, 8, rng);
  const auto nb = knn(keys, keys, bank, 2, true);
  const auto with_self = knn(keys, keys, bank, 3, false);
  for (index_t i = 0; i < 20; ++i) {
    BOOST_TEST(with_self[static_cast<std::size_t>(3 * i)] == i);  // each key is its own nearest candidate
    BOOST_TEST(nb[static_cast<std::size_t>(2 * i)] == with_self[static_cast<std::size_t>(3 * i + 1)]);
    BOOST_TEST(nb[static_cast<std::size_t>(2 * i + 1)] == with_self[static_cast<std::size_t>(3 * i + 2)]);
  }
  // A bank key next to batch key 3 is its neighbour once the self match is dropped.
  TD near = clone(bank);
  near.matrix().row(5) = keys.matrix().row(3) + 1e-3 * bank.matrix().row(5);
  near = row_normalize(near);
  BOOST_TEST(knn(keys, keys, near, 1, false)[3] == 3);
  BOOST_TEST(knn(keys, keys, near, 1, true)[3] == 20 + 5);
}

BOOST_AUTO_TEST_CASE(similarity_values_and_gradients) {
  Rng rng(3);
  const index_t n = 7, m = 5, p = 4, q = 3, L = 9;
  const TD f = unit_rows(n, p, rng), fg = unit_rows(m, p, rng), kr = unit_rows(n, q, rng), kf = unit_rows(m, q, rng),
           bk = unit_rows(L, q, rng), bv = unit_rows(L, p, rng);
  for (index_t k : {1, 3}) {
    ClusterOptions o;
    o.k = k;
    // Values by hand from the neighbours.
    DeviceIndices<Cpu> nr_device, nf_device;
    const double sr = real_cluster_similarity(f, kr, bk, bv, o, &nr_device)[0];
    const double sf = fake_cluster_similarity(fg, f, kf, kr, bk, bv, o, &nf_device)[0];
    const std::vector<index_t> nr = to_host(nr_device), nf = to_host(nf_device);
    BOOST_TEST(nr == knn(kr, kr, bk, k, true));
    BOOST_TEST(nf == knn(kf, kr, bk, k, true));
    auto value_row = [&](index_t j) { return j < n ? TD::RowMajorMatrix(f.matrix().row(j)) : TD::RowMajorMatrix(bv.matrix().row(j - n)); };
    double er = 0, ef = 0;
    for (index_t i = 0; i < n; ++i)
      for (index_t t = 0; t < k; ++t) er += f.matrix().row(i).dot(value_row(nr[static_cast<std::size_t>(i * k + t)]).row(0));
    for (index_t i = 0; i < m; ++i)
      for (index_t t = 0; t < k; ++t) ef += fg.matrix().row(i).dot(value_row(nf[static_cast<std::size_t>(i * k + t)]).row(0));
    BOOST_TEST(close(sr, er / double(n * k), 1e-14, 1e-15));
    BOOST_TEST(close(sf, ef / double(m * k), 1e-14, 1e-15));
    // Gradients (the neighbours depend only on the keys, so they are fixed under perturbation).
    check_gradient("s_real k=" + std::to_string(k),
                   [&](const auto& v) { return real_cluster_similarity(v[0], kr, bk, bv, o); }, {f});
    check_gradient("s_fake k=" + std::to_string(k),
                   [&](const auto& v) { return fake_cluster_similarity(v[0], v[1], kf, kr, bk, bv, o); }, {fg, f});
    o.skip_first_fake = false;
    check_gradient("s_fake (keep first) k=" + std::to_string(k),
                   [&](const auto& v) { return fake_cluster_similarity(v[0], v[1], kf, kr, bk, bv, o); }, {fg, f});
    check_jvp("s_fake k=" + std::to_string(k),
              [&](const auto& v) { return fake_cluster_similarity(v[0], v[1], kf, kr, bk, bv, o); }, {fg, f});
  }
}

BOOST_AUTO_TEST_CASE(bank_values_carry_no_gradient) {
  Rng rng(4);
  const TD f = unit_rows(4, 3, rng), kr = unit_rows(4, 5, rng);
  // Bank key i next to real key i: once the self match is dropped, every neighbour is in the bank.
  TD bk = clone(kr), bv = unit_rows(4, 3, rng);
  bk.array() += 1e-3 * randn<double>(bk.shape(), rng).array();
  bk = row_normalize(bk);
  VD fv(f, true);
  DeviceIndices<Cpu> nb;
  VD s = real_cluster_similarity(fv, kr, bk, bv, ClusterOptions{}, &nb);
  for (index_t i = 0; i < 4; ++i) BOOST_TEST(to_host(nb)[static_cast<std::size_t>(i)] == 4 + i);
  backward(s);
  // s = mean f_i·bv_i, so ∂s/∂f_i = bv_i / 4 exactly.
  for (index_t i = 0; i < f.numel(); ++i) BOOST_TEST(close(fv.grad()[i], bv[i] / 4.0, 1e-15, 1e-16));
}

BOOST_AUTO_TEST_CASE(cluster_similarities_with_a_memory_bank) {
  Rng rng(5);
  MemoryBank<double> bank(32, 6, 4, rng);
  const TD f = unit_rows(8, 4, rng), fg = unit_rows(8, 4, rng), kr = unit_rows(8, 6, rng), kf = unit_rows(8, 6, rng);
  const auto c = cluster_similarities(f, fg, kr, kf, bank);
  BOOST_TEST(c.s_real[0] == real_cluster_similarity(f, kr, bank.keys(), bank.values())[0]);
  BOOST_TEST(c.s_fake[0] == fake_cluster_similarity(fg, f, kf, kr, bank.keys(), bank.values())[0]);
  BOOST_TEST(c.real_neighbours.size() == 8);
  BOOST_TEST(c.fake_neighbours.size() == 8);
  BOOST_TEST(to_host(c.real_neighbours) == knn(kr, kr, bank.keys(), 1, true));
  BOOST_TEST(to_host(c.fake_neighbours) == knn(kf, kr, bank.keys(), 1, true));
}

BOOST_AUTO_TEST_CASE(search_over_a_10240_entry_bank) {
  // The released configuration: 512 real queries, 512-d keys, L = 10240, k = 1, in float.
  Rng rng(6);
  const index_t b = 512, q = 512, L = 10240;
  const Tensor<float> keys = row_normalize(randn<float>(Shape{b, q}, rng));
  const Tensor<float> bank = row_normalize(randn<float>(Shape{L, q}, rng));
  const auto t0 = std::chrono::steady_clock::now();
  const auto nb = knn(keys, keys, bank, 1, true);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  BOOST_TEST_MESSAGE("knn_search 512 queries vs 512 + 10240 candidates (q = 512, float): " << ms << " ms");
  // Small blocks give the same answer.
  BOOST_TEST(knn(keys, keys, bank, 1, true, 1 << 16) == nb);
  // Spot-check rows against the brute force.
  const Tensor<float> few = slice(keys, 0, 0, 16);
  const auto want = brute_knn(few, keys, bank, 2, false);
  for (index_t i = 0; i < 16; ++i) BOOST_TEST(nb[static_cast<std::size_t>(i)] == want[static_cast<std::size_t>(2 * i + 1)]);
}

BOOST_AUTO_TEST_CASE(bad_inputs_throw) {
  Rng rng(7);
  const TD f = unit_rows(4, 3, rng), kr = unit_rows(4, 5, rng), bk = unit_rows(6, 5, rng), bv = unit_rows(6, 3, rng);
  // K larger than the candidates (4 + 6 = 10; the real branch needs K + 1).
  ClusterOptions o;
  o.k = 10;
  BOOST_CHECK_THROW(real_cluster_similarity(f, kr, bk, bv, o), Error);
  BOOST_CHECK_THROW(knn(kr, kr, bk, 10, true), Error);
  BOOST_CHECK_NO_THROW(knn(kr, kr, bk, 10, false));
  BOOST_CHECK_THROW(knn(kr, kr, TD(), 4, true), Error);
  BOOST_CHECK_THROW(knn(kr, kr, bk, 0, false), Error);
  try {
    knn(kr, kr, bk, 12, false);
    BOOST_FAIL("no throw");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("candidates") != std::string::npos);
  }
  // Widths and rows.
  BOOST_CHECK_THROW(knn(kr, kr, unit_rows(6, 4, rng), 1, true), Error);
  BOOST_CHECK_THROW(real_cluster_similarity(f, unit_rows(3, 5, rng), bk, bv), Error);
  BOOST_CHECK_THROW(real_cluster_similarity(f, kr, bk, unit_rows(6, 2, rng)), Error);
  BOOST_CHECK_THROW(fake_cluster_similarity(f, f, kr, unit_rows(4, 4, rng), bk, bv), Error);
  // NaN in keys or values.
  TD nan = clone(kr);
  nan.at(1, 2) = std::nan("");
  BOOST_CHECK_THROW(knn(nan, kr, bk, 1, true), Error);
  BOOST_CHECK_THROW(real_cluster_similarity(f, nan, bk, bv), Error);
  TD fnan = clone(f);
  fnan.at(0, 0) = std::numeric_limits<double>::infinity();
  BOOST_CHECK_THROW(real_cluster_similarity(fnan, kr, bk, bv), Error);
  // Neighbour indices out of range.
  BOOST_CHECK_THROW(neighbour_similarity(f, f, bv, std::vector<index_t>{0, 1, 2, 10}, 1), Error);
  BOOST_CHECK_THROW(neighbour_similarity(f, f, bv, std::vector<index_t>{0, 1, 2}, 1), Error);
}
