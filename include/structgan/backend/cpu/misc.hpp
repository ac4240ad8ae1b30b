#pragma once
/// \file CPU kernels for data movement, selection, the row softmax and the softmax cross-entropy.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include <Eigen/Core>

#include "structgan/backend/cpu/parallel.hpp"
#include "structgan/core/error.hpp"
#include "structgan/backend/contract.hpp"
#include "structgan/backend/row_selection.hpp"

namespace structgan::backend {

/// Copies `rows` runs of `len` values: dst[r·dst_stride + i] (+)= src[r·src_stride + i].
template <class T>
void copy_rows(Cpu, index_t rows, index_t len, const T* src, index_t src_stride, T* dst, index_t dst_stride, bool accumulate) {
  auto run = [&](index_t r, index_t b, index_t e) {  // values [b, e) of row r
    if (accumulate)
      Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>(dst + r * dst_stride + b, e - b) +=
          Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(src + r * src_stride + b, e - b);
    else if (e > b)
      std::memcpy(dst + r * dst_stride + b, src + r * src_stride + b, static_cast<std::size_t>(e - b) * sizeof(T));
  };
  constexpr index_t grain = index_t(1) << 14;  // values per task
  if (rows < 2 * cpu::num_threads()) {  // few long runs (a slice along the first axis is one): split inside each
    for (index_t r = 0; r < rows; ++r) cpu::parallel_for(len, grain, [&](index_t b, index_t e) { run(r, b, e); });
    return;
  }
  cpu::parallel_for(rows, std::max<index_t>(1, grain / std::max<index_t>(len, 1)), [&](index_t b, index_t e) {
    for (index_t r = b; r < e; ++r) run(r, 0, len);
  });
}

/// out[i, :] = src[index[i] − offset, :] for rows of `width` values where index[i] − offset is in
/// [0, rows), else zeros (the kNN gathers [batch; bank] rows with two calls, one per source).
template <class T>
void gather_rows(Cpu, const T* src, index_t rows, index_t width, const index_t* index, index_t count, index_t offset, T* out) {
  if (width <= 0) return;
  const std::size_t bytes = static_cast<std::size_t>(width) * sizeof(T);
  cpu::parallel_for(count, std::max<index_t>(1, (index_t(1) << 14) / width), [&](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) {
      const index_t r = index[i] - offset;
      if (r >= 0 && r < rows) std::memcpy(out + i * width, src + r * width, bytes);
      else std::fill(out + i * width, out + (i + 1) * width, T(0));
    }
  });
}

/// dst[index[i] − offset, :] += g[i, :] where that row is in [0, rows) (the adjoint of
/// gather_rows; repeated indices add up in order of i).
template <class T>
void scatter_add_rows(Cpu, const T* g, index_t width, const index_t* index, index_t count, index_t offset, T* dst, index_t rows) {
  for (index_t i = 0; i < count; ++i) {
    const index_t r = index[i] - offset;
    if (r >= 0 && r < rows)
      Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>(dst + r * width, width) +=
          Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(g + i * width, width);
  }
}

/// The k largest values of each row of x (rows × cols), largest first, ties to the smaller index:
/// their columns to indices (rows × k) and, when not null, their values to values (rows × k).
/// Partial selection (nth_element + sort of k), never a full sort.
template <class T>
void topk_rows(Cpu, const T* x, index_t rows, index_t cols, index_t k, T* values, index_t* indices) {
  require(k >= 0 && k <= cols, "topk_rows: k = ", k, " for ", cols, " columns");
  if (rows <= 0 || k == 0) return;
  cpu::parallel_for(rows, 4, [&](index_t b, index_t e) {
    std::vector<index_t> idx;
    for (index_t r = b; r < e; ++r) {
      const T* row = x + r * cols;
      index_t* best = indices + r * k;
      const auto greater = [row](index_t i, index_t j) { return row[i] > row[j] || (row[i] == row[j] && i < j); };
      if (k <= 8) {
        // Small k (the kNN search uses k = 2): one pass keeping a sorted list of the best k.
        index_t have = 0;
        for (index_t j = 0; j < cols; ++j) {
          if (have == k && !greater(j, best[k - 1])) continue;
          index_t pos = have < k ? have++ : k - 1;
          while (pos > 0 && greater(j, best[pos - 1])) { best[pos] = best[pos - 1]; --pos; }
          best[pos] = j;
        }
      } else {
        idx.resize(static_cast<std::size_t>(cols));
        std::iota(idx.begin(), idx.end(), index_t(0));
        std::nth_element(idx.begin(), idx.begin() + (k - 1), idx.end(), greater);
        std::sort(idx.begin(), idx.begin() + k, greater);
        std::copy(idx.begin(), idx.begin() + k, best);
      }
      if (values)
        for (index_t t = 0; t < k; ++t) values[r * k + t] = row[best[t]];
    }
  });
}

