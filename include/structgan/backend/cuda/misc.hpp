#pragma once
/// \file CUDA kernels for data movement, selection, the row softmax and the softmax cross-entropy.
/// Row indices live in device memory (backend/device_indices.hpp): the top-k writes them there and
/// the gathers and scatters read them there, so a kNN search makes no host round trip (issue #24);
/// labels travel as kernel arguments.
#include <algorithm>
#include <limits>
#include <numeric>
#include <vector>

#include <cub/block/block_reduce.cuh>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_run_length_encode.cuh>
#include <cub/device/device_scan.cuh>

#include "structgan/backend/cuda/block_sum.hpp"
#include "structgan/backend/cuda/memory.hpp"
#include "structgan/backend/cuda/runtime.hpp"
#include "structgan/backend/row_selection.hpp"

namespace structgan::backend {
namespace cuda {

template <class T>
__global__ void copy_rows_kernel(index_t rows, index_t len, const T* src, index_t src_stride, T* dst, index_t dst_stride,
                                 bool accumulate) {
  const index_t total = rows * len;
  for (index_t t = index_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += index_t(gridDim.x) * blockDim.x) {
    const index_t r = t / len, i = t % len;
    T& d = dst[r * dst_stride + i];
    d = accumulate ? d + src[r * src_stride + i] : src[r * src_stride + i];
  }
}

/// out[i, :] = src[index[i] − offset, :] where that row is in [0, rows), else zeros.
template <class T>
__global__ void gather_rows_kernel(const T* src, index_t rows, index_t width, const index_t* index, index_t count,
                                   index_t offset, T* out) {
  const index_t total = count * width;
  for (index_t t = index_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += index_t(gridDim.x) * blockDim.x) {
    const index_t r = index[t / width] - offset;
    out[t] = r >= 0 && r < rows ? src[r * width + t % width] : T(0);
  }
}

/// The sort keys of a scatter: source i's destination row, or `rows` for one outside [0, rows)
/// (sorted last and skipped); and the sources' positions 0, 1, … to sort with them.
__global__ inline void scatter_keys_kernel(const index_t* index, index_t count, index_t offset, index_t rows,
                                           unsigned long long* keys, index_t* order) {
  for (index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += index_t(gridDim.x) * blockDim.x) {
    const index_t r = index[i] - offset;
    keys[i] = static_cast<unsigned long long>(r >= 0 && r < rows ? r : rows);
    order[i] = i;
  }
}

/// Destination row rows_of_run[q] (q < *runs) gets g's rows order[offsets[q]], …,
/// order[offsets[q] + counts[q] − 1] added in that order (the sources sorted stably by
/// destination: the CPU backend's order, so the sums agree bit for bit, and nothing is atomic).
template <class T>
__global__ void scatter_add_rows_kernel(const T* g, index_t width, index_t max_runs, const index_t* runs,
                                        const unsigned long long* rows_of_run, const index_t* offsets, const index_t* counts,
                                        const index_t* order, index_t rows, T* dst) {
  const index_t total = max_runs * width, used = *runs;
  for (index_t t = index_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += index_t(gridDim.x) * blockDim.x) {
    const index_t q = t / width, j = t % width;
    if (q >= used) continue;
    const index_t row = static_cast<index_t>(rows_of_run[q]);
    if (row >= rows) continue;  // the sources outside [0, rows)
    T acc = dst[row * width + j];
    for (index_t k = offsets[q]; k < offsets[q] + counts[q]; ++k) acc += g[order[k] * width + j];
    dst[row * width + j] = acc;
  }
}

/// A candidate of top-k selection: column `index` (−1: none) holding `value`.
template <class T>
struct TopkCandidate {
  T value;
  index_t index;
};

/// Whether column i ranks before column j: larger value first, ties to the smaller index.
template <class T>
__device__ inline bool ranks_before(const T* row, index_t i, index_t j) {
  return row[i] > row[j] || (row[i] == row[j] && i < j);
}

/// The better of two candidates (an associative, commutative max for CUB's block reduction).
struct TopkBetter {
  template <class T>
  __device__ TopkCandidate<T> operator()(const TopkCandidate<T>& a, const TopkCandidate<T>& b) const {
    if (a.index < 0) return b;
    if (b.index < 0) return a;
    return (a.value > b.value || (a.value == b.value && a.index < b.index)) ? a : b;
  }
};

/// Candidates a thread keeps per round of selection.
inline constexpr int topk_round = 16;

/// One block per row. Each round selects the next (up to) 16 columns in rank order: every thread
/// keeps a sorted list of its best columns ranked after the previous round's last pick, then 16
/// block-wide arg-max steps merge the lists. O(cols · ⌈k/16⌉) per row.
template <class T>
__global__ void topk_rows_kernel(const T* x, index_t rows, index_t cols, index_t k, T* values, index_t* out) {
  using Reduce = cub::BlockReduce<TopkCandidate<T>, block_threads>;
  __shared__ typename Reduce::TempStorage tmp;
  __shared__ index_t winner;
  for (index_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* row = x + r * cols;
    index_t last = -1;  // the last column picked so far
    for (index_t done = 0; done < k; done += topk_round) {
      const int want = static_cast<int>(k - done < topk_round ? k - done : topk_round);
      index_t best[topk_round];
      int have = 0;
      for (index_t j = threadIdx.x; j < cols; j += blockDim.x) {
        if (last >= 0 && !ranks_before(row, last, j)) continue;  // picked in an earlier round
        if (have == want && !ranks_before(row, j, best[want - 1])) continue;
        int pos = have < want ? have++ : want - 1;
        while (pos > 0 && ranks_before(row, j, best[pos - 1])) {
          best[pos] = best[pos - 1];
          --pos;
        }
        best[pos] = j;
      }
      int head = 0;
      for (int step = 0; step < want; ++step) {
        TopkCandidate<T> mine{T(0), -1};
        if (head < have) mine = {row[best[head]], best[head]};
        const TopkCandidate<T> top = Reduce(tmp).Reduce(mine, TopkBetter{});
        if (threadIdx.x == 0) {
          winner = top.index;
          out[r * k + done + step] = top.index;
          if (values) values[r * k + done + step] = top.value;
        }
        __syncthreads();
        if (head < have && best[head] == winner) ++head;  // columns are unique: one owner
        last = winner;
        __syncthreads();  // winner and tmp are reused
      }
    }
  }
}

/// One thread per row: backend/row_selection.hpp's in-place merge.
template <class T>
__global__ void topk_merge_rows_kernel(index_t rows, index_t k, index_t na, T* av, index_t* ai, index_t nb, const T* bv,
                                       const index_t* bi, index_t b_offset) {
  for (index_t r = index_t(blockIdx.x) * blockDim.x + threadIdx.x; r < rows; r += index_t(gridDim.x) * blockDim.x)
    selection::merge_topk_row(k, na, av + r * k, ai + r * k, nb, bv + r * nb, bi + r * nb, b_offset);
}

/// max(a, b) for CUB (NaN in b is ignored, as std::max_element does on the CPU).
struct MaxOp {
  template <class T>
  __device__ T operator()(const T& a, const T& b) const { return a < b ? b : a; }
};

/// Up to 512 rows' labels passed by value as a kernel argument (2 KiB of the 4 KiB argument space):
/// the labels reach the device with the launch, without an upload that waits for the stream.
inline constexpr index_t labels_per_launch = 512;
struct LabelChunk {
  int value[labels_per_launch];
};

/// One block per row of a chunk of n rows (at most labels_per_launch): loss_i = logsumexp(z_i) −
/// z_i[label_i] (double) and, when grad is not null, grad_ij = (softmax_ij − [j = label_i]) / scale_n.
template <class T>
__global__ void softmax_xent_kernel(const T* logits, index_t n, index_t k, LabelChunk labels, index_t scale_n, double* loss,
                                    T* grad) {
  using MaxReduce = cub::BlockReduce<T, block_threads>;
  using SumReduce = cub::BlockReduce<double, block_threads>;
  __shared__ union {
    typename MaxReduce::TempStorage max;
    typename SumReduce::TempStorage sum;
  } tmp;
  __shared__ T shared_max;
  __shared__ double shared_lse;
  for (index_t i = blockIdx.x; i < n; i += gridDim.x) {
    const T* z = logits + i * k;
    T m = z[0];
    for (index_t j = threadIdx.x; j < k; j += blockDim.x) m = m < z[j] ? z[j] : m;
    m = MaxReduce(tmp.max).Reduce(m, MaxOp{});
    if (threadIdx.x == 0) shared_max = m;
    __syncthreads();
    m = shared_max;
    double s = 0;
    for (index_t j = threadIdx.x; j < k; j += blockDim.x) s += ::exp(double(z[j] - m));
    s = SumReduce(tmp.sum).Sum(s);
    if (threadIdx.x == 0) {
      shared_lse = double(m) + ::log(s);
      loss[i] = shared_lse - double(z[labels.value[i]]);
    }
    __syncthreads();
    const double lse = shared_lse;
    if (grad)
      for (index_t j = threadIdx.x; j < k; j += blockDim.x)
        grad[i * k + j] = T((::exp(double(z[j]) - lse) - (j == labels.value[i] ? 1.0 : 0.0)) / double(scale_n));
    __syncthreads();
  }
}

/// One block per row: the row's softmax (log: log-softmax) from the row minus its maximum.
template <class T>
__global__ void softmax_rows_kernel(index_t rows, index_t cols, bool log, const T* x, T* y) {
  using Reduce = cub::BlockReduce<T, block_threads>;
  __shared__ typename Reduce::TempStorage tmp;
  __shared__ T shared_max, shared_sum;
  for (index_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* z = x + r * cols;
    T m = z[0];
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) m = m < z[j] ? z[j] : m;
    m = Reduce(tmp).Reduce(m, MaxOp{});
    if (threadIdx.x == 0) shared_max = m;
    __syncthreads();
    m = shared_max;
    T s = 0;
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) s += ::exp(z[j] - m);
    s = Reduce(tmp).Sum(s);
    if (threadIdx.x == 0) shared_sum = s;
    __syncthreads();
    s = shared_sum;
    const T shift = m + ::log(s);
    for (index_t j = threadIdx.x; j < cols; j += blockDim.x) y[r * cols + j] = log ? z[j] - shift : ::exp(z[j] - m) / s;
    __syncthreads();  // tmp and the shared values are reused by the next row
  }
}

