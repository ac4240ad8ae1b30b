#pragma once
/// \file CUDA standardization kernels shared by GroupNorm and BatchNorm: one block per group g,
/// statistics accumulated in double with CUB block reductions (as the CPU backend does).
/// Layout (P, G, L): element (p, g, l) at p·G·L + g·L + l; see StandardizeLayout in backend/contract.hpp.
#include <algorithm>

#include <cub/block/block_reduce.cuh>

#include "structgan/backend/contract.hpp"
#include "structgan/backend/cuda/memory.hpp"
#include "structgan/backend/cuda/runtime.hpp"

namespace structgan::backend {
namespace cuda {

/// Offset of the e-th element (e < P·L) of group g. With P = 1 (GroupNorm's groups, contiguous)
/// that is g·L + e, without the 64-bit division.
__device__ inline index_t group_offset(const StandardizeLayout& s, index_t g, index_t e) {
  return s.p == 1 ? g * s.l + e : ((e / s.l) * s.g + g) * s.l + e % s.l;
}

using BlockSum = cub::BlockReduce<double, block_threads>;

/// For each group g of x (one block per group, grid-stride): its mean and 1/sqrt(variance + eps),
/// two passes in double with the whole block cooperating, written to mean[g] and rstd[g] in T;
/// write(offset, e, g, mean, rstd) is called for every element e of the group in between. The
/// forward kernels of the standardization, the fused GroupNorm and the fused affine BatchNorm differ
/// only in `write`.
template <class T, class Write>
__device__ void standardize_groups(const StandardizeLayout& s, T eps, const T* x, T* mean, T* rstd, Write write) {
  __shared__ typename BlockSum::TempStorage tmp;
  __shared__ double shared;
  const index_t count = s.p * s.l;
  for (index_t g = blockIdx.x; g < s.g; g += gridDim.x) {
    double sum = 0;
    for (index_t e = threadIdx.x; e < count; e += blockDim.x) sum += double(x[group_offset(s, g, e)]);
    sum = BlockSum(tmp).Sum(sum);
    if (threadIdx.x == 0) shared = sum / double(count);
    __syncthreads();
    const double m = shared;
    double ss = 0;
    for (index_t e = threadIdx.x; e < count; e += blockDim.x) {
      const double d = double(x[group_offset(s, g, e)]) - m;
      ss += d * d;
    }
    ss = BlockSum(tmp).Sum(ss);
    __syncthreads();  // everyone has read `shared` (m) before it is overwritten
    if (threadIdx.x == 0) shared = 1.0 / ::sqrt(ss / double(count) + double(eps));
    __syncthreads();
    const T mt = T(m), rt = T(shared);
    for (index_t e = threadIdx.x; e < count; e += blockDim.x) write(group_offset(s, g, e), e, g, mt, rt);
    if (threadIdx.x == 0) {
      mean[g] = mt;
      rstd[g] = rt;
    }
    __syncthreads();  // tmp and shared are reused by the next group
  }
}

template <class T>
__global__ void standardize_forward_kernel(StandardizeLayout s, T eps, const T* x, T* xhat, T* mean, T* rstd) {
  standardize_groups(s, eps, x, mean, rstd,
                     [&](index_t off, index_t, index_t, T mt, T rt) { xhat[off] = (x[off] - mt) * rt; });
}

template <class T>
__global__ void standardize_jacobian_kernel(StandardizeLayout s, const T* xhat, const T* rstd, const T* t, T* y) {
  __shared__ typename BlockSum::TempStorage tmp;
  __shared__ double shared[2];
  const index_t count = s.p * s.l;
  for (index_t g = blockIdx.x; g < s.g; g += gridDim.x) {
    double st = 0, sxt = 0;
    for (index_t e = threadIdx.x; e < count; e += blockDim.x) {
      const index_t off = group_offset(s, g, e);
      st += double(t[off]);
      sxt += double(t[off] * xhat[off]);
    }
    st = BlockSum(tmp).Sum(st);
    __syncthreads();
    sxt = BlockSum(tmp).Sum(sxt);
    if (threadIdx.x == 0) {
      shared[0] = st;
      shared[1] = sxt;
    }
    __syncthreads();
    const T mt = T(shared[0] / double(count)), mxt = T(shared[1] / double(count)), r = rstd[g];
    for (index_t e = threadIdx.x; e < count; e += blockDim.x) {
      const index_t off = group_offset(s, g, e);
      y[off] = r * (t[off] - mt - xhat[off] * mxt);
    }
    __syncthreads();
  }
}

template <class T>
__global__ void standardize_jacobian_backward_kernel(StandardizeLayout s, const T* xhat, const T* rstd, const T* t,
                                                     const T* y, const T* dy, T* dxhat, T* drstd) {
  __shared__ typename BlockSum::TempStorage tmp;
  __shared__ double shared[3];
  const index_t count = s.p * s.l;
  for (index_t g = blockIdx.x; g < s.g; g += gridDim.x) {
    double sxt = 0, sgx = 0, sgy = 0;
    for (index_t e = threadIdx.x; e < count; e += blockDim.x) {
      const index_t off = group_offset(s, g, e);
      sxt += double(xhat[off] * t[off]);
      sgx += double(dy[off] * xhat[off]);
      sgy += double(dy[off] * y[off]);
    }
    sxt = BlockSum(tmp).Sum(sxt);
    __syncthreads();
    sgx = BlockSum(tmp).Sum(sgx);
    __syncthreads();
    sgy = BlockSum(tmp).Sum(sgy);
    if (threadIdx.x == 0) {
      shared[0] = sxt;
      shared[1] = sgx;
      shared[2] = sgy;
    }
    __syncthreads();
    const T mxt = T(shared[0] / double(count)), mgx = T(shared[1] / double(count)), r = rstd[g];
    if (dxhat)
      for (index_t e = threadIdx.x; e < count; e += blockDim.x) {
        const index_t off = group_offset(s, g, e);
        dxhat[off] = -r * (dy[off] * mxt + t[off] * mgx);
      }
    if (drstd && threadIdx.x == 0) drstd[g] = T(shared[2] / double(r));
    __syncthreads();
  }
}

template <class T>
__global__ void scale_groups_kernel(StandardizeLayout s, const T* x, const T* c, T* y) {
  const index_t total = s.p * s.g * s.l;
  for (index_t e = index_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += index_t(gridDim.x) * blockDim.x)
    y[e] = x[e] * c[(e / s.l) % s.g];
}

inline unsigned group_blocks(const StandardizeLayout& s) {
  return static_cast<unsigned>(std::clamp<index_t>(s.g, 1, index_t(1) << 20));
}

/// Fused GroupNorm: one block per (sample, group) q, whose L values are contiguous (the layout
/// {1, N·groups, L}), its statistics as standardize_forward_kernel, then the per-channel affine map.
template <class T>
__global__ void group_norm_forward_kernel(GroupNormGeometry g, T eps, const T* x, const T* w, const T* b, T* y, T* mean,
                                          T* rstd) {
  const index_t len = g.group_size(), cpg = g.channels_per_group();
  standardize_groups(StandardizeLayout{1, g.statistics(), len}, eps, x, mean, rstd,
                     [&](index_t off, index_t e, index_t q, T mt, T rt) {
                       const index_t c = (q % g.groups) * cpg + e / g.hw;
                       y[off] = (x[off] - mt) * (w ? rt * w[c] : rt) + (b ? b[c] : T(0));
                     });
}

/// GroupNorm's VJP, first part: per (sample, channel) Σdy and Σdy·(x − mean) into sdy, sdyx, then dx.
template <class T>
__global__ void group_norm_backward_kernel(GroupNormGeometry g, const T* x, const T* mean, const T* rstd, const T* w,
                                           const T* dy, T* dx, double* sdy, double* sdyx) {
  __shared__ typename BlockSum::TempStorage tmp;
  __shared__ double shared[2];
  const index_t len = g.group_size(), cpg = g.channels_per_group();
  for (index_t q = blockIdx.x; q < g.statistics(); q += gridDim.x) {
    const T mt = mean[q];
    const double r = double(rstd[q]);
    if (threadIdx.x == 0) shared[0] = shared[1] = 0;
    __syncthreads();
    for (index_t k = 0; k < cpg; ++k) {
      const index_t c = (q % g.groups) * cpg + k, off = q * len + k * g.hw;
      double a = 0, bx = 0;
      for (index_t e = threadIdx.x; e < g.hw; e += blockDim.x) {
        a += double(dy[off + e]);
        bx += double(dy[off + e]) * double(x[off + e] - mt);
      }
      a = BlockSum(tmp).Sum(a);
      __syncthreads();
      bx = BlockSum(tmp).Sum(bx);
      __syncthreads();
      if (threadIdx.x == 0) {
        const index_t nc = (q / g.groups) * g.c + c;
        sdy[nc] = a;
        sdyx[nc] = bx;
        const double wc = w ? double(w[c]) : 1.0;
        shared[0] += wc * a;
        shared[1] += wc * bx * r;
      }
    }
    __syncthreads();
    if (dx) {
      const T k0 = T(-r * shared[0] / double(len)), k1 = T(-r * r * shared[1] / double(len));
      for (index_t e = threadIdx.x; e < len; e += blockDim.x) {
        const index_t c = (q % g.groups) * cpg + e / g.hw;
        dx[q * len + e] = dy[q * len + e] * (w ? T(r) * w[c] : T(r)) + (x[q * len + e] - mt) * k1 + k0;
      }
    }
    __syncthreads();
  }
}

/// GroupNorm's VJP, second part: dw and db per channel from the per-(sample, channel) sums.
template <class T>
__global__ void group_norm_param_grad_kernel(GroupNormGeometry g, const T* rstd, const double* sdy, const double* sdyx, T* dw,
                                             T* db) {
  for (index_t c = index_t(blockIdx.x) * blockDim.x + threadIdx.x; c < g.c; c += index_t(gridDim.x) * blockDim.x) {
    double sw = 0, sb = 0;
    for (index_t i = 0; i < g.n; ++i) {
      sw += sdyx[i * g.c + c] * double(rstd[i * g.groups + c / g.channels_per_group()]);
      sb += sdy[i * g.c + c];
    }
    if (dw) dw[c] = T(sw);
    if (db) db[c] = T(sb);
  }
}

/// GroupNorm's tangent: one block per (sample, group).
template <class T>
__global__ void group_norm_jvp_kernel(GroupNormGeometry g, const T* x, const T* mean, const T* rstd, const T* w, const T* xdot,
                                      const T* wdot, const T* bdot, T* ydot) {
  __shared__ typename BlockSum::TempStorage tmp;
  __shared__ double shared[2];
  const index_t len = g.group_size(), cpg = g.channels_per_group();
  for (index_t q = blockIdx.x; q < g.statistics(); q += gridDim.x) {
    const T mt = mean[q];
    const double r = double(rstd[q]);
    double st = 0, stx = 0;
    for (index_t e = threadIdx.x; e < len; e += blockDim.x) {
      st += double(xdot[q * len + e]);
      stx += double(xdot[q * len + e]) * double(x[q * len + e] - mt);
    }
    st = BlockSum(tmp).Sum(st);
    __syncthreads();
    stx = BlockSum(tmp).Sum(stx);
    if (threadIdx.x == 0) {
      shared[0] = st;
      shared[1] = stx;
    }
    __syncthreads();
    const double k0 = -r * shared[0] / double(len), k1 = -r * r * r * shared[1] / double(len);
    for (index_t e = threadIdx.x; e < len; e += blockDim.x) {
      const index_t c = (q % g.groups) * cpg + e / g.hw;
      const double wc = w ? double(w[c]) : 1.0;
      const T a = T(r * wc), cx = T(k1 * wc + (wdot ? r * double(wdot[c]) : 0.0)), c0 = T(k0 * wc + (bdot ? double(bdot[c]) : 0.0));
      ydot[q * len + e] = xdot[q * len + e] * a + (x[q * len + e] - mt) * cx + c0;
    }
    __syncthreads();
  }
}

/// BatchNorm with an affine map per (sample, channel) and an optional ReLU: the statistics of
/// channel g as standardize_forward_kernel, then y = x̂·scale + shift (ReLU'd) in the same pass.
template <class T>
__global__ void batch_norm_affine_forward_kernel(StandardizeLayout s, T eps, bool relu, const T* x, const T* scale,
                                                 const T* shift, T* y, T* mean, T* rstd) {
  standardize_groups(s, eps, x, mean, rstd, [&](index_t off, index_t e, index_t g, T mt, T rt) {
    const index_t q = (e / s.l) * s.g + g;  // the (sample, channel) plane
    const T z = (x[off] - mt) * (scale ? rt * scale[q] : rt) + (shift ? shift[q] : T(0));
    y[off] = relu && !(z > T(0)) ? T(0) : z;
  });
}

/// Its VJP, first part: one block per plane q = (sample, channel): Σdz and Σdz·(x − mean) into
/// sdz, sdzx (double), and dshift, dscale.
template <class T>
__global__ void batch_norm_affine_sums_kernel(StandardizeLayout s, bool relu, const T* x, const T* mean, const T* rstd,
                                              const T* y, const T* dy, double* sdz, double* sdzx, T* dscale, T* dshift) {
  __shared__ typename BlockSum::TempStorage tmp;
  for (index_t q = blockIdx.x; q < s.p * s.g; q += gridDim.x) {
    const T mt = mean[q % s.g];
    double a = 0, b = 0;
    for (index_t e = threadIdx.x; e < s.l; e += blockDim.x) {
      const index_t i = q * s.l + e;
      const T d = relu ? dy[i] * T(y[i] > T(0)) : dy[i];
      a += double(d);
      b += double(d) * double(x[i] - mt);
    }
    a = BlockSum(tmp).Sum(a);
    __syncthreads();
    b = BlockSum(tmp).Sum(b);
    if (threadIdx.x == 0) {
      sdz[q] = a;
      sdzx[q] = b;
      if (dshift) dshift[q] = T(a);
      if (dscale) dscale[q] = T(b * double(rstd[q % s.g]));
    }
    __syncthreads();
  }
}

/// Second part: per channel k₀ = −r·Σ_p a_p·Σdz / count and k₁ = −r³·Σ_p a_p·Σdz·(x − mean) / count.
template <class T>
__global__ void batch_norm_affine_channel_kernel(StandardizeLayout s, const T* rstd, const T* scale, const double* sdz,
                                                 const double* sdzx, T* k0, T* k1) {
  for (index_t g = index_t(blockIdx.x) * blockDim.x + threadIdx.x; g < s.g; g += index_t(gridDim.x) * blockDim.x) {
    double s1 = 0, s2 = 0;
    for (index_t p = 0; p < s.p; ++p) {
      const index_t q = p * s.g + g;
      const double a = scale ? double(scale[q]) : 1.0;
      s1 += a * sdz[q];
      s2 += a * sdzx[q];
    }
    const double r = double(rstd[g]), n = double(s.p * s.l);
    k0[g] = T(-r * s1 / n);
    k1[g] = T(-r * r * r * s2 / n);
  }
}

/// Third part: dx = dz·(rstd·scale) + (x − mean)·k₁ + k₀, element-wise.
template <class T>
__global__ void batch_norm_affine_dx_kernel(StandardizeLayout s, bool relu, const T* x, const T* mean, const T* rstd,
                                            const T* scale, const T* y, const T* dy, const T* k0, const T* k1, T* dx) {
  const index_t n = s.p * s.g * s.l;
  for (index_t i = index_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += index_t(gridDim.x) * blockDim.x) {
    const index_t q = i / s.l, g = q % s.g;
    const T d = relu ? dy[i] * T(y[i] > T(0)) : dy[i];
    dx[i] = d * (scale ? rstd[g] * scale[q] : rstd[g]) + (x[i] - mean[g]) * k1[g] + k0[g];
  }
}

inline unsigned statistic_blocks(const GroupNormGeometry& g) {
  return static_cast<unsigned>(std::clamp<index_t>(g.statistics(), 1, index_t(1) << 20));
}

}  // namespace cuda

/// xhat = (x − mean_g) · rstd_g with rstd_g = 1/√(var_g + eps) (biased variance); writes the
/// per-group mean and rstd too.
template <class T>
void standardize_forward(Cuda, const StandardizeLayout& s, T eps, const T* x, T* xhat, T* mean, T* rstd) {
  if (s.g <= 0) return;
  cuda::standardize_forward_kernel<T><<<cuda::group_blocks(s), cuda::block_threads, 0, cuda::stream()>>>(s, eps, x, xhat,
                                                                                                      mean, rstd);
  STRUCTGAN_CUDA_CHECK_LAUNCH("standardize_forward_kernel");
}

/// The standardization's Jacobian applied to t: y = rstd · (t − mean(t) − xhat · mean(xhat·t)).
template <class T>
void standardize_jacobian(Cuda, const StandardizeLayout& s, const T* xhat, const T* rstd, const T* t, T* y) {
  if (s.g <= 0) return;
  cuda::standardize_jacobian_kernel<T><<<cuda::group_blocks(s), cuda::block_threads, 0, cuda::stream()>>>(s, xhat, rstd, t, y);
  STRUCTGAN_CUDA_CHECK_LAUNCH("standardize_jacobian_kernel");
}

/// Reverse rule of standardize_jacobian with respect to xhat and rstd, given dy:
/// dxhat = −rstd·(dy·mean(xhat·t) + t·mean(dy·xhat)) (overwritten), drstd_g = Σ dy·y / rstd.
template <class T>
void standardize_jacobian_backward(Cuda, const StandardizeLayout& s, const T* xhat, const T* rstd, const T* t, const T* y,
                                   const T* dy, T* dxhat, T* drstd) {
  if (s.g <= 0) return;
  cuda::standardize_jacobian_backward_kernel<T><<<cuda::group_blocks(s), cuda::block_threads, 0, cuda::stream()>>>(
      s, xhat, rstd, t, y, dy, dxhat, drstd);
  STRUCTGAN_CUDA_CHECK_LAUNCH("standardize_jacobian_backward_kernel");
}

/// y(p, g, l) = x(p, g, l) · c[g].
template <class T>
void scale_groups(Cuda, const StandardizeLayout& s, const T* x, const T* c, T* y) {
  const index_t n = s.p * s.g * s.l;
  if (n <= 0) return;
  cuda::scale_groups_kernel<T><<<cuda::grid_for(n), cuda::block_threads, 0, cuda::stream()>>>(s, x, c, y);
  STRUCTGAN_CUDA_CHECK_LAUNCH("scale_groups_kernel");
}

/// Fused GroupNorm: y = (x − mean)·rstd·w[c] + b[c] (w, b null: 1, 0).
template <class T>
void group_norm_forward(Cuda, const GroupNormGeometry& g, T eps, const T* x, const T* w, const T* b, T* y, T* mean, T* rstd) {
  if (g.statistics() <= 0 || g.group_size() <= 0) return;
  cuda::group_norm_forward_kernel<T><<<cuda::statistic_blocks(g), cuda::block_threads, 0, cuda::stream()>>>(g, eps, x, w, b, y,
                                                                                                         mean, rstd);
  STRUCTGAN_CUDA_CHECK_LAUNCH("group_norm_forward_kernel");
}

/// The VJP of group_norm_forward: dx, dw, db (overwritten, each skipped when null).
template <class T>
void group_norm_backward(Cuda, const GroupNormGeometry& g, const T* x, const T* mean, const T* rstd, const T* w, const T* dy,
                         T* dx, T* dw, T* db) {
  if (g.statistics() <= 0 || g.group_size() <= 0) return;
  cuda::DeviceBuffer<double> sdy(std::size_t(g.n * g.c)), sdyx(std::size_t(g.n * g.c));
  cuda::group_norm_backward_kernel<T><<<cuda::statistic_blocks(g), cuda::block_threads, 0, cuda::stream()>>>(
      g, x, mean, rstd, w, dy, dx, sdy.data(), sdyx.data());
  STRUCTGAN_CUDA_CHECK_LAUNCH("group_norm_backward_kernel");
  if (!dw && !db) return;
  cuda::group_norm_param_grad_kernel<T><<<cuda::grid_for(g.c), cuda::block_threads, 0, cuda::stream()>>>(g, rstd, sdy.data(),
                                                                                                       sdyx.data(), dw, db);
  STRUCTGAN_CUDA_CHECK_LAUNCH("group_norm_param_grad_kernel");
}

/// The tangent of group_norm_forward (w, ẇ, ḃ null: 1, 0, 0).
template <class T>
void group_norm_jvp(Cuda, const GroupNormGeometry& g, const T* x, const T* mean, const T* rstd, const T* w, const T* xdot,
                    const T* wdot, const T* bdot, T* ydot) {
  if (g.statistics() <= 0 || g.group_size() <= 0) return;
  cuda::group_norm_jvp_kernel<T><<<cuda::statistic_blocks(g), cuda::block_threads, 0, cuda::stream()>>>(g, x, mean, rstd, w,
                                                                                                      xdot, wdot, bdot, ydot);
  STRUCTGAN_CUDA_CHECK_LAUNCH("group_norm_jvp_kernel");
}


/// BatchNorm with an affine map per (sample, channel) and an optional ReLU (scale, shift null: 1, 0).
template <class T>
void batch_norm_affine_forward(Cuda, const StandardizeLayout& s, T eps, bool relu, const T* x, const T* scale, const T* shift,
                               T* y, T* mean, T* rstd) {
  if (s.g <= 0 || s.count() <= 0) return;
  cuda::batch_norm_affine_forward_kernel<T><<<cuda::group_blocks(s), cuda::block_threads, 0, cuda::stream()>>>(
      s, eps, relu, x, scale, shift, y, mean, rstd);
  STRUCTGAN_CUDA_CHECK_LAUNCH("batch_norm_affine_forward_kernel");
}

/// The VJP of batch_norm_affine_forward: dx, dscale, dshift (overwritten, each skipped when null).
template <class T>
void batch_norm_affine_backward(Cuda, const StandardizeLayout& s, bool relu, const T* x, const T* mean, const T* rstd,
                                const T* scale, const T* y, const T* dy, T* dx, T* dscale, T* dshift) {
  const index_t planes = s.p * s.g;
  if (planes <= 0 || s.l <= 0) return;
  cuda::DeviceBuffer<double> sdz(static_cast<std::size_t>(planes)), sdzx(static_cast<std::size_t>(planes));
  const unsigned plane_blocks = static_cast<unsigned>(std::min<index_t>(planes, index_t(1) << 20));
  cuda::batch_norm_affine_sums_kernel<T><<<plane_blocks, cuda::block_threads, 0, cuda::stream()>>>(
      s, relu, x, mean, rstd, y, dy, sdz.data(), sdzx.data(), dscale, dshift);
  STRUCTGAN_CUDA_CHECK_LAUNCH("batch_norm_affine_sums_kernel");
  if (!dx) return;
  cuda::DeviceBuffer<T> k0(static_cast<std::size_t>(s.g)), k1(static_cast<std::size_t>(s.g));
  cuda::batch_norm_affine_channel_kernel<T><<<cuda::grid_for(s.g), cuda::block_threads, 0, cuda::stream()>>>(
      s, rstd, scale, sdz.data(), sdzx.data(), k0.data(), k1.data());
  STRUCTGAN_CUDA_CHECK_LAUNCH("batch_norm_affine_channel_kernel");
  cuda::batch_norm_affine_dx_kernel<T><<<cuda::grid_for(planes * s.l), cuda::block_threads, 0, cuda::stream()>>>(
      s, relu, x, mean, rstd, scale, y, dy, k0.data(), k1.data(), dx);
  STRUCTGAN_CUDA_CHECK_LAUNCH("batch_norm_affine_dx_kernel");
}

}  // namespace structgan::backend
