#pragma once
/// \file The fine scale of the structural objective (SPEC §3): the memory bank, the k-nearest-
/// neighbour search on the EMA discriminator's keys, and the similarities s_real and s_fake.
///
/// Keys are unit rows (normalize(f^b)); the similarity of two keys is their dot product (their
/// cosine). Candidates are [batch keys; bank keys], batch first, so neighbour index j < n is
/// row j of the live batch and j ≥ n is row j − n of the bank.
///
/// \code
///   Rng rng(0);
///   objectives::MemoryBank<float> bank(10240, 512, 128, rng);  // L, key width, value width
///   auto c = objectives::cluster_similarities(f, fg, real_keys, fake_keys, bank);  // f, fg: Var
///   Var<float> d_term = mul_scalar(sub(c.s_fake, c.s_real), 3.0f);                  // λ_c(−s_real + s_fake)
///   ... after the D and G steps:
///   bank.enqueue(real_keys, value_of(f));
/// \endcode
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "structgan/backend/device_readout.hpp"
#include "structgan/ops/composite.hpp"
#include "structgan/ops/linalg.hpp"

namespace structgan::objectives {

// ---------------------------------------------------------------------------------------------
// The memory bank
// ---------------------------------------------------------------------------------------------

/// The memory bank's whole state (for checkpoints): L×q keys, L×p values, the write pointer.
template <class T, class D = Cpu>
struct MemoryBankState {
  Tensor<T, D> keys, values;
  index_t pointer = 0;
};

/// A ring of L (key, value) pairs (SPEC §3): key = normalize(f^b) of a real image, value = its f.
/// Starts as random unit vectors; `enqueue` writes a batch at the pointer and advances it, wrapping
/// around (any batch size, also one that does not divide L; a batch larger than L leaves its last
/// L rows). Copies of keys()/values() taken before an enqueue keep their contents.
///
/// A bank holds finite keys and values only: its random start is, and `enqueue` and `load_state`
/// refuse anything else. The searches against a MemoryBank rely on that and do not read its L
/// rows back to check them (on a GPU each such check copies the whole bank to the host).
template <class T, class D = Cpu>
class MemoryBank {
 public:
  MemoryBank() = default;
  /// L pairs of random unit keys (width key_dim) and values (width value_dim) drawn from rng.
  MemoryBank(index_t size, index_t key_dim, index_t value_dim, Rng& rng) {
    require(size >= 1 && key_dim >= 1 && value_dim >= 1, "MemoryBank: size ", size, ", key width ", key_dim,
            " and value width ", value_dim, " must be ≥ 1");
    keys_ = to_device<D>(row_normalize(randn<T>(Shape{size, key_dim}, rng)));
    values_ = to_device<D>(row_normalize(randn<T>(Shape{size, value_dim}, rng)));
  }

  index_t size() const { return keys_.defined() ? keys_.dim(0) : 0; }
  index_t key_dim() const { return keys_.defined() ? keys_.dim(1) : 0; }
  index_t value_dim() const { return values_.defined() ? values_.dim(1) : 0; }
  /// The row the next enqueue writes first.
  index_t pointer() const { return pointer_; }
  /// L×q unit keys and L×p values (constants: the bank carries no gradient).
  const Tensor<T, D>& keys() const { return keys_; }
  const Tensor<T, D>& values() const { return values_; }

  /// Writes the b pairs (keys b×q, normalized here; values b×p) at the pointer, wrapping around,
  /// and advances the pointer by b mod L. Throws on mismatched shapes or non-finite entries.
  void enqueue(const Tensor<T, D>& keys, const Tensor<T, D>& values) {
    require(size() > 0, "MemoryBank::enqueue: the bank is empty (default-constructed)");
    require(keys.defined() && values.defined() && keys.rank() == 2 && values.rank() == 2 && keys.dim(0) == values.dim(0),
            "MemoryBank::enqueue: keys ", keys.shape(), " and values ", values.shape(), " must be b×q and b×p");
    require(keys.dim(1) == key_dim() && values.dim(1) == value_dim(), "MemoryBank::enqueue: keys ", keys.shape(),
            " and values ", values.shape(), " do not fit the bank's widths q = ", key_dim(), ", p = ", value_dim());
    require_finite(keys, "MemoryBank::enqueue: NaN or Inf in the keys ", keys.shape());
    require_finite(values, "MemoryBank::enqueue: NaN or Inf in the values ", values.shape());
    const Tensor<T, D> k = row_normalize(keys);
    if (keys_.use_count() > 1) keys_ = clone(keys_);
    if (values_.use_count() > 1) values_ = clone(values_);
    const index_t b = keys.dim(0), L = size();
    for (index_t i = std::max<index_t>(0, b - L); i < b;) {
      const index_t pos = (pointer_ + i) % L;
      const index_t run = std::min(b - i, L - pos);
      copy(D{}, run * key_dim(), k.data() + i * key_dim(), keys_.data() + pos * key_dim());
      copy(D{}, run * value_dim(), values.data() + i * value_dim(), values_.data() + pos * value_dim());
      i += run;
    }
    pointer_ = (pointer_ + b) % L;
  }

