#pragma once
/// \file CPU 3×3, stride-1, pad-1 convolutions by Winograd's minimal filtering F(2×2, 3×3)
/// (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016).
///
/// Each 2×2 output tile is Aᵀ[Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B)]A for the 4×4 input patches d_c, so the
/// sum over channels becomes 16 GEMMs, one per entry ξ of the 4×4 transformed tile:
/// M[ξ] (O×tiles) = U[ξ] (O×C) · V[ξ] (C×tiles). That is 16 multiplies per 4 outputs and channel
/// pair where im2col's GEMM does 36: 2.25× less arithmetic for the convolutions that make up
/// most of both networks. The transforms' coefficients are 0, ±1 and ±½, so the rounding is
/// that of a direct sum of a few more terms (tests/…/test_conv_paths checks against long double).
///
/// dx is the same convolution of dy with the kernel flipped and its channels swapped; dw runs
/// the forward algebra backwards: dU[ξ] = Σ_tiles (A dY Aᵀ)[ξ] · V[ξ]ᵀ, then dw = Gᵀ dU G.
/// Threads split the batch as in conv.hpp: each takes a contiguous range of images and runs its
/// transforms and single-threaded GEMMs alone; layers with more channels than the batch has tiles
/// split the 16 GEMMs instead (split_by_xi).
#include <algorithm>
#include <cstring>
#include <memory>

#include "structgan/backend/cpu/conv_support.hpp"
#include "structgan/backend/cpu/gemm.hpp"
#include "structgan/backend/cpu/parallel.hpp"
#include "structgan/core/device.hpp"