/// One block per row of a chunk of n rows: hit[i] = 1 when the row's first maximal column is
/// labels.value[i], else 0.
template <class T>
__global__ void argmax_hits_kernel(const T* logits, index_t n, index_t k, LabelChunk labels, double* hit) {
  using Reduce = cub::BlockReduce<TopkCandidate<T>, block_threads>;
  __shared__ typename Reduce::TempStorage tmp;
  for (index_t i = blockIdx.x; i < n; i += gridDim.x) {
    const T* z = logits + i * k;
    TopkCandidate<T> best{T(0), -1};
    for (index_t j = threadIdx.x; j < k; j += blockDim.x) best = TopkBetter{}(best, TopkCandidate<T>{z[j], j});
    best = Reduce(tmp).Reduce(best, TopkBetter{});
    if (threadIdx.x == 0) hit[i] = best.index == labels.value[i] ? 1.0 : 0.0;
    __syncthreads();
  }
}

inline unsigned row_blocks(index_t rows) { return static_cast<unsigned>(std::clamp<index_t>(rows, 1, index_t(1) << 20)); }

}  // namespace cuda

/// Copies `rows` runs of `len` values: dst[r·dst_stride + i] (+)= src[r·src_stride + i].
template <class T>
void copy_rows(Cuda, index_t rows, index_t len, const T* src, index_t src_stride, T* dst, index_t dst_stride, bool accumulate) {
  if (rows <= 0 || len <= 0) return;
  cuda::copy_rows_kernel<T><<<cuda::grid_for(rows * len), cuda::block_threads, 0, cuda::stream()>>>(
      rows, len, src, src_stride, dst, dst_stride, accumulate);
  STRUCTGAN_CUDA_CHECK_LAUNCH("copy_rows_kernel");
}