/// Per row, a's na sorted entries (row stride k) become the first min(k, na + nb) of a ∪ b, b's nb
/// sorted entries (row stride nb) taking index + b_offset (backend/row_selection.hpp).
template <class T>
void topk_merge_rows(Cpu, index_t rows, index_t k, index_t na, T* a_values, index_t* a_indices, index_t nb, const T* b_values,
                     const index_t* b_indices, index_t b_offset) {
  require(na >= 0 && na <= k && nb >= 0, "topk_merge_rows: ", na, " + ", nb, " entries for k = ", k);
  cpu::parallel_for(rows, 256, [&](index_t b, index_t e) {
    for (index_t r = b; r < e; ++r)
      selection::merge_topk_row(k, na, a_values + r * k, a_indices + r * k, nb, b_values + r * nb, b_indices + r * nb, b_offset);
  });
}

/// Softmax (log: log-softmax) of each row of x (rows × cols) into y, from the row minus its
/// maximum (exp never overflows; the largest term is 1, so the sum is at least 1).
template <class T>
void softmax_rows(Cpu, index_t rows, index_t cols, bool log, const T* x, T* y) {
  if (rows <= 0 || cols <= 0) return;
  using Row = Eigen::Array<T, 1, Eigen::Dynamic>;
  cpu::parallel_for(rows, std::max<index_t>(1, (index_t(1) << 14) / cols), [&](index_t b, index_t e) {
    for (index_t r = b; r < e; ++r) {
      const Eigen::Map<const Row> xr(x + r * cols, cols);
      Eigen::Map<Row> yr(y + r * cols, cols);
      const T m = xr.maxCoeff();
      if (log) {
        const T lse = m + std::log((xr - m).exp().sum());
        yr = xr - lse;
      } else {
        yr = (xr - m).exp();
        yr /= yr.sum();
      }
    }
  });
}

/// Mean softmax cross-entropy of logits (n × k) against labels into loss[0]; writes
/// ∂loss/∂logits to grad when it is not null. Computed with the log-sum-exp shift for stability.
template <class T>
void softmax_cross_entropy(Cpu, const T* logits, index_t n, index_t k, const std::vector<int>& labels, T* loss, T* grad) {
  check_labels("softmax_cross_entropy", n, k, labels);
  double total = 0;
  for (index_t i = 0; i < n; ++i) {
    const T* z = logits + i * k;
    const T m = *std::max_element(z, z + k);
    double s = 0;
    for (index_t j = 0; j < k; ++j) s += std::exp(double(z[j] - m));
    const double lse = double(m) + std::log(s);
    total += lse - double(z[labels[static_cast<std::size_t>(i)]]);
    if (grad)
      for (index_t j = 0; j < k; ++j)
        grad[i * k + j] = T((std::exp(double(z[j]) - lse) - (j == labels[static_cast<std::size_t>(i)] ? 1.0 : 0.0)) / double(n));
  }
  loss[0] = n > 0 ? T(total / double(n)) : T(0);
}

/// accuracy[0] = the fraction of the n rows of logits (n × k) whose first maximal column is the
/// row's label (0 when n = 0).
template <class T>
void argmax_accuracy(Cpu, const T* logits, index_t n, index_t k, const std::vector<int>& labels, T* accuracy) {
  check_labels("argmax_accuracy", n, k, labels);
  index_t hits = 0;
  for (index_t i = 0; i < n; ++i) {
    const T* z = logits + i * k;
    index_t best = 0;
    for (index_t j = 1; j < k; ++j)
      if (z[j] > z[best]) best = j;
    hits += best == labels[static_cast<std::size_t>(i)];
  }
  accuracy[0] = n > 0 ? T(double(hits) / double(n)) : T(0);
}

}  // namespace structgan::backend