namespace structgan::backend::cpu::winograd {

/// Whether the Winograd path takes this convolution: 3×3, stride 1, pad 1 (output the input's
/// size), and enough channels on both sides for the 16 GEMMs not to be skinny (the RGB stem and
/// the generator's last layer stay on im2col).
inline bool applies(const ConvGeometry& g) {
  return g.kh == 3 && g.kw == 3 && g.stride == 1 && g.pad == 1 && g.c >= 16 && g.o >= 16 && g.h >= 2 && g.w >= 2;
}

/// 2×2 output tiles per row and column (the last ones cut off when H or W is odd).
inline index_t tile_rows(const ConvGeometry& g) { return (g.h + 1) / 2; }
inline index_t tile_cols(const ConvGeometry& g) { return (g.w + 1) / 2; }

/// Values of one zero-padded input plane covering every tile: (2·tile_rows + 2)·(2·tile_cols + 2).
inline std::size_t padded_plane_size(const ConvGeometry& g) {
  return static_cast<std::size_t>((2 * tile_rows(g) + 2) * (2 * tile_cols(g) + 2));
}

/// Images per chunk, so that the transformed tiles of a chunk stay near 256K values per side (1 MiB
/// of floats: a core's L2 here; 1M values measured 5–15% slower per convolution on Zen 4).
inline index_t chunk(const ConvGeometry& g) {
  const index_t per_image = std::max<index_t>(1, 16 * std::max(g.c, g.o) * tile_rows(g) * tile_cols(g));
  return std::clamp<index_t>((index_t(1) << 18) / per_image, 1, g.n);
}

/// Kernels per block of the kernel-side transforms. u's 16 rows are n values apart; with n a
/// multiple of 1024 that is a multiple of 4 KiB, so writing one kernel's 16 values at a time sends
/// 16 streams into the same L1 set (measured 29 ns per 512×512 kernel on Zen 5, most of a deep
/// layer's convolution). A block is transformed in L1 and each of its 16 rows written whole.
constexpr index_t kKernelBlock = 64;

/// u[ξ][i] = (G g_i Gᵀ)[ξ] for the n kernels g_i (3×3 each, contiguous); u has 16 rows of n.
/// With `flip`, kernel i is taken from w as the (O×C) → (C×O) transpose rotated by 180°, i.e.
/// the kernel of dx = conv(dy, ·): g'_{c,o}[ki][kj] = w_{o,c}[2−ki][2−kj] (o_count = O, c_count = C).
template <class T>
void transform_kernels(index_t o_count, index_t c_count, const T* w, bool flip, T* u) {
  const index_t n = o_count * c_count, blocks = (n + kKernelBlock - 1) / kKernelBlock;
  parallel_for(blocks, 16, [&](index_t b0, index_t b1) {
    alignas(64) T g[9][kKernelBlock], r[4][3][kKernelBlock], out[16][kKernelBlock];
    for (index_t blk = b0; blk < b1; ++blk) {
      const index_t i0 = blk * kKernelBlock, m = std::min(kKernelBlock, n - i0);
      for (index_t k = 0; k < m; ++k) {
        const index_t i = i0 + k;
        if (!flip) {
          for (int e = 0; e < 9; ++e) g[e][k] = w[i * 9 + e];
        } else {  // i = c·O + o
          const T* src = w + ((i % o_count) * c_count + i / o_count) * 9;
          for (int e = 0; e < 9; ++e) g[e][k] = src[8 - e];
        }
      }
      for (int j = 0; j < 3; ++j)  // G g: rows of the 4×3 intermediate
        for (index_t k = 0; k < m; ++k) {
          const T a = g[j][k], b = g[3 + j][k], c = g[6 + j][k];
          r[0][j][k] = a;
          r[1][j][k] = T(0.5) * (a + b + c);
          r[2][j][k] = T(0.5) * (a - b + c);
          r[3][j][k] = c;
        }
      for (int a = 0; a < 4; ++a)  // (G g) Gᵀ
        for (index_t k = 0; k < m; ++k) {
          const T p = r[a][0][k], q = r[a][1][k], t = r[a][2][k];
          out[a * 4 + 0][k] = p;
          out[a * 4 + 1][k] = T(0.5) * (p + q + t);
          out[a * 4 + 2][k] = T(0.5) * (p - q + t);
          out[a * 4 + 3][k] = t;
        }
      for (int xi = 0; xi < 16; ++xi) std::memcpy(u + xi * n + i0, out[xi], static_cast<std::size_t>(m) * sizeof(T));
    }
  });
}

/// The distance between the 16 ξ-planes of a transformed buffer of `rows` rows of ld values:
/// rows·ld plus one cache line. Without the line, rows·ld is often a multiple of 4 KiB (64 channels
/// of 256 tiles, …), so a transform's 16 writes per tile land in one L1 set and evict each other.
template <class T>
index_t xi_plane_stride(index_t rows, index_t ld) {
  return rows * ld + static_cast<index_t>(64 / sizeof(T));
}

/// Tile columns handled per pass of the row transforms (their rows then live in L1).
constexpr index_t kTileBlock = 64;

/// v[ξ][c][col0 + tile] = (Bᵀ d B)[ξ] for every 4×4 patch d of one image x (C×H×W, zero padded
/// by one), tiles in row-major order; v's rows have leading dimension ld, its ξ-planes are
/// `plane` apart (xi_plane_stride). `pad` is scratch of padded_plane_size(g) values. Bᵀ acts on the
/// four rows first, whole rows at a time, then B on each tile's columns: both loops vectorize.
template <class T>
void transform_input(const ConvGeometry& g, const T* x, T* pad, T* v, index_t ld, index_t plane, index_t col0) {
  const index_t th = tile_rows(g), tw = tile_cols(g), pw = 2 * tw + 2;
  std::fill(pad, pad + padded_plane_size(g), T(0));  // the border stays zero: only the interior is rewritten
  alignas(64) T t[4][2 * kTileBlock + 2];
  for (index_t c = 0; c < g.c; ++c) {
    const T* src = x + c * g.h * g.w;
    for (index_t r = 0; r < g.h; ++r) std::memcpy(pad + (r + 1) * pw + 1, src + r * g.w, static_cast<std::size_t>(g.w) * sizeof(T));
    for (index_t ty = 0; ty < th; ++ty)
      for (index_t t0 = 0; t0 < tw; t0 += kTileBlock) {
        const index_t nt = std::min(kTileBlock, tw - t0), width = 2 * nt + 2;
        const T* __restrict p0 = pad + 2 * ty * pw + 2 * t0;
        const T* __restrict p1 = p0 + pw;
        const T* __restrict p2 = p1 + pw;
        const T* __restrict p3 = p2 + pw;
        for (index_t j = 0; j < width; ++j) {
          t[0][j] = p0[j] - p2[j];
          t[1][j] = p1[j] + p2[j];
          t[2][j] = p2[j] - p1[j];
          t[3][j] = p1[j] - p3[j];
        }
        T* out = v + c * ld + col0 + ty * tw + t0;
        for (int a = 0; a < 4; ++a) {
          const T* __restrict ta = t[a];
          T* __restrict o0 = out + (a * 4 + 0) * plane;
          T* __restrict o1 = out + (a * 4 + 1) * plane;
          T* __restrict o2 = out + (a * 4 + 2) * plane;
          T* __restrict o3 = out + (a * 4 + 3) * plane;
          for (index_t k = 0; k < nt; ++k) {
            const T d0 = ta[2 * k], d1 = ta[2 * k + 1], d2 = ta[2 * k + 2], d3 = ta[2 * k + 3];
            o0[k] = d0 - d2;
            o1[k] = d1 + d2;
            o2[k] = d2 - d1;
            o3[k] = d1 - d3;
          }
        }
      }
  }
}

/// One image's output y (O×H×W) from m[ξ][o][col0 + tile] (ξ-planes `plane` apart): Aᵀ m A per
/// tile, Aᵀ on the rows for a block of tiles at once, then A on the columns.
template <class T>
void transform_output(const ConvGeometry& g, const T* m, index_t ld, index_t plane, index_t col0, T* y) {
  const index_t th = tile_rows(g), tw = tile_cols(g);
  alignas(64) T s[2][4][kTileBlock];
  for (index_t o = 0; o < g.o; ++o) {
    T* yo = y + o * g.h * g.w;
    for (index_t ty = 0; ty < th; ++ty) {
      const index_t oy = 2 * ty;
      for (index_t t0 = 0; t0 < tw; t0 += kTileBlock) {
        const index_t nt = std::min(kTileBlock, tw - t0);
        const T* mk = m + o * ld + col0 + ty * tw + t0;
        for (int b = 0; b < 4; ++b) {
          const T* __restrict m0 = mk + (0 + b) * plane;
          const T* __restrict m1 = mk + (4 + b) * plane;
          const T* __restrict m2 = mk + (8 + b) * plane;
          const T* __restrict m3 = mk + (12 + b) * plane;
          T* __restrict s0 = s[0][b];
          T* __restrict s1 = s[1][b];
          for (index_t k = 0; k < nt; ++k) {
            s0[k] = m0[k] + m1[k] + m2[k];
            s1[k] = m1[k] - m2[k] - m3[k];
          }
        }
        // complete tiles (two output columns each), then the cut-off last one of an odd width
        const index_t full = std::min(nt, g.w / 2 - t0);
        for (int r = 0; r < 2 && oy + r < g.h; ++r) {
          T* __restrict row = yo + (oy + r) * g.w + 2 * t0;
          const T* __restrict a0 = s[r][0];
          const T* __restrict a1 = s[r][1];
          const T* __restrict a2 = s[r][2];
          const T* __restrict a3 = s[r][3];
          for (index_t k = 0; k < full; ++k) {
            row[2 * k] = a0[k] + a1[k] + a2[k];
            row[2 * k + 1] = a1[k] - a2[k] - a3[k];
          }
          if (full < nt) row[2 * full] = a0[full] + a1[full] + a2[full];
        }
      }
    }
  }
}

/// dm[ξ][o][col0 + tile] = (A dY Aᵀ)[ξ] for one image's output gradient dy (O×H×W): the adjoint
/// of transform_output (entries past an odd edge count as zero).
template <class T>
void transform_output_gradient(const ConvGeometry& g, const T* dy, T* dm, index_t ld, index_t plane, index_t col0) {
  const index_t th = tile_rows(g), tw = tile_cols(g);
  alignas(64) T e[2][kTileBlock], f[2][kTileBlock];  // each tile's dY columns: even e, odd f, per row
  for (index_t o = 0; o < g.o; ++o) {
    const T* dyo = dy + o * g.h * g.w;
    for (index_t ty = 0; ty < th; ++ty) {
      const index_t oy = 2 * ty;
      for (index_t t0 = 0; t0 < tw; t0 += kTileBlock) {
        const index_t nt = std::min(kTileBlock, tw - t0), full = std::min(nt, g.w / 2 - t0);
        for (int r = 0; r < 2; ++r) {
          if (oy + r >= g.h) {
            std::fill(e[r], e[r] + nt, T(0));
            std::fill(f[r], f[r] + nt, T(0));
            continue;
          }
          const T* __restrict row = dyo + (oy + r) * g.w + 2 * t0;
          for (index_t k = 0; k < full; ++k) {
            e[r][k] = row[2 * k];
            f[r][k] = row[2 * k + 1];
          }
          if (full < nt) {
            e[r][full] = row[2 * full];
            f[r][full] = T(0);
          }
        }
        T* out = dm + o * ld + col0 + ty * tw + t0;
        // row a of A·dY is c0[a]·(row 0) + c1[a]·(row 1); ·Aᵀ maps each row's pair (p, q) to
        // (p, p + q, p − q, −q)
        static constexpr T c0[4] = {1, 1, 1, 0}, c1[4] = {0, 1, -1, -1};
        for (int a = 0; a < 4; ++a) {
          T* __restrict o0 = out + (a * 4 + 0) * plane;
          T* __restrict o1 = out + (a * 4 + 1) * plane;
          T* __restrict o2 = out + (a * 4 + 2) * plane;
          T* __restrict o3 = out + (a * 4 + 3) * plane;
          for (index_t k = 0; k < nt; ++k) {
            const T p = c0[a] * e[0][k] + c1[a] * e[1][k], q = c0[a] * f[0][k] + c1[a] * f[1][k];
            o0[k] = p;
            o1[k] = p + q;
            o2[k] = p - q;
            o3[k] = -q;
          }
        }
      }
    }
  }
}

/// dw[i] += (Gᵀ du[·][i] G) for the n = O·C kernels, du with 16 rows of n (read a block of
/// each row at a time, for the reason given at kKernelBlock).
template <class T>
void add_kernel_gradient(index_t n, const T* du, T* dw) {
  const index_t blocks = (n + kKernelBlock - 1) / kKernelBlock;
  parallel_for(blocks, 16, [&](index_t b0, index_t b1) {
    alignas(64) T in[16][kKernelBlock], q[3][4][kKernelBlock];
    for (index_t blk = b0; blk < b1; ++blk) {
      const index_t i0 = blk * kKernelBlock, m = std::min(kKernelBlock, n - i0);
      for (int xi = 0; xi < 16; ++xi) std::memcpy(in[xi], du + xi * n + i0, static_cast<std::size_t>(m) * sizeof(T));
      for (int b = 0; b < 4; ++b)  // Gᵀ du: the 3×4 intermediate
        for (index_t k = 0; k < m; ++k) {
          const T u0 = in[0 + b][k], u1 = in[4 + b][k], u2 = in[8 + b][k], u3 = in[12 + b][k];
          q[0][b][k] = u0 + T(0.5) * (u1 + u2);
          q[1][b][k] = T(0.5) * (u1 - u2);
          q[2][b][k] = T(0.5) * (u1 + u2) + u3;
        }
      for (index_t k = 0; k < m; ++k) {  // (Gᵀ du) G, accumulated into the kernel's 9 values
        T* g = dw + (i0 + k) * 9;
        for (int r = 0; r < 3; ++r) {
          const T a = q[r][0][k], b = q[r][1][k], c = q[r][2][k], d = q[r][3][k];
          g[r * 3 + 0] += a + T(0.5) * (b + c);
          g[r * 3 + 1] += T(0.5) * (b - c);
          g[r * 3 + 2] += T(0.5) * (b + c) + d;
        }
      }
    }
  });
}

/// Whether the whole batch is one chunk whose 16 GEMMs are split across the threads, instead of
/// each thread taking a range of images and running all 16 GEMMs on its own tiles. The latter
/// streams every transformed kernel once per chunk and thread, which dominates when the kernels
/// outweigh the tiles (512 channels at 4×4: 16 MiB of kernels for 128 tiles of a batch of 32).
/// Taken when the channels are at least the batch's tiles and the batch's transformed tiles stay
/// within 4M values (on Zen 5, 512 channels at 4×4: 9.3 → 7.6 ms per convolution for a batch of 32,
/// 18 → 14 ms for 64; 256 channels at 8×8, where tiles outnumber channels, got slower).
inline bool split_by_xi(const ConvGeometry& g) {
  const index_t tiles = g.n * tile_rows(g) * tile_cols(g), channels = std::max(g.c, g.o);
  return num_threads() > 1 && channels >= tiles && 16 * channels * tiles <= (index_t(1) << 22);
}

/// y (N×O×H×W) = conv2d(x, w) for transformed kernels u (16 × O×C).
template <class T>
void forward_transformed(const ConvGeometry& g, const T* x, const T* u, T* y) {
  const index_t per = tile_rows(g) * tile_cols(g), in = g.c * g.h * g.w, out = g.o * g.h * g.w, nb = chunk(g);
  if (split_by_xi(g)) {
    const index_t ld = g.n * per, vs = xi_plane_stride<T>(g.c, ld), ms = xi_plane_stride<T>(g.o, ld);
    const std::shared_ptr<T> v = Allocator<Cpu>::allocate<T>(static_cast<std::size_t>(16 * vs));
    const std::shared_ptr<T> m = Allocator<Cpu>::allocate<T>(static_cast<std::size_t>(16 * ms));
    parallel_for(g.n, 1, [&](index_t j0, index_t j1) {
      T* pad = scratch<T>(3, padded_plane_size(g));
      for (index_t i = j0; i < j1; ++i) transform_input(g, x + i * in, pad, v.get(), ld, vs, i * per);
    });
    parallel_for(16, 1, [&](index_t a, index_t b) {
      for (index_t xi = a; xi < b; ++xi)
        gemm(Cpu{}, false, false, g.o, ld, g.c, T(1), u + xi * g.o * g.c, g.c, v.get() + xi * vs, ld, T(0), m.get() + xi * ms, ld);
    });
    parallel_for(g.n, 1, [&](index_t j0, index_t j1) {
      for (index_t i = j0; i < j1; ++i) transform_output(g, m.get(), ld, ms, i * per, y + i * out);
    });
    return;
  }
  for_image_ranges(g.n, [&](index_t i0, index_t i1, int, bool single) {
    if (i0 >= i1) return;
    const index_t cap = std::min(nb, i1 - i0);
    T* v = scratch<T>(0, static_cast<std::size_t>(16 * xi_plane_stride<T>(g.c, cap * per)));
    T* m = scratch<T>(1, static_cast<std::size_t>(16 * xi_plane_stride<T>(g.o, cap * per)));
    for (index_t n0 = i0; n0 < i1; n0 += cap) {
      const index_t b = std::min(cap, i1 - n0), ld = b * per, vs = xi_plane_stride<T>(g.c, ld), ms = xi_plane_stride<T>(g.o, ld);
      auto inputs = [&](index_t j0, index_t j1) {
        T* pad = scratch<T>(3, padded_plane_size(g));
        for (index_t i = j0; i < j1; ++i) transform_input(g, x + (n0 + i) * in, pad, v, ld, vs, i * per);
      };
      for_chunk_images(single, b, inputs);
      for (int xi = 0; xi < 16; ++xi)
        gemm(Cpu{}, false, false, g.o, ld, g.c, T(1), u + xi * g.o * g.c, g.c, v + xi * vs, ld, T(0), m + xi * ms, ld);
      auto outputs = [&](index_t j0, index_t j1) {
        for (index_t i = j0; i < j1; ++i) transform_output(g, m, ld, ms, i * per, y + (n0 + i) * out);
      };
      for_chunk_images(single, b, outputs);
    }
  });
}

/// y (N×O×H×W) = conv2d(x (N×C×H×W), w (O×C×3×3)), stride 1, pad 1. Requires applies(g).
template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, T* y) {
  const std::shared_ptr<T> u = Allocator<Cpu>::allocate<T>(static_cast<std::size_t>(16 * g.o * g.c));
  transform_kernels(g.o, g.c, w, false, u.get());
  forward_transformed(g, x, u.get(), y);
}

