#pragma once
/// \file The backend contract: what a device must provide so that every op, layer, objective,
/// optimizer and the trainer run on it unchanged. Nothing above backend/ knows which device it
/// runs on; it calls the kernels below unqualified with the device tag first, and argument-
/// dependent lookup finds the device's overloads in namespace structgan::backend.
///
/// Implementations: backend/cpu/ (Eigen, OpenMP), backend/cuda/ (cuBLAS, Thrust, CUB; nvcc) and
/// backend/ref.hpp (the reference device: plain loops, counters; docs/architecture.md uses it as
/// the worked example of adding a backend). Each ends with
/// `static_assert(backend::conforms<Tag, float>() && backend::conforms<Tag, double>())`, so a
/// kernel missing or declared with another signature fails to compile there, naming the kernel.
///
/// ## Memory
/// | what | statement |
/// |---|---|
/// | `Allocator<D>::allocate<T>(n)` | owning `std::shared_ptr<T>` to n values of device memory (n = 0 allowed), uninitialized |
/// | `copy_to_host(D, n, const T* src, T* host_dst)` | n values device → host; returns when host_dst holds them |
/// | `copy_from_host(D, n, const T* host_src, T* dst)` | n values host → device; host_src may be reused on return |
/// | `copy(D, n, const T* x, T* y)` | y[i] = x[i] on the device (x == y allowed) |
/// | `synchronize(D)` | returns when all work queued on the device has finished |
///
/// Each tag states `static constexpr bool host_memory`: whether the host reads the device's values
/// without a transfer (the CPU). Where it is false, a read is a synchronizing round trip, so the
/// trainer defers its checks and logged scalars to one read per log step (backend/device_readout.hpp).
///
/// Devices whose memory is not the host's count their traffic: `counters(D)` returns the
/// DeviceCounters below (the trainer's host round trips are asserted on the reference device).
///
/// ## Kernels (T is float or double; pointers are device memory; shapes are row-major)
/// | kernel | computes |
/// |---|---|
/// | `fill(D, n, T v, T* y)` | y[i] = v |
/// | `unary(D, UnaryOp op, T α, n, const T* x, T* y)` | y[i] = op(x[i]) (core/op_kinds.hpp; y may alias x) |
/// | `axpy(D, n, T α, const T* x, T* y)` | y[i] += α·x[i] |
/// | `binary(D, BinaryOp op, out4, const T* a, a4, const T* b, b4, T* y)` | y = op(a, b) broadcast over shapes padded to rank 4 |
/// | `reduce_sum(D, const T* x, x4, T* y, y4)` | y = Σ of x over the dimensions where y4 is 1 and x4 is not |
/// | `map(D, n, F f, P*... p)` | f(p₀[i], p₁[i], …) for every i < n: fused element-wise loops (optimizers, EMA); f is a STRUCTGAN_HOST_DEVICE functor |
/// | `gemm(D, ta, tb, m, n, k, T α, a, lda, b, ldb, T β, c, ldc)` | row-major C (m×n) = α·op(A)·op(B) + β·C (β = 0 ignores C) |
/// | `conv2d_forward(D, ConvGeometry g, x, w, y)` | y (N×O×Ho×Wo) = x (N×C×H×W) ⋆ w (O×C×kh×kw), stride g.stride, zero padding g.pad_h rows and g.pad_w columns each side, no bias |
/// | `conv2d_backward(D, g, x, w, dy, dx, dw)` | dx = ∂/∂x (overwritten, skipped when null), dw += ∂/∂w (accumulated, skipped when null) |
/// | `pool2d_forward(D, bool max, PoolGeometry g, x, y)` | k×k average or max pooling of the N·C planes, stride g.stride, g.pad each side (PoolGeometry) |
/// | `pool2d_backward(D, max, g, x, dy, dx)` | dx (overwritten); max sends dy to the first maximal element of each window |
/// | `max_pool2d_select(D, g, x, t, y)` | y = t at the first maximal element of x in each window (max pooling's tangent) |
/// | `upsample2x_forward(D, planes, h, w, x, y)` | nearest-neighbour 2× upsampling: y (2h×2w) |
/// | `upsample2x_backward(D, planes, h, w, dy, dx)` | dx (h×w) = the sum of each 2×2 block of dy |
/// | `standardize_forward(D, StandardizeLayout s, T eps, x, xhat, mean, rstd)` | xhat = (x − mean_g)·rstd_g, rstd_g = 1/√(biased var_g + eps); writes mean and rstd |
/// | `standardize_jacobian(D, s, xhat, rstd, t, y)` | y = rstd·(t − mean(t) − xhat·mean(xhat·t)), means per group (JVP = VJP) |
/// | `standardize_jacobian_backward(D, s, xhat, rstd, t, y, dy, dxhat, drstd)` | dxhat = −rstd·(dy·mean(xhat·t) + t·mean(dy·xhat)) (overwritten), drstd_g = Σ dy·y / rstd_g (each skipped when null) |
/// | `scale_groups(D, s, x, c, y)` | y(p, g, l) = x(p, g, l)·c[g] |
/// | `group_norm_forward(D, GroupNormGeometry g, T eps, x, w, b, y, mean, rstd)` | fused GroupNorm: y = (x − mean)·rstd·w[c] + b[c] (w, b null: 1, 0); mean, rstd per (sample, group) |
/// | `group_norm_backward(D, g, x, mean, rstd, w, dy, dx, dw, db)` | its VJP: dx (overwritten), dw[c] = Σ dy·xhat, db[c] = Σ dy (overwritten; each skipped when null) |
/// | `group_norm_jvp(D, g, x, mean, rstd, w, xdot, wdot, bdot, ydot)` | its tangent: ydot = w[c]·rstd·(ẋ − mean ẋ − xhat·mean(xhat·ẋ)) + xhat·ẇ[c] + ḃ[c] (w, ẇ, ḃ null: 1, 0, 0) |
/// | `batch_norm_affine_forward(D, StandardizeLayout s, T eps, bool relu, x, scale, shift, y, mean, rstd)` | BatchNorm with an affine map per (sample, channel): y = z, or max(z, 0) with `relu`, z = xhat·scale[p·G + g] + shift[p·G + g], xhat standardized per g over all p and l (s = {N, C, H·W}; scale, shift null: 1, 0); writes mean and rstd per g |
/// | `batch_norm_affine_backward(D, s, bool relu, x, mean, rstd, scale, y, dy, dx, dscale, dshift)` | its VJP: dx (overwritten), dscale[p·G + g] = Σ_l dz·xhat, dshift[p·G + g] = Σ_l dz (overwritten; each skipped when null), dz = dy where y > 0 and 0 elsewhere with `relu` (y read only then), else dy |
/// | `copy_rows(D, rows, len, src, src_stride, dst, dst_stride, bool acc)` | dst[r·dst_stride + i] (+)= src[r·src_stride + i] |
/// | `gather_rows(D, src, rows, width, const index_t* index, count, offset, out)` | out[i, :] = src[index[i] − offset, :] for i < count where that row is in [0, rows), else 0 (index in device memory) |
/// | `scatter_add_rows(D, g, width, const index_t* index, count, offset, dst, rows)` | dst[index[i] − offset, :] += g[i, :] where that row is in [0, rows), others skipped; repeated indices add up in order of i |
/// | `topk_rows(D, x, rows, cols, k, T* values, index_t* indices)` | each row's k largest columns, largest first, ties to the smaller index: indices (rows×k) and their values (rows×k, skipped when null), in device memory |
/// | `softmax_cross_entropy(D, logits, n, k, host labels, loss, grad)` | loss[0] = mean over rows of −log softmax(logits)[label] (0 when n = 0); grad = ∂loss/∂logits when not null; throws on a label outside [0, k) |
/// | `softmax_rows(D, rows, cols, bool log, x, y)` | each row of y = softmax of that row of x (log: log-softmax), from the row minus its maximum |
/// | `argmax_accuracy(D, logits, n, k, host labels, accuracy)` | accuracy[0] = fraction of rows whose first maximal column is their label (0 when n = 0); throws on a label outside [0, k) |
/// | `cholesky(D, p, a, l, info)` | l = the lower factor L of the symmetric p×p a = L·Lᵀ (only a's lower triangle read; l's strict upper triangle 0); info[0] = 0 when every pivot is finite and > 0 (a positive definite), else nonzero and l unspecified |
/// | `cholesky_logdet(D, p, l, y)` | y[0] = 2·Σᵢ log l_ii = log det(L·Lᵀ) for a lower factor l |
/// | `cholesky_inverse(D, p, l, y)` | y = (L·Lᵀ)⁻¹, all p×p entries (symmetric), for a lower factor l with a positive diagonal |
/// | `sum_of_squares(D, tensors, host x, host sizes, y)` | y[0] = Σ_t Σ_i x_t[i]² over `tensors` tensors (x: a host array of device pointers, sizes: their lengths; 0 tensors or empty ones allowed), accumulated in double in a fixed order (the same result every run), written as T |
///
/// ## Index buffers and selection (index_t in device memory: backend/device_indices.hpp)
/// | kernel | computes |
/// |---|---|
/// | `Allocator<D>::allocate<index_t>(n)`, `copy_to_host`, `copy_from_host`, `copy_rows` | as for T, on index_t (copy_rows without accumulation) |
/// | `topk_merge_rows(D, rows, k, na, T* a_values, index_t* a_indices, nb, const T* b_values, const index_t* b_indices, b_offset)` | per row, a (na sorted entries, row stride k) becomes the first min(k, na + nb) of a ∪ b, b's nb sorted entries (row stride nb) taking index + b_offset; order: larger value first, ties to the smaller index |
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "structgan/core/device.hpp"
#include "structgan/core/error.hpp"
#include "structgan/core/op_kinds.hpp"
#include "structgan/core/shape.hpp"