  /// The state for a checkpoint (copies) and back (shapes are checked).
  MemoryBankState<T, D> state() const { return {clone(keys_), clone(values_), pointer_}; }
  void load_state(const MemoryBankState<T, D>& s) {
    require(s.keys.defined() && s.values.defined() && s.keys.rank() == 2 && s.values.rank() == 2 &&
                s.keys.dim(0) == s.values.dim(0) && s.keys.dim(0) >= 1,
            "MemoryBank::load_state: keys ", s.keys.shape(), " and values ", s.values.shape(), " must be L×q and L×p");
    require(s.pointer >= 0 && s.pointer < s.keys.dim(0), "MemoryBank::load_state: pointer ", s.pointer, " outside [0, ",
            s.keys.dim(0), ")");
    require(to_host(s.keys).array().allFinite() && to_host(s.values).array().allFinite(),
            "MemoryBank::load_state: NaN or Inf in the keys or values");
    keys_ = clone(s.keys);
    values_ = clone(s.values);
    pointer_ = s.pointer;
  }
  /// The state as named tensors ("keys", "values", "pointer" as a one-element tensor), for
  /// checkpoint writers that store tensors by name; `load_named` reads them back.
  std::vector<std::pair<std::string, Tensor<T, D>>> named_tensors() const {
    return {{"keys", keys_}, {"values", values_}, {"pointer", to_device<D>(from_vector<T>(Shape{1}, {T(pointer_)}))}};
  }
  void load_named(const std::vector<std::pair<std::string, Tensor<T, D>>>& named) {
    MemoryBankState<T, D> s;
    bool has_ptr = false;
    for (const auto& [name, t] : named) {
      if (name == "keys") s.keys = t;
      else if (name == "values") s.values = t;
      else if (name == "pointer") {
        require(t.numel() == 1, "MemoryBank::load_named: pointer must hold one value, got ", t.shape());
        s.pointer = static_cast<index_t>(to_host(t)[0]);
        has_ptr = true;
      } else fail("MemoryBank::load_named: unknown tensor '", name, "'");
    }
    require(has_ptr, "MemoryBank::load_named: no 'pointer'");
    load_state(s);
  }