/// out[i, :] = src[index[i] − offset, :] for rows of `width` values where that row is in [0, rows),
/// else zeros (index in device memory).
template <class T>
void gather_rows(Cuda, const T* src, index_t rows, index_t width, const index_t* index, index_t count, index_t offset, T* out) {
  if (count <= 0 || width <= 0) return;
  cuda::gather_rows_kernel<T><<<cuda::grid_for(count * width), cuda::block_threads, 0, cuda::stream()>>>(
      src, rows, width, index, count, offset, out);
  STRUCTGAN_CUDA_CHECK_LAUNCH("gather_rows_kernel");
}

/// dst[index[i] − offset, :] += g[i, :] where that row is in [0, rows) (the adjoint of
/// gather_rows; repeated indices add up, in order of i). The sources are grouped by destination on
/// the device: a stable radix sort of (row, i), run-length encoding, an exclusive scan; then one
/// thread per (destination row, column) adds its sources in order. No host round trip.
template <class T>
void scatter_add_rows(Cuda, const T* g, index_t width, const index_t* index, index_t count, index_t offset, T* dst,
                      index_t rows) {
  if (count <= 0 || width <= 0 || rows <= 0) return;
  require(count <= index_t(std::numeric_limits<int>::max()), "scatter_add_rows (cuda): ", count, " rows is too many");
  const int n = static_cast<int>(count);
  int end_bit = 1;  // keys are in [0, rows]
  while (end_bit < 64 && (static_cast<unsigned long long>(rows) >> end_bit) != 0) ++end_bit;
  cuda::DeviceBuffer<unsigned long long> keys(count), sorted_keys(count), run_rows(count);
  cuda::DeviceBuffer<index_t> order_in(count), order(count), counts(count), offsets(count), runs(1);
  cuda::scatter_keys_kernel<<<cuda::grid_for(count), cuda::block_threads, 0, cuda::stream()>>>(index, count, offset, rows,
                                                                                             keys.data(), order_in.data());
  STRUCTGAN_CUDA_CHECK_LAUNCH("scatter_keys_kernel");
  std::size_t sort_bytes = 0, rle_bytes = 0, scan_bytes = 0;
  STRUCTGAN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, keys.data(), sorted_keys.data(), order_in.data(),
                                                       order.data(), n, 0, end_bit, cuda::stream()));
  STRUCTGAN_CUDA_CHECK(cub::DeviceRunLengthEncode::Encode(nullptr, rle_bytes, sorted_keys.data(), run_rows.data(),
                                                          counts.data(), runs.data(), n, cuda::stream()));
  STRUCTGAN_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, scan_bytes, counts.data(), offsets.data(), n, cuda::stream()));
  cuda::DeviceBuffer<unsigned char> scratch(std::max({sort_bytes, rle_bytes, scan_bytes}));
  STRUCTGAN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(scratch.data(), sort_bytes, keys.data(), sorted_keys.data(),
                                                       order_in.data(), order.data(), n, 0, end_bit, cuda::stream()));
  STRUCTGAN_CUDA_CHECK(cub::DeviceRunLengthEncode::Encode(scratch.data(), rle_bytes, sorted_keys.data(), run_rows.data(),
                                                          counts.data(), runs.data(), n, cuda::stream()));
  // Counts past the last run are never written; the kernel reads offsets of the runs only.
  STRUCTGAN_CUDA_CHECK(cub::DeviceScan::ExclusiveSum(scratch.data(), scan_bytes, counts.data(), offsets.data(), n,
                                                     cuda::stream()));
  cuda::scatter_add_rows_kernel<T><<<cuda::grid_for(count * width), cuda::block_threads, 0, cuda::stream()>>>(
      g, width, count, runs.data(), run_rows.data(), offsets.data(), counts.data(), order.data(), rows, dst);
  STRUCTGAN_CUDA_CHECK_LAUNCH("scatter_add_rows_kernel");
}