#if defined(__CUDACC__)
#define STRUCTGAN_HOST_DEVICE __host__ __device__
#else
#define STRUCTGAN_HOST_DEVICE
#endif

namespace structgan {

/// The geometry of a 2-D convolution on NCHW input with OIHW weights: one stride for both
/// axes, zero padding of pad_h rows above and below and pad_w columns left and right (1×7 and
/// 7×1 kernels with padding (0, 3) and (3, 0) in Inception-v3).
struct ConvGeometry {
  index_t n, c, h, w;    ///< input
  index_t o, kh, kw;     ///< output channels, kernel
  index_t stride, pad_h, pad_w;
  STRUCTGAN_HOST_DEVICE index_t ho() const { return (h + 2 * pad_h - kh) / stride + 1; }
  STRUCTGAN_HOST_DEVICE index_t wo() const { return (w + 2 * pad_w - kw) / stride + 1; }
  STRUCTGAN_HOST_DEVICE index_t patch() const { return c * kh * kw; }
};

/// The geometry of k×k pooling of the N·C planes of an NCHW tensor with PyTorch's semantics
/// (floor mode): window (oy, ox) covers rows oy·stride − pad … + k − 1 and likewise columns, so
/// Ho = (h + 2·pad − k)/stride + 1. Max pooling never selects a padded position; average
/// pooling divides by k² when count_padding (PyTorch's count_include_pad=True), else by the
/// number of the window's positions inside the image. Valid geometries have pad ≤ k/2 (as
/// PyTorch requires), so every window holds at least one position of the image.
struct PoolGeometry {
  index_t n, c, h, w;  ///< input
  index_t k, stride, pad;
  bool count_padding;
  STRUCTGAN_HOST_DEVICE index_t ho() const { return (h + 2 * pad - k) / stride + 1; }
  STRUCTGAN_HOST_DEVICE index_t wo() const { return (w + 2 * pad - k) / stride + 1; }
  STRUCTGAN_HOST_DEVICE index_t planes() const { return n * c; }
  /// The first and one past the last row of window oy inside the image (columns alike).
  STRUCTGAN_HOST_DEVICE index_t row0(index_t oy) const { return oy * stride - pad < 0 ? 0 : oy * stride - pad; }
  STRUCTGAN_HOST_DEVICE index_t row1(index_t oy) const { return oy * stride - pad + k > h ? h : oy * stride - pad + k; }
  STRUCTGAN_HOST_DEVICE index_t col0(index_t ox) const { return ox * stride - pad < 0 ? 0 : ox * stride - pad; }
  STRUCTGAN_HOST_DEVICE index_t col1(index_t ox) const { return ox * stride - pad + k > w ? w : ox * stride - pad + k; }
  /// What average pooling divides window (oy, ox)'s sum by.
  STRUCTGAN_HOST_DEVICE index_t divisor(index_t oy, index_t ox) const {
    return count_padding ? k * k : (row1(oy) - row0(oy)) * (col1(ox) - col0(ox));
  }
};

/// The layout of a standardization (GroupNorm, BatchNorm): data seen as (P, G, L), element
/// (p, g, l) at p·G·L + g·L + l, statistics per g over all p and l. GroupNorm over NCHW with
/// Gn groups: P = 1, G = N·Gn, L = (C/Gn)·H·W. BatchNorm: P = N, G = C, L = H·W.
struct StandardizeLayout {
  index_t p, g, l;
  STRUCTGAN_HOST_DEVICE index_t count() const { return p * l; }  ///< elements per statistic
};

/// The geometry of a fused GroupNorm over N×C×(spatial) data, hw values per channel: `groups`
/// groups of C/groups consecutive channels per sample; group q = sample·groups + k holds the
/// contiguous values q·L … q·L + L − 1, L = (C/groups)·hw (the StandardizeLayout {1, N·groups, L}).
struct GroupNormGeometry {
  index_t n, c, hw, groups;
  STRUCTGAN_HOST_DEVICE index_t channels_per_group() const { return c / groups; }
  STRUCTGAN_HOST_DEVICE index_t group_size() const { return (c / groups) * hw; }  ///< L
  STRUCTGAN_HOST_DEVICE index_t statistics() const { return n * groups; }
};

namespace backend {

/// Host↔device traffic and allocations of a device whose memory is not the host's, since the
/// start or the last reset. A training step should read the device at most once (the logged
/// scalars), so these are what a test asserts to find a host round trip.
struct DeviceCounters {
  std::uint64_t allocations = 0, allocated_bytes = 0;
  std::uint64_t to_host = 0, to_host_bytes = 0;  ///< copy_to_host calls and bytes
  std::uint64_t from_host = 0, from_host_bytes = 0;
  std::uint64_t synchronizations = 0;
  void reset() { *this = DeviceCounters{}; }
  void allocation(std::uint64_t bytes) { ++allocations, allocated_bytes += bytes; }
  void copy_to_host(std::uint64_t bytes) { ++to_host, to_host_bytes += bytes; }
  void copy_from_host(std::uint64_t bytes) { ++from_host, from_host_bytes += bytes; }
};

/// The counters of device D, one set per device tag. Devices whose memory is not the host's
/// (Cuda, Ref) record into them; the CPU's stay zero.
template <class D>
DeviceCounters& counters(D) {
  static DeviceCounters c;
  return c;
}

/// A broadcast z = op(a, b) over shapes padded to rank 4, with adjacent dimensions merged so
/// that runs are as long as possible. Dimension i of the plan has `size[i]` elements and strides
/// sa, sb, so in a, b and the output (0: the operand repeats along it). Shared by the backends
/// (the CPU walks runs of the innermost dimension, CUDA one output element per thread).
struct BroadcastPlan {
  int rank = 0;
  std::array<index_t, 4> size{}, sa{}, sb{}, so{};
};

inline BroadcastPlan plan_broadcast(const std::array<index_t, 4>& out, const std::array<index_t, 4>& a,
                                    const std::array<index_t, 4>& b) {
  // Contiguous strides of each operand, 0 where it repeats.
  std::array<index_t, 4> sa{}, sb{}, so{};
  index_t ra = 1, rb = 1, ro = 1;
  for (int i = 3; i >= 0; --i) {
    sa[i] = a[i] == 1 && out[i] != 1 ? 0 : ra;
    sb[i] = b[i] == 1 && out[i] != 1 ? 0 : rb;
    so[i] = ro;
    ra *= a[i]; rb *= b[i]; ro *= out[i];
  }
  BroadcastPlan p;
  for (int i = 0; i < 4; ++i) {
    if (out[i] == 1) continue;
    if (p.rank > 0) {
      const int j = p.rank - 1;
      // dimension i folds into j when each operand steps through both the same way
      // (p.sa[j]: the stride of the plan's dimension j, i.e. of its innermost original dimension)
      const bool fa = (p.sa[j] == 0) == (sa[i] == 0) && (sa[i] == 0 || p.sa[j] == sa[i] * out[i]);
      const bool fb = (p.sb[j] == 0) == (sb[i] == 0) && (sb[i] == 0 || p.sb[j] == sb[i] * out[i]);
      if (fa && fb) {
        p.size[j] *= out[i];
        p.sa[j] = sa[i]; p.sb[j] = sb[i]; p.so[j] = so[i];
        continue;
      }
    }
    p.size[p.rank] = out[i]; p.sa[p.rank] = sa[i]; p.sb[p.rank] = sb[i]; p.so[p.rank] = so[i];
    ++p.rank;
  }
  if (p.rank == 0) { p.rank = 1; p.size[0] = 1; p.sa[0] = p.sb[0] = p.so[0] = 1; }
  return p;
}

/// The labels of a kernel taking one label per row (softmax_cross_entropy, argmax_accuracy),
/// checked on the host before the launch: n of them, each in [0, k). `op` names the kernel.
inline void check_labels(const char* op, index_t n, index_t k, const std::vector<int>& labels) {
  require(static_cast<index_t>(labels.size()) == n, op, ": ", labels.size(), " labels for ", n, " rows");
  for (int y : labels) require(y >= 0 && y < k, op, ": label ", y, " outside [0, ", k, ")");
}

namespace contract_detail {
/// A map functor of the contract's shape: one output, one input.
template <class T>
struct AxpbyFunctor {
  T a;
  STRUCTGAN_HOST_DEVICE void operator()(T& y, const T& x) const { y = a * y + x; }
};
/// A value of type T in an unevaluated operand (declared only, like std::declval, but usable
/// for references to const and pointers alike).
template <class T>
T& arg();
template <class R, class Expected>
constexpr bool returns() { return std::is_same_v<R, Expected>; }
}  // namespace contract_detail

/// True when device tag D implements every kernel of the contract for scalar T with the stated
/// signature and result; a missing kernel fails to compile at the line that names it.
template <class D, class T>
constexpr bool conforms() {
  using namespace contract_detail;
  // Arguments of the stated types (declared, never defined: unevaluated operands only).
  using A4 = const std::array<index_t, 4>;
  using IdxIn = const index_t*;  // device memory read
  using IdxOut = index_t*;       // device memory written
  using In = const T*;  // device memory read
  using Out = T*;       // device memory written
  static_assert(std::is_same_v<decltype(D::host_memory), const bool>, "D::host_memory");
  static_assert(returns<decltype(Allocator<D>::template allocate<T>(std::size_t{})), std::shared_ptr<T>>(), "Allocator<D>::allocate<T>(n)");
  static_assert(returns<decltype(copy_to_host(D{}, index_t{}, arg<In>(), arg<Out>())), void>(), "copy_to_host");
  static_assert(returns<decltype(copy_from_host(D{}, index_t{}, arg<In>(), arg<Out>())), void>(), "copy_from_host");
  static_assert(returns<decltype(copy(D{}, index_t{}, arg<In>(), arg<Out>())), void>(), "copy");
  static_assert(returns<decltype(synchronize(D{})), void>(), "synchronize");
  static_assert(returns<decltype(fill(D{}, index_t{}, T{}, arg<Out>())), void>(), "fill");
  static_assert(returns<decltype(unary(D{}, UnaryOp{}, T{}, index_t{}, arg<In>(), arg<Out>())), void>(), "unary");
  static_assert(returns<decltype(axpy(D{}, index_t{}, T{}, arg<In>(), arg<Out>())), void>(), "axpy");
  static_assert(returns<decltype(binary(D{}, BinaryOp{}, arg<A4>(), arg<In>(), arg<A4>(), arg<In>(), arg<A4>(), arg<Out>())), void>(), "binary");
  static_assert(returns<decltype(reduce_sum(D{}, arg<In>(), arg<A4>(), arg<Out>(), arg<A4>())), void>(), "reduce_sum");
  static_assert(returns<decltype(map(D{}, index_t{}, AxpbyFunctor<T>{}, arg<Out>(), arg<In>())), void>(), "map");
  static_assert(returns<decltype(gemm(D{}, false, false, index_t{}, index_t{}, index_t{}, T{}, arg<In>(), index_t{}, arg<In>(), index_t{}, T{}, arg<Out>(), index_t{})), void>(), "gemm");
  static_assert(returns<decltype(conv2d_forward(D{}, arg<const ConvGeometry>(), arg<In>(), arg<In>(), arg<Out>())), void>(), "conv2d_forward");
  static_assert(returns<decltype(conv2d_backward(D{}, arg<const ConvGeometry>(), arg<In>(), arg<In>(), arg<In>(), arg<Out>(), arg<Out>())), void>(), "conv2d_backward");
  static_assert(returns<decltype(pool2d_forward(D{}, false, arg<const PoolGeometry>(), arg<In>(), arg<Out>())), void>(), "pool2d_forward");
  static_assert(returns<decltype(pool2d_backward(D{}, false, arg<const PoolGeometry>(), arg<In>(), arg<In>(), arg<Out>())), void>(), "pool2d_backward");
  static_assert(returns<decltype(max_pool2d_select(D{}, arg<const PoolGeometry>(), arg<In>(), arg<In>(), arg<Out>())), void>(), "max_pool2d_select");
  static_assert(returns<decltype(upsample2x_forward(D{}, index_t{}, index_t{}, index_t{}, arg<In>(), arg<Out>())), void>(), "upsample2x_forward");
  static_assert(returns<decltype(upsample2x_backward(D{}, index_t{}, index_t{}, index_t{}, arg<In>(), arg<Out>())), void>(), "upsample2x_backward");
  static_assert(returns<decltype(standardize_forward(D{}, arg<const StandardizeLayout>(), T{}, arg<In>(), arg<Out>(), arg<Out>(), arg<Out>())), void>(), "standardize_forward");
  static_assert(returns<decltype(standardize_jacobian(D{}, arg<const StandardizeLayout>(), arg<In>(), arg<In>(), arg<In>(), arg<Out>())), void>(), "standardize_jacobian");
  static_assert(returns<decltype(standardize_jacobian_backward(D{}, arg<const StandardizeLayout>(), arg<In>(), arg<In>(), arg<In>(), arg<In>(), arg<In>(), arg<Out>(), arg<Out>())), void>(), "standardize_jacobian_backward");
  static_assert(returns<decltype(scale_groups(D{}, arg<const StandardizeLayout>(), arg<In>(), arg<In>(), arg<Out>())), void>(), "scale_groups");
  using G = const GroupNormGeometry;
  static_assert(returns<decltype(group_norm_forward(D{}, arg<G>(), T{}, arg<In>(), arg<In>(), arg<In>(), arg<Out>(), arg<Out>(), arg<Out>())), void>(), "group_norm_forward");
  static_assert(returns<decltype(group_norm_backward(D{}, arg<G>(), arg<In>(), arg<In>(), arg<In>(), arg<In>(), arg<In>(), arg<Out>(), arg<Out>(), arg<Out>())), void>(), "group_norm_backward");
  static_assert(returns<decltype(group_norm_jvp(D{}, arg<G>(), arg<In>(), arg<In>(), arg<In>(), arg<In>(), arg<In>(), arg<In>(), arg<In>(), arg<Out>())), void>(), "group_norm_jvp");
  static_assert(returns<decltype(batch_norm_affine_forward(D{}, arg<const StandardizeLayout>(), T{}, false, arg<In>(), arg<In>(), arg<In>(), arg<Out>(), arg<Out>(), arg<Out>())), void>(), "batch_norm_affine_forward");
  static_assert(returns<decltype(batch_norm_affine_backward(D{}, arg<const StandardizeLayout>(), false, arg<In>(), arg<In>(), arg<In>(), arg<In>(), arg<In>(), arg<In>(), arg<Out>(), arg<Out>(), arg<Out>())), void>(), "batch_norm_affine_backward");
  static_assert(returns<decltype(copy_rows(D{}, index_t{}, index_t{}, arg<In>(), index_t{}, arg<Out>(), index_t{}, false)), void>(), "copy_rows");
  static_assert(returns<decltype(gather_rows(D{}, arg<In>(), index_t{}, index_t{}, arg<IdxIn>(), index_t{}, index_t{}, arg<Out>())), void>(), "gather_rows");
  static_assert(returns<decltype(scatter_add_rows(D{}, arg<In>(), index_t{}, arg<IdxIn>(), index_t{}, index_t{}, arg<Out>(), index_t{})), void>(), "scatter_add_rows");
  static_assert(returns<decltype(topk_rows(D{}, arg<In>(), index_t{}, index_t{}, index_t{}, arg<Out>(), arg<IdxOut>())), void>(), "topk_rows");
  static_assert(returns<decltype(softmax_cross_entropy(D{}, arg<In>(), index_t{}, index_t{}, arg<const std::vector<int>>(), arg<Out>(), arg<Out>())), void>(), "softmax_cross_entropy");
  static_assert(returns<decltype(softmax_rows(D{}, index_t{}, index_t{}, false, arg<In>(), arg<Out>())), void>(), "softmax_rows");
  static_assert(returns<decltype(argmax_accuracy(D{}, arg<In>(), index_t{}, index_t{}, arg<const std::vector<int>>(), arg<Out>())), void>(), "argmax_accuracy");
  static_assert(returns<decltype(cholesky(D{}, index_t{}, arg<In>(), arg<Out>(), arg<Out>())), void>(), "cholesky");
  static_assert(returns<decltype(cholesky_logdet(D{}, index_t{}, arg<In>(), arg<Out>())), void>(), "cholesky_logdet");
  static_assert(returns<decltype(cholesky_inverse(D{}, index_t{}, arg<In>(), arg<Out>())), void>(), "cholesky_inverse");
  static_assert(returns<decltype(sum_of_squares(D{}, index_t{}, arg<const In*>(), arg<const index_t*>(), arg<Out>())), void>(), "sum_of_squares");
  // Index buffers (backend/device_indices.hpp) and the kernels on them.
  static_assert(returns<decltype(Allocator<D>::template allocate<index_t>(std::size_t{})), std::shared_ptr<index_t>>(), "Allocator<D>::allocate<index_t>(n)");
  static_assert(returns<decltype(copy_to_host(D{}, index_t{}, arg<IdxIn>(), arg<IdxOut>())), void>(), "copy_to_host (index_t)");
  static_assert(returns<decltype(copy_from_host(D{}, index_t{}, arg<IdxIn>(), arg<IdxOut>())), void>(), "copy_from_host (index_t)");
  static_assert(returns<decltype(copy_rows(D{}, index_t{}, index_t{}, arg<IdxIn>(), index_t{}, arg<IdxOut>(), index_t{}, false)), void>(), "copy_rows (index_t)");
  static_assert(returns<decltype(topk_merge_rows(D{}, index_t{}, index_t{}, index_t{}, arg<Out>(), arg<IdxOut>(), index_t{}, arg<In>(), arg<IdxIn>(), index_t{})), void>(), "topk_merge_rows");
  return true;
}

}  // namespace backend
}  // namespace structgan