 private:
  Tensor<T, D> keys_, values_;
  index_t pointer_ = 0;
};

// ---------------------------------------------------------------------------------------------
// The neighbour search
// ---------------------------------------------------------------------------------------------

/// The options of the fine scale (SPEC §3 defaults).
struct ClusterOptions {
  index_t k = 1;                               ///< neighbours per sample (K)
  bool skip_first_fake = true;                 ///< the generated branch also drops its first neighbour
  index_t block_elements = index_t(1) << 21;  ///< similarities computed per block of ≤ this many entries
};

namespace detail {
/// Keys must be a matrix of the given width (−1: any): a check of the shape only, on the host.
template <class T, class D>
void check_key_shape(const char* op, const char* what, const Tensor<T, D>& k, index_t width) {
  require(k.defined() && k.rank() == 2, op, ": ", what, " must be a matrix, got ", k.shape());
  require(width < 0 || k.dim(1) == width, op, ": ", what, " ", k.shape(), " have width ", k.dim(1), " but ", width,
          " was expected");
}
/// The shape, and that every entry is finite (a device check, backend/device_readout.hpp: done once per tensor at the
/// public entry points, not again inside).
template <class T, class D>
void check_keys(const char* op, const char* what, const Tensor<T, D>& k, index_t width) {
  check_key_shape(op, what, k, width);
  require_finite(k, op, ": ", what, " of shape ", k.shape(), " have NaN or Inf entries");
}

/// knn_search on keys whose entries the caller has checked to be finite (shapes are checked here).
/// Everything after the shape checks runs on the device: per block of queries, a GEMM per block of
/// candidates, topk_rows of the block (values and columns) and topk_merge_rows into the queries'
/// running best (values descending, ties to the smaller index: the blocks are merged exactly as one
/// full sort would order them). Every row of a query block has seen the same candidates, so how
/// many entries its best list holds is known on the host.
template <class T, class D>
DeviceIndices<D> knn_search_finite(const Tensor<T, D>& queries, const Tensor<T, D>& batch_keys, const Tensor<T, D>& bank_keys,
                                   index_t k, bool drop_first, index_t block_elements) {
  const char* op = "knn_search";
  detail::check_key_shape(op, "query keys", queries, -1);
  const index_t q = queries.dim(1), m = queries.dim(0);
  detail::check_key_shape(op, "batch keys", batch_keys, q);
  const bool has_bank = bank_keys.defined() && bank_keys.numel() > 0;
  if (has_bank) detail::check_key_shape(op, "bank keys", bank_keys, q);
  const index_t n = batch_keys.dim(0), L = has_bank ? bank_keys.dim(0) : 0;
  require(k >= 1, op, ": k must be ≥ 1, got ", k);
  const index_t kk = k + (drop_first ? 1 : 0);
  require(kk <= n + L, op, ": k = ", k, (drop_first ? " (+1 dropped)" : ""), " neighbours requested but only ", n + L,
          " candidates (", n, " batch + ", L, " bank)");
  require(block_elements >= 1, op, ": block_elements must be ≥ 1");

  DeviceIndices<D> best_i(m, kk);
  Tensor<T, D> best_v(Shape{m, kk});
  const index_t mq = std::min<index_t>(m, std::max<index_t>(1, block_elements / std::max<index_t>(kk, 64)));
  for (index_t q0 = 0; q0 < m; q0 += mq) {
    const index_t mb = std::min(mq, m - q0);
    const index_t cb = std::max<index_t>(kk, block_elements / mb);
    Tensor<T, D> sims(Shape{mb, std::min(cb, n + L)});
    Tensor<T, D> top_v(Shape{mb, kk});
    DeviceIndices<D> top_i(mb, kk);
    index_t have = 0;  // entries in each row's best list so far
    // The two sources of candidates, each walked in blocks of ≤ cb rows (no concatenated copy).
    for (int src = 0; src < 2; ++src) {
      const Tensor<T, D>& keys = src == 0 ? batch_keys : bank_keys;
      const index_t rows = src == 0 ? n : L, offset = src == 0 ? 0 : n;
      for (index_t c0 = 0; c0 < rows; c0 += cb) {
        const index_t nb = std::min(cb, rows - c0);
        Tensor<T, D> s = nb == sims.dim(1) ? sims : Tensor<T, D>(Shape{mb, nb});
        gemm(D{}, false, true, mb, nb, q, T(1), queries.data() + q0 * q, q, keys.data() + c0 * q, q, T(0), s.data(), nb);
        const index_t kb = std::min(kk, nb);
        topk_rows(D{}, s.data(), mb, nb, kb, top_v.data(), top_i.data());
        topk_merge_rows(D{}, mb, kk, have, best_v.data() + q0 * kk, best_i.data() + q0 * kk, kb, top_v.data(), top_i.data(),
                        offset + c0);
        have = std::min(kk, have + kb);
      }
    }
  }
  if (!drop_first) return best_i;
  DeviceIndices<D> out(m, k);
  copy_rows(D{}, m, k, best_i.data() + 1, kk, out.data(), k, false);
  return out;
}
}  // namespace detail

/// The k nearest neighbours of each query key among the candidates [batch_keys; bank_keys]
/// (SPEC §3): similarity = dot product of unit keys; the top k + 1 are taken and the first
/// (the sample itself, for the real branch) dropped when drop_first, else the top k.
/// Returns m×k indices into [batch; bank] (j < n: batch row; j ≥ n: bank row j − n) in D's
/// memory (`to_host` reads them). Blocked: queries × ≤ block_elements candidates at a time
/// through GEMM, then a partial selection per block (topk_rows) merged into the running best
/// (topk_merge_rows), all on the device; memory O(block_elements).
/// Throws when widths differ, keys are not finite, or k (+1) exceeds the n + L candidates.
template <class T, class D>
DeviceIndices<D> knn_search(const Tensor<T, D>& queries, const Tensor<T, D>& batch_keys, const Tensor<T, D>& bank_keys,
                            index_t k, bool drop_first, index_t block_elements = index_t(1) << 21) {
  const char* op = "knn_search";
  detail::check_keys(op, "query keys", queries, -1);
  if (batch_keys.data() != queries.data()) detail::check_keys(op, "batch keys", batch_keys, queries.dim(1));
  if (bank_keys.defined() && bank_keys.numel() > 0) detail::check_keys(op, "bank keys", bank_keys, queries.dim(1));
  return detail::knn_search_finite(queries, batch_keys, bank_keys, k, drop_first, block_elements);
}

// ---------------------------------------------------------------------------------------------
// The similarities
// ---------------------------------------------------------------------------------------------

/// s = mean over i < m, j < k of q_i · v_{n_ij} (SPEC §3), the values v taken from
/// [batch_values; bank_values]: rows of the live batch carry gradient, bank rows are constants.
/// `neighbours` is the m×k output of knn_search, in D's memory: the rows are gathered on the
/// device, once from the batch (bank indices give zero rows there) and once from the bank (batch
/// indices give zero rows), and added. The indices are not read back to check them: one outside
/// [0, n + L) contributes a zero row. Shape [1].
template <class V, class T, class D>
V neighbour_similarity(const V& query_values, const V& batch_values, const Tensor<T, D>& bank_values,
                       const DeviceIndices<D>& neighbours, index_t k) {
  const char* op = "neighbour_similarity";
  const Shape qs = query_values.shape(), bs = batch_values.shape();
  require(qs.rank() == 2 && bs.rank() == 2 && qs[1] == bs[1], op, ": query values ", qs, " and batch values ", bs,
          " must be matrices of the same width");
  const index_t m = qs[0], p = qs[1], n = bs[0];
  require(k >= 1 && neighbours.size() == m * k, op, ": ", neighbours.size(), " neighbour indices for ", m, " queries × k = ", k);
  const index_t L = bank_values.defined() ? bank_values.dim(0) : 0;
  if (L > 0) require(bank_values.rank() == 2 && bank_values.dim(1) == p, op, ": bank values ", bank_values.shape(), " for width ", p);
  V picked = gather_rows(batch_values, neighbours, 0);
  if (L > 0) picked = add(picked, constant<V>(gather_rows(bank_values, neighbours, n)));
  picked = reshape(picked, Shape{m, k, p});
  V prod = mul(picked, reshape(query_values, Shape{m, 1, p}));
  return mul_scalar(sum_all(prod), T(1.0 / double(m * k)));
}
/// neighbour_similarity with neighbours on the host (m×k row-major), each checked to lie in
/// [0, n + L), then copied to the device once (a convenience outside the training step).
template <class V, class T, class D>
V neighbour_similarity(const V& query_values, const V& batch_values, const Tensor<T, D>& bank_values,
                       const std::vector<index_t>& neighbours, index_t k) {
  const char* op = "neighbour_similarity";
  const index_t m = query_values.shape().rank() >= 1 ? query_values.shape()[0] : 0;
  const index_t n = batch_values.shape().rank() >= 1 ? batch_values.shape()[0] : 0;
  const index_t L = bank_values.defined() ? bank_values.dim(0) : 0;
  require(k >= 1 && static_cast<index_t>(neighbours.size()) == m * k, op, ": ", neighbours.size(), " neighbour indices for ",
          m, " queries × k = ", k);
  for (index_t j : neighbours) require(j >= 0 && j < n + L, op, ": neighbour index ", j, " outside [0, ", n + L, ")");
  return neighbour_similarity(query_values, batch_values, bank_values, DeviceIndices<D>::from_host(m, k, neighbours), k);
}

/// s_real, s_fake and the neighbours of both branches.
/// The neighbours stay in the device's memory (the search makes no host round trip);
/// `to_host(c.real_neighbours)` reads them.
template <class V>
struct ClusterSimilarities {
  using Indices = DeviceIndices<typename ValueTraits<V>::device>;
  V s_real;                ///< mean f_i · v_ij over the real batch (shape [1])
  V s_fake;                ///< mean f^g_i · v_ij over the generated batch (shape [1])
  Indices real_neighbours;  ///< n×k into [batch; bank]
  Indices fake_neighbours;  ///< m×k into [batch; bank]
};

namespace detail {
/// A batch's values: a matrix with a row per key (a check of the shape only, on the host).
template <class V, class T, class D>
void check_value_shape(const char* op, const char* what, const V& x, const Tensor<T, D>& keys) {
  const auto& t = value_of(x);
  require(t.defined() && t.rank() == 2, op, ": ", what, " must be a matrix, got ", t.shape());
  require(t.dim(0) == keys.dim(0), op, ": ", what, " ", t.shape(), " and their keys ", keys.shape(), " differ in rows");
}
/// The shape, and that every entry is finite (a device check, backend/device_readout.hpp).
template <class V, class T, class D>
void check_values(const char* op, const char* what, const V& x, const Tensor<T, D>& keys) {
  check_value_shape(op, what, x, keys);
  require_finite(value_of(x), op, ": ", what, " of shape ", value_of(x).shape(), " have NaN or Inf entries");
}
/// Raw bank keys: the shape, and finite entries (a MemoryBank's are finite by construction).
template <class T, class D>
void check_bank_keys(const char* op, const Tensor<T, D>& bank_keys, index_t width) {
  if (bank_keys.defined() && bank_keys.numel() > 0) check_keys(op, "bank keys", bank_keys, width);
}

// The similarities on inputs whose entries the public functions below have checked once.
template <class V, class T, class D>
V real_similarity_finite(const V& f, const Tensor<T, D>& real_keys, const Tensor<T, D>& bank_keys,
                         const Tensor<T, D>& bank_values, const ClusterOptions& o, DeviceIndices<D>* neighbours) {
  check_value_shape("real_cluster_similarity", "real values f", f, real_keys);
  DeviceIndices<D> nb = knn_search_finite(real_keys, real_keys, bank_keys, o.k, true, o.block_elements);
  V s = neighbour_similarity(f, f, bank_values, nb, o.k);
  if (neighbours) *neighbours = std::move(nb);
  return s;
}
template <class V, class T, class D>
V fake_similarity_finite(const V& fg, const V& f, const Tensor<T, D>& fake_keys, const Tensor<T, D>& real_keys,
                         const Tensor<T, D>& bank_keys, const Tensor<T, D>& bank_values, const ClusterOptions& o,
                         DeviceIndices<D>* neighbours) {
  const char* op = "fake_cluster_similarity";
  check_key_shape(op, "real keys", real_keys, fake_keys.dim(1));
  check_value_shape(op, "generated values f^g", fg, fake_keys);
  check_value_shape(op, "real values f", f, real_keys);
  DeviceIndices<D> nb = knn_search_finite(fake_keys, real_keys, bank_keys, o.k, o.skip_first_fake, o.block_elements);
  V s = neighbour_similarity(fg, f, bank_values, nb, o.k);
  if (neighbours) *neighbours = std::move(nb);
  return s;
}
/// The real batch's keys and values, checked once for both branches.
template <class V, class T, class D>
void check_real_batch(const char* op, const V& f, const Tensor<T, D>& real_keys) {
  check_keys(op, "real keys", real_keys, -1);
  check_values(op, "real values f", f, real_keys);
}
template <class V, class T, class D>
void check_fake_batch(const char* op, const V& fg, const Tensor<T, D>& fake_keys, index_t width) {
  check_keys(op, "generated keys", fake_keys, width);
  check_values(op, "generated values f^g", fg, fake_keys);
}
/// Both similarities against a bank whose keys are known finite: the batch checked once.
template <class V, class T, class D>
ClusterSimilarities<V> similarities_with_finite_bank(const V& f, const V& fg, const Tensor<T, D>& real_keys,
                                                     const Tensor<T, D>& fake_keys, const Tensor<T, D>& bank_keys,
                                                     const Tensor<T, D>& bank_values, const ClusterOptions& o) {
  const char* op = "cluster_similarities";
  check_real_batch(op, f, real_keys);
  check_fake_batch(op, fg, fake_keys, real_keys.dim(1));
  ClusterSimilarities<V> r;
  r.s_real = real_similarity_finite(f, real_keys, bank_keys, bank_values, o, &r.real_neighbours);
  r.s_fake = fake_similarity_finite(fg, f, fake_keys, real_keys, bank_keys, bank_values, o, &r.fake_neighbours);
  return r;
}
}  // namespace detail

/// s_real (SPEC §3): real keys against [real keys; bank keys], top-(K+1) minus the first;
/// s_real = mean f_i · v_ij with v from [f; bank values]. f: n×p (live), real_keys: n×q unit rows.
template <class V, class T, class D>
V real_cluster_similarity(const V& f, const Tensor<T, D>& real_keys, const Tensor<T, D>& bank_keys,
                          const Tensor<T, D>& bank_values, const ClusterOptions& o = {},
                          DeviceIndices<D>* neighbours = nullptr) {
  const char* op = "real_cluster_similarity";
  detail::check_real_batch(op, f, real_keys);
  detail::check_bank_keys(op, bank_keys, real_keys.dim(1));
  return detail::real_similarity_finite(f, real_keys, bank_keys, bank_values, o, neighbours);
}

/// s_fake (SPEC §3): generated keys against [real keys; bank keys], top-(K+1) minus the first
/// (or top-K when !o.skip_first_fake); s_fake = mean f^g_i · v_ij with v from [f; bank values].
/// Gradient reaches fg and f (the live real batch).
template <class V, class T, class D>
V fake_cluster_similarity(const V& fg, const V& f, const Tensor<T, D>& fake_keys, const Tensor<T, D>& real_keys,
                          const Tensor<T, D>& bank_keys, const Tensor<T, D>& bank_values, const ClusterOptions& o = {},
                          DeviceIndices<D>* neighbours = nullptr) {
  const char* op = "fake_cluster_similarity";
  detail::check_fake_batch(op, fg, fake_keys, -1);
  detail::check_real_batch(op, f, real_keys);
  detail::check_bank_keys(op, bank_keys, fake_keys.dim(1));
  return detail::fake_similarity_finite(fg, f, fake_keys, real_keys, bank_keys, bank_values, o, neighbours);
}
/// s_fake against a MemoryBank (whose rows are finite by construction: not read back to check).
template <class V, class T, class D>
V fake_cluster_similarity(const V& fg, const V& f, const Tensor<T, D>& fake_keys, const Tensor<T, D>& real_keys,
                          const MemoryBank<T, D>& bank, const ClusterOptions& o = {},
                          DeviceIndices<D>* neighbours = nullptr) {
  const char* op = "fake_cluster_similarity";
  detail::check_fake_batch(op, fg, fake_keys, -1);
  detail::check_real_batch(op, f, real_keys);
  return detail::fake_similarity_finite(fg, f, fake_keys, real_keys, bank.keys(), bank.values(), o, neighbours);
}

/// Both similarities of SPEC §3 with raw bank tensors (keys L×q unit rows, values L×p); each
/// input is checked once.
template <class V, class T, class D>
ClusterSimilarities<V> cluster_similarities(const V& f, const V& fg, const Tensor<T, D>& real_keys, const Tensor<T, D>& fake_keys,
                                            const Tensor<T, D>& bank_keys, const Tensor<T, D>& bank_values,
                                            const ClusterOptions& o = {}) {
  detail::check_bank_keys("cluster_similarities", bank_keys, real_keys.dim(1));
  return detail::similarities_with_finite_bank(f, fg, real_keys, fake_keys, bank_keys, bank_values, o);
}
/// Both similarities of SPEC §3 against a MemoryBank (its rows are finite by construction: not
/// read back to check).
template <class V, class T, class D>
ClusterSimilarities<V> cluster_similarities(const V& f, const V& fg, const Tensor<T, D>& real_keys, const Tensor<T, D>& fake_keys,
                                            const MemoryBank<T, D>& bank, const ClusterOptions& o = {}) {
  return detail::similarities_with_finite_bank(f, fg, real_keys, fake_keys, bank.keys(), bank.values(), o);
}

}  // namespace structgan::objectives