/// The k largest values of each row of x (rows × cols), largest first, ties to the smaller index:
/// columns to indices and, when not null, values to values (rows × k each, device memory).
/// Block-level selection on the device (one block per row).
template <class T>
void topk_rows(Cuda, const T* x, index_t rows, index_t cols, index_t k, T* values, index_t* indices) {
  require(k >= 0 && k <= cols, "topk_rows (cuda): k = ", k, " for ", cols, " columns");
  if (rows <= 0 || k == 0) return;
  cuda::topk_rows_kernel<T><<<cuda::row_blocks(rows), cuda::block_threads, 0, cuda::stream()>>>(x, rows, cols, k, values,
                                                                                               indices);
  STRUCTGAN_CUDA_CHECK_LAUNCH("topk_rows_kernel");
}

/// Per row, a's na sorted entries (row stride k) become the first min(k, na + nb) of a ∪ b, b's nb
/// sorted entries (row stride nb) taking index + b_offset: one thread per row.
template <class T>
void topk_merge_rows(Cuda, index_t rows, index_t k, index_t na, T* a_values, index_t* a_indices, index_t nb, const T* b_values,
                     const index_t* b_indices, index_t b_offset) {
  require(na >= 0 && na <= k && nb >= 0, "topk_merge_rows (cuda): ", na, " + ", nb, " entries for k = ", k);
  if (rows <= 0 || (na == 0 && nb == 0)) return;
  cuda::topk_merge_rows_kernel<T><<<cuda::grid_for(rows), cuda::block_threads, 0, cuda::stream()>>>(
      rows, k, na, a_values, a_indices, nb, b_values, b_indices, b_offset);
  STRUCTGAN_CUDA_CHECK_LAUNCH("topk_merge_rows_kernel");
}