/// dx = ∂/∂x (overwritten, when not null) and dw += ∂/∂w (when not null). Requires applies(g).
template <class T>
void conv2d_backward(const ConvGeometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  const index_t oc = g.o * g.c;
  if (dx) {  // dx = conv(dy, flipped kernel with the channels swapped): O inputs, C outputs
    const std::shared_ptr<T> u = Allocator<Cpu>::allocate<T>(static_cast<std::size_t>(16 * oc));
    transform_kernels(g.o, g.c, w, true, u.get());
    forward_transformed(ConvGeometry{g.n, g.o, g.h, g.w, g.c, 3, 3, 1, 1}, dy, u.get(), dx);
  }
  if (!dw) return;
  const index_t per = tile_rows(g) * tile_cols(g), in = g.c * g.h * g.w, out = g.o * g.h * g.w, nb = chunk(g);
  if (split_by_xi(g)) {  // one chunk; each thread owns whole ξ-planes of du, so no partial sums
    const index_t ld = g.n * per, vs = xi_plane_stride<T>(g.c, ld), ms = xi_plane_stride<T>(g.o, ld);
    const std::shared_ptr<T> v = Allocator<Cpu>::allocate<T>(static_cast<std::size_t>(16 * vs));
    const std::shared_ptr<T> dm = Allocator<Cpu>::allocate<T>(static_cast<std::size_t>(16 * ms));
    const std::shared_ptr<T> du = Allocator<Cpu>::allocate<T>(static_cast<std::size_t>(16 * oc));
    parallel_for(g.n, 1, [&](index_t j0, index_t j1) {
      T* pad = scratch<T>(3, padded_plane_size(g));
      for (index_t i = j0; i < j1; ++i) {
        transform_input(g, x + i * in, pad, v.get(), ld, vs, i * per);
        transform_output_gradient(g, dy + i * out, dm.get(), ld, ms, i * per);
      }
    });
    parallel_for(16, 1, [&](index_t a, index_t b) {
      for (index_t xi = a; xi < b; ++xi)
        gemm(Cpu{}, false, true, g.o, g.c, ld, T(1), dm.get() + xi * ms, ld, v.get() + xi * vs, ld, T(0), du.get() + xi * oc, g.c);
    });
    add_kernel_gradient(oc, du.get(), dw);
    return;
  }
  const int max_ranges = std::max(1, num_threads());
  // One du (16 × O×C) per image range, summed after the parallel region.
  const std::shared_ptr<T> du = Allocator<Cpu>::allocate<T>(static_cast<std::size_t>(16 * oc * max_ranges));
  const int ranges = for_image_ranges(g.n, [&](index_t i0, index_t i1, int t, bool single) {
    T* dut = du.get() + static_cast<index_t>(t) * 16 * oc;
    std::fill(dut, dut + 16 * oc, T(0));
    if (i0 >= i1) return;
    const index_t cap = std::min(nb, i1 - i0);
    T* v = scratch<T>(0, static_cast<std::size_t>(16 * xi_plane_stride<T>(g.c, cap * per)));
    T* dm = scratch<T>(1, static_cast<std::size_t>(16 * xi_plane_stride<T>(g.o, cap * per)));
    for (index_t n0 = i0; n0 < i1; n0 += cap) {
      const index_t b = std::min(cap, i1 - n0), ld = b * per, vs = xi_plane_stride<T>(g.c, ld), ms = xi_plane_stride<T>(g.o, ld);
      auto transforms = [&](index_t j0, index_t j1) {
        T* pad = scratch<T>(3, padded_plane_size(g));
        for (index_t i = j0; i < j1; ++i) {
          transform_input(g, x + (n0 + i) * in, pad, v, ld, vs, i * per);
          transform_output_gradient(g, dy + (n0 + i) * out, dm, ld, ms, i * per);
        }
      };
      for_chunk_images(single, b, transforms);
      for (int xi = 0; xi < 16; ++xi)
        gemm(Cpu{}, false, true, g.o, g.c, ld, T(1), dm + xi * ms, ld, v + xi * vs, ld, T(1), dut + xi * oc, g.c);
    }
  });
  T* total = du.get();
  for (int t = 1; t < ranges; ++t) {
    const T* p = du.get() + static_cast<index_t>(t) * 16 * oc;
    parallel_for(16 * oc, 1 << 16, [&](index_t j0, index_t j1) {
      for (index_t j = j0; j < j1; ++j) total[j] += p[j];
    });
  }
  add_kernel_gradient(oc, total, dw);
}

}  // namespace structgan::backend::cpu::winograd