namespace cuda {
/// Calls launch(first row, rows, chunk) for each run of up to labels_per_launch rows, the chunk
/// holding their labels.
template <class F>
void for_label_chunks(const std::vector<int>& labels, F&& launch) {
  const index_t n = static_cast<index_t>(labels.size());
  for (index_t r0 = 0; r0 < n; r0 += labels_per_launch) {
    const index_t rows = std::min(labels_per_launch, n - r0);
    LabelChunk chunk{};
    std::copy(labels.begin() + r0, labels.begin() + r0 + rows, chunk.value);
    launch(r0, rows, chunk);
  }
}
}  // namespace cuda

/// Softmax (log: log-softmax) of each row of x (rows × cols) into y, one block per row.
template <class T>
void softmax_rows(Cuda, index_t rows, index_t cols, bool log, const T* x, T* y) {
  if (rows <= 0 || cols <= 0) return;
  cuda::softmax_rows_kernel<T><<<cuda::row_blocks(rows), cuda::block_threads, 0, cuda::stream()>>>(rows, cols, log, x, y);
  STRUCTGAN_CUDA_CHECK_LAUNCH("softmax_rows_kernel");
}

/// Mean softmax cross-entropy of logits (n × k) against labels into the device scalar loss[0];
/// writes ∂loss/∂logits to grad when it is not null. The labels travel as kernel arguments (no
/// upload, no wait); nothing comes back: the per-row losses are averaged on the device.
template <class T>
void softmax_cross_entropy(Cuda, const T* logits, index_t n, index_t k, const std::vector<int>& labels, T* loss, T* grad) {
  check_labels("softmax_cross_entropy (cuda)", n, k, labels);
  cuda::DeviceBuffer<double> rows(static_cast<std::size_t>(std::max<index_t>(n, 1)));
  cuda::for_label_chunks(labels, [&](index_t r0, index_t count, const cuda::LabelChunk& chunk) {
    cuda::softmax_xent_kernel<T><<<cuda::row_blocks(count), cuda::block_threads, 0, cuda::stream()>>>(
        logits + r0 * k, count, k, chunk, n, rows.data() + r0, grad ? grad + r0 * k : nullptr);
    STRUCTGAN_CUDA_CHECK_LAUNCH("softmax_xent_kernel");
  });
  cuda::sum_to_scalar(rows.data(), n, cuda::ScalarOf::mean, loss);
}

/// accuracy[0] = the fraction of rows of logits (n × k) whose first maximal column is their
/// label, on the device (labels as kernel arguments, as for the cross-entropy; nothing comes back).
template <class T>
void argmax_accuracy(Cuda, const T* logits, index_t n, index_t k, const std::vector<int>& labels, T* accuracy) {
  check_labels("argmax_accuracy (cuda)", n, k, labels);
  cuda::DeviceBuffer<double> hits(static_cast<std::size_t>(std::max<index_t>(n, 1)));
  cuda::for_label_chunks(labels, [&](index_t r0, index_t count, const cuda::LabelChunk& chunk) {
    cuda::argmax_hits_kernel<T><<<cuda::row_blocks(count), cuda::block_threads, 0, cuda::stream()>>>(logits + r0 * k, count, k,
                                                                                                    chunk, hits.data() + r0);
    STRUCTGAN_CUDA_CHECK_LAUNCH("argmax_hits_kernel");
  });
  cuda::sum_to_scalar(hits.data(), n, cuda::ScalarOf::mean, accuracy);
}

}  // namespace structgan::backend
