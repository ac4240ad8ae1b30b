#pragma once
/// \file CPU 3×3, stride-1, pad-1 convolutions by Winograd's minimal filtering F(m×m, 3×3), m = 4
/// where the map holds a 4×4 tile and m = 2 below that (Lavin & Gray, "Fast Algorithms for
/// Convolutional Neural Networks", CVPR 2016).
///
/// Each m×m output tile is Aᵀ[Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B)]A for the α×α input patches d_c (α = m + 2),
/// so the sum over channels becomes α² GEMMs, one per entry ξ of the transformed tile:
/// M[ξ] (O×tiles) = U[ξ] (O×C) · V[ξ] (C×tiles), computed transposed, Mᵀ[ξ] = Vᵀ[ξ] · U[ξ]ᵀ, with
/// the transformed tiles stored tiles × channels so that the transforms run on vectors across the
/// channels (pad_channels_last turns each NCHW image around first). Per output and channel pair that is α²/m²
/// multiplies where im2col's GEMM does 9: 4 for F(2×2) (2.25× less), 2.25 for F(4×4) (4× less).
/// F(2×2)'s coefficients are 0, ±1 and ±½, so its rounding is that of a direct sum of a few more
/// terms; F(4×4)'s (Lavin's points 0, ±1, ±2: ¼, ⅙, 1/24, 2, 4, 5, 8) amplify rounding: in float,
/// 3e-6 to 1e-5 of the largest output against im2col's 2e-7 to 7e-7 (64–256 channels), the price
/// cuDNN and oneDNN also pay for F(4×4); in double it is far below any test's tolerance
/// (benchmarks/core/test_conv_paths checks both against long double).
///
/// The products run in panel_gemm (panel_gemm.hpp): the forward's on kernels transformed straight
/// into its packed layout, dw's on the transforms' buffers as they are.
///
/// dx is the same convolution of dy with the kernel flipped and its channels swapped; dw runs
/// the forward algebra backwards: dU[ξ] = Σ_tiles (A dY Aᵀ)[ξ] · V[ξ]ᵀ, then dw = Gᵀ dU G (a block
/// of kernels at a time where dU is large and its sums short: kernel_gradient_by_blocks).
/// Threads split the batch as in conv.hpp: each takes a contiguous range of images and runs its
/// transforms and single-threaded GEMMs alone; layers with more channels than the batch has tiles
/// split the α² GEMMs instead (split_by_xi).
#include <algorithm>
#include <cstring>
#include <memory>

#include "structgan/backend/cpu/conv_support.hpp"
#include "structgan/backend/cpu/gemm.hpp"
#include "structgan/backend/cpu/memory.hpp"
#include "structgan/backend/cpu/panel_gemm.hpp"
#include "structgan/backend/cpu/parallel.hpp"
#include "structgan/backend/cpu/transpose.hpp"
#include "structgan/backend/contract.hpp"

// A loop whose iterations are independent (no stores one iteration reads back): vectorize it
// without the compiler's alias checks, which otherwise keep the tile transforms' loops scalar.
#if defined(__clang__)
#define STRUCTGAN_VECTORIZE _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define STRUCTGAN_VECTORIZE _Pragma("GCC ivdep")
#else
#define STRUCTGAN_VECTORIZE
#endif

namespace structgan::backend::cpu::winograd {

/// Whether the Winograd path takes this convolution: 3×3, stride 1, pad 1 (output the input's
/// size), and enough channels on both sides for the GEMMs not to be skinny (the RGB stem and
/// the generator's last layer stay on im2col).
inline bool applies(const ConvGeometry& g) {
  return g.kh == 3 && g.kw == 3 && g.stride == 1 && g.pad_h == 1 && g.pad_w == 1 && g.c >= 16 && g.o >= 16 && g.h >= 2 && g.w >= 2;
}

/// The output tile size m: 4 once the map holds a 4×4 tile (never more GEMM work than m = 2 for
/// any size: 36 per 16 outputs against 16 per 4, cut-off tiles included), else 2.
inline int tile_size(const ConvGeometry& g) { return g.h >= 4 && g.w >= 4 ? 4 : 2; }

/// How F(m×m, 3×3) covers a geometry: m×m output tiles per row and column (the last ones cut
/// off where m does not divide H or W), α² = (m + 2)² transformed values per tile.
struct Tiling {
  index_t m, rows, cols;
  explicit Tiling(const ConvGeometry& g, index_t m_ = 0)
      : m(m_ ? m_ : tile_size(g)), rows((g.h + m - 1) / m), cols((g.w + m - 1) / m) {}
  index_t alpha() const { return m + 2; }
  index_t xi() const { return alpha() * alpha(); }
  index_t per_image() const { return rows * cols; }
  /// Values of one zero-padded input plane covering every tile: (m·rows + 2)·(m·cols + 2).
  std::size_t padded_plane() const { return static_cast<std::size_t>((m * rows + 2) * (m * cols + 2)); }
  /// Values of one output plane of whole tiles: m·rows · m·cols.
  std::size_t tiled_plane() const { return static_cast<std::size_t>(m * rows * m * cols); }
};

/// Images per chunk, so that the transformed tiles of a chunk stay near 256K values per side (1 MiB
/// of floats: a core's L2 here; 1M values measured 5–15% slower per convolution on Zen 4).
inline index_t chunk(const ConvGeometry& g) {
  const Tiling t(g);
  const index_t per_image = std::max<index_t>(1, t.xi() * std::max(g.c, g.o) * t.per_image());
  return std::clamp<index_t>((index_t(1) << 18) / per_image, 1, g.n);
}

/// Images per chunk when the threads split the GEMMs (split_by_xi): the batch in equal chunks
/// whose transformed tiles stay within 2M values per side (F(4×4), 256 channels at 8×8, on Zen 5:
/// 4.7 ms per convolution for a batch of 32 in one chunk, 12 ms for 64 in one).
inline index_t split_chunk(const ConvGeometry& g) {
  const Tiling t(g);
  const index_t per_image = std::max<index_t>(1, t.xi() * std::max(g.c, g.o) * t.per_image());
  const index_t most = std::clamp<index_t>((index_t(1) << 21) / per_image, 1, g.n), chunks = (g.n + most - 1) / most;
  return (g.n + chunks - 1) / chunks;
}

/// Whether chunks of the batch go through the α² GEMMs with the GEMMs split across the threads,
/// instead of each thread taking a range of images and running all of them on its own tiles. The
/// latter streams every transformed kernel once per chunk and thread, which dominates when the
/// kernels outweigh the tiles (512 channels at 4×4: 36 MiB of kernels for 64 tiles of a batch of
/// 64). Taken when the channels are at least a chunk's tiles (on Zen 5, batch 32, F(4×4): 512
/// channels at 4×4 17 → 9 ms per convolution, 256 at 8×8 7.6 → 4.7 ms; F(2×2), 512 at 4×4:
/// 9.3 → 7.6 ms).
inline bool split_by_xi(const ConvGeometry& g) {
  return num_threads() > 1 && std::max(g.c, g.o) >= split_chunk(g) * Tiling(g).per_image();
}

/// The 1-D transforms of F(m, 3) (M = m), each mapping the values d[·] of one row or column.
/// Bᵀ (α×α) on input patches: r = Bᵀ d.
template <int M, class T>
inline void input_1d(const T* d, T* r) {
  if constexpr (M == 2) {
    r[0] = d[0] - d[2];
    r[1] = d[1] + d[2];
    r[2] = d[2] - d[1];
    r[3] = d[1] - d[3];
  } else {
    static_assert(M == 4);
    r[0] = T(4) * d[0] - T(5) * d[2] + d[4];
    r[1] = d[3] + d[4] - T(4) * (d[1] + d[2]);
    r[2] = d[4] - d[3] + T(4) * (d[1] - d[2]);
    r[3] = d[4] - d[2] + T(2) * (d[3] - d[1]);
    r[4] = d[4] - d[2] + T(2) * (d[1] - d[3]);
    r[5] = T(4) * d[1] - T(5) * d[3] + d[5];
  }
}
/// Aᵀ (m×α) on transformed outputs: r = Aᵀ s.
template <int M, class T>
inline void output_1d(const T* s, T* r) {
  if constexpr (M == 2) {
    r[0] = s[0] + s[1] + s[2];
    r[1] = s[1] - s[2] - s[3];
  } else {
    const T p = s[1] + s[2], q = s[1] - s[2], a = s[3] + s[4], b = s[3] - s[4];
    r[0] = s[0] + p + a;
    r[1] = q + T(2) * b;
    r[2] = p + T(4) * a;
    r[3] = q + T(8) * b + s[5];
  }
}
/// A (α×m), the adjoint of output_1d: r = A y.
template <int M, class T>
inline void output_adjoint_1d(const T* y, T* r) {
  if constexpr (M == 2) {
    r[0] = y[0];
    r[1] = y[0] + y[1];
    r[2] = y[0] - y[1];
    r[3] = -y[1];
  } else {
    const T e = y[0] + y[2], o = y[1] + y[3], e4 = y[0] + T(4) * y[2], o8 = T(2) * y[1] + T(8) * y[3];
    r[0] = y[0];
    r[1] = e + o;
    r[2] = e - o;
    r[3] = e4 + o8;
    r[4] = e4 - o8;
    r[5] = y[3];
  }
}
/// G (α×3) on kernel rows or columns: r = G g.
template <int M, class T>
inline void kernel_1d(const T* g, T* r) {
  if constexpr (M == 2) {
    r[0] = g[0];
    r[1] = T(0.5) * (g[0] + g[1] + g[2]);
    r[2] = T(0.5) * (g[0] - g[1] + g[2]);
    r[3] = g[2];
  } else {
    const T s = g[0] + g[2], s4 = g[0] + T(4) * g[2];
    r[0] = T(0.25) * g[0];
    r[1] = T(-1) / T(6) * (s + g[1]);
    r[2] = T(-1) / T(6) * (s - g[1]);
    r[3] = T(1) / T(24) * (s4 + T(2) * g[1]);
    r[4] = T(1) / T(24) * (s4 - T(2) * g[1]);
    r[5] = g[2];
  }
}
/// Gᵀ (3×α), the adjoint of kernel_1d: r = Gᵀ u.
template <int M, class T>
inline void kernel_adjoint_1d(const T* u, T* r) {
  if constexpr (M == 2) {
    r[0] = u[0] + T(0.5) * (u[1] + u[2]);
    r[1] = T(0.5) * (u[1] - u[2]);
    r[2] = T(0.5) * (u[1] + u[2]) + u[3];
  } else {
    const T p = u[1] + u[2], q = u[3] + u[4];
    r[0] = T(0.25) * u[0] - T(1) / T(6) * p + T(1) / T(24) * q;
    r[1] = T(1) / T(6) * (u[2] - u[1]) + T(1) / T(12) * (u[3] - u[4]);
    r[2] = T(1) / T(6) * (q - p) + u[5];
  }
}

/// Kernels per block of the kernel-side transforms. u's α² rows are n values apart; with n a
/// multiple of 1024 that is a multiple of 4 KiB, so writing one kernel's α² values at a time sends
/// α² streams into the same L1 set (measured 29 ns per 512×512 kernel on Zen 5, most of a deep
/// layer's convolution). A block is transformed in L1 and each of its rows written whole.
constexpr index_t kKernelBlock = 64;

/// Transformed kernels of more than this many bytes are written with stores that bypass the
/// caches (stream_copy): the deep layers' 36 planes (38 MB for 512×512 kernels) do not fit in
/// the caches, and plain stores first read every line they write; 512×512 kernels transformed in
/// 2.3 instead of 5.1 ms on the Zen 4 host (docs/performance.md, twenty-first session). Smaller
/// ones stay in cache for the products that read them next.
constexpr std::size_t kStreamedKernelBytes = std::size_t(16) << 20;

/// u[ξ] = (G g Gᵀ)[ξ] for the kernels g(o, c) of a convolution with `outputs` outputs and
/// `inputs` inputs, each ξ-plane packed_kernels(outputs, inputs) values laid out as panel_gemm.hpp's
/// packed kernels (panels of outputs, zero past the last one): g(o, c) is w's kernel (o, c), w being
/// outputs×inputs×3×3, or with `flip` the kernel of dx = conv(dy, ·), w being the forward's
/// inputs×outputs×3×3 weights: g(o, c)[ki][kj] = w(c, o)[2−ki][2−kj].
template <int M, class T>
void transform_kernels(index_t outputs, index_t inputs, const T* w, bool flip, T* u) {
  constexpr int A = M + 2;
  constexpr index_t NR = kernel_panel<T>();
  const index_t n = packed_kernels<T>(outputs, inputs), blocks = (n + kKernelBlock - 1) / kKernelBlock;
  const bool stream = static_cast<std::size_t>(A * A * n) * sizeof(T) > kStreamedKernelBytes;
  parallel_for(blocks, 16, [&](index_t b0, index_t b1) {
    alignas(64) T g[9][kKernelBlock], r[A][3][kKernelBlock], out[A * A][kKernelBlock];
    for (index_t blk = b0; blk < b1; ++blk) {
      const index_t i0 = blk * kKernelBlock, m = std::min(kKernelBlock, n - i0);
      // slot i0 holds output o0 + l, input c (panel_gemm.hpp); step through the slots in order
      index_t o0 = i0 / (inputs * NR) * NR, c = i0 / NR % inputs, l = i0 % NR;
      for (index_t k = 0; k < m; ++k) {
        const index_t o = o0 + l;
        if (o >= outputs) {
          for (int e = 0; e < 9; ++e) g[e][k] = T(0);
        } else if (!flip) {
          const T* src = w + (o * inputs + c) * 9;
          for (int e = 0; e < 9; ++e) g[e][k] = src[e];
        } else {
          const T* src = w + (c * outputs + o) * 9;
          for (int e = 0; e < 9; ++e) g[e][k] = src[8 - e];
        }
        if (++l == NR) {
          l = 0;
          if (++c == inputs) c = 0, o0 += NR;
        }
      }
      for (int j = 0; j < 3; ++j)  // G g: the α×3 intermediate, a kernel column at a time
        for (index_t k = 0; k < m; ++k) {
          const T col[3] = {g[j][k], g[3 + j][k], g[6 + j][k]};
          T res[A];
          kernel_1d<M>(col, res);
          for (int a = 0; a < A; ++a) r[a][j][k] = res[a];
        }
      for (int a = 0; a < A; ++a)  // (G g) Gᵀ
        for (index_t k = 0; k < m; ++k) {
          const T row[3] = {r[a][0][k], r[a][1][k], r[a][2][k]};
          T res[A];
          kernel_1d<M>(row, res);
          for (int b = 0; b < A; ++b) out[a * A + b][k] = res[b];
        }
      for (int xi = 0; xi < A * A; ++xi) {
        if (stream) stream_copy(out[xi], m, u + xi * n + i0);
        else std::memcpy(u + xi * n + i0, out[xi], static_cast<std::size_t>(m) * sizeof(T));
      }
    }
    if (stream) stream_fence();
  });
}

/// The distance between the α² ξ-planes of a transformed buffer of `rows` rows of ld values:
/// rows·ld plus one cache line. Without the line, rows·ld is often a multiple of 4 KiB (256 tiles
/// of 64 channels, …), so a transform's α² writes per tile land in one L1 set and evict each other.
template <class T>
index_t xi_plane_stride(index_t rows, index_t ld) {
  return rows * ld + static_cast<index_t>(64 / sizeof(T));
}

/// Channels handled per pass of the tile transforms: the transforms run on vectors across the
/// channels (the transformed tiles are stored tiles × channels), whose intermediates then live in L1.
/// Vectors across a tile's pixels instead are 2 or 4 wide on the small maps (16×16 and below)
/// of the CPU presets, where that layout spent a quarter of the training step in the transforms.
constexpr index_t kChannelBlock = 64;

/// The separable 2-D transform of one tile for n ≤ kChannelBlock channels at once, which every
/// tile transform here is (Bᵀ d B, Aᵀ m A, A dY Aᵀ): f maps In values to Out (input_1d,
/// output_1d, output_adjoint_1d), first down each of the In columns, then along each of the Out
/// rows of the result. Entry (i, j) of the tile's channel k is in[i·in_row + j·in_col + k], entry
/// (a, b) of the result goes to out[a·out_row + b·out_col + k]; both loops over k vectorize.
template <int In, int Out, class T, class F>
void transform_tile(F&& f, const T* in, index_t in_row, index_t in_col, T* out, index_t out_row, index_t out_col,
                    index_t n) {
  alignas(64) T t[Out][In][kChannelBlock];  // t[a][j][k]: column j after f
  for (int j = 0; j < In; ++j) {
    const T* __restrict ij = in + j * in_col;
    STRUCTGAN_VECTORIZE
    for (index_t k = 0; k < n; ++k) {
      T d[In], r[Out];
      for (int i = 0; i < In; ++i) d[i] = ij[i * in_row + k];
      f(d, r);
      for (int a = 0; a < Out; ++a) t[a][j][k] = r[a];
    }
  }
  for (int a = 0; a < Out; ++a) {
    T* __restrict oa = out + a * out_row;
    STRUCTGAN_VECTORIZE
    for (index_t k = 0; k < n; ++k) {
      T d[In], r[Out];
      for (int j = 0; j < In; ++j) d[j] = t[a][j][k];
      f(d, r);
      for (int b = 0; b < Out; ++b) oa[b * out_col + k] = r[b];
    }
  }
}

/// One image x (C×H×W) into `pad`, channels innermost and zero padded by one:
/// pad[((r + 1)·pw + col + 1)·C + c] = x[c][r][col], pw = m·cols + 2, the rows and columns past
/// the image (up to the last tile's) zero. pad holds Tiling::padded_plane()·C values.
template <int M, class T>
void pad_channels_last(const ConvGeometry& g, const T* x, T* pad) {
  const Tiling tl(g, M);
  const index_t pw = M * tl.cols + 2, ph = M * tl.rows + 2, c = g.c, w = g.w;
  // zero what the image does not cover: the rows above and below it, the columns left and right
  std::fill(pad, pad + pw * c, T(0));
  for (index_t r = 1; r <= g.h; ++r) {
    T* row = pad + r * pw * c;
    std::fill(row, row + c, T(0));
    std::fill(row + (w + 1) * c, row + pw * c, T(0));
  }
  std::fill(pad + (g.h + 1) * pw * c, pad + ph * pw * c, T(0));
  to_channels_last(c, g.h, w, x, g.h * w, ChannelsLast<T>{pad + (pw + 1) * c, pw, c});
}

/// vt[ξ][col0 + tile][c] = (Bᵀ d_c B)[ξ] for every α×α patch d_c of one image, from its
/// pad_channels_last copy; tiles in row-major order, vt's rows C apart and its ξ-planes `plane`
/// apart (xi_plane_stride). Bᵀ acts on the patch's columns, then B on its rows, on vectors of channels.
template <int M, class T>
void transform_input(const ConvGeometry& g, const T* pad, T* vt, index_t plane, index_t col0) {
  constexpr int A = M + 2;
  const Tiling tl(g, M);
  const index_t pw = M * tl.cols + 2, c = g.c;
  for (index_t ty = 0; ty < tl.rows; ++ty)
    for (index_t tx = 0; tx < tl.cols; ++tx) {
      const T* p = pad + (M * ty * pw + M * tx) * c;
      T* out = vt + (col0 + ty * tl.cols + tx) * c;
      for (index_t c0 = 0; c0 < c; c0 += kChannelBlock)
        transform_tile<A, A>([](const T* d, T* r) { input_1d<M>(d, r); }, p + c0, pw * c, c, out + c0, A * plane, plane,
                             std::min(kChannelBlock, c - c0));
    }
}

/// One image's output y (O×H×W) from mt[ξ][col0 + tile][o] (rows O apart, ξ-planes `plane`
/// apart): Aᵀ m A per tile on vectors of channels into yt (whole tiles, channels last: m·rows ×
/// m·cols rows of O), then back to channels first, the last tiles cut off at the image's edge.
template <int M, class T>
void transform_output(const ConvGeometry& g, const T* mt, index_t plane, index_t col0, T* yt, T* y) {
  constexpr int A = M + 2;
  const Tiling tl(g, M);
  const index_t o_count = g.o, yw = M * tl.cols;
  for (index_t ty = 0; ty < tl.rows; ++ty)
    for (index_t tx = 0; tx < tl.cols; ++tx) {
      const T* mk = mt + (col0 + ty * tl.cols + tx) * o_count;
      T* out = yt + (M * ty * yw + M * tx) * o_count;
      for (index_t o0 = 0; o0 < o_count; o0 += kChannelBlock)
        transform_tile<A, M>([](const T* d, T* r) { output_1d<M>(d, r); }, mk + o0, A * plane, plane, out + o0,
                             yw * o_count, o_count, std::min(kChannelBlock, o_count - o0));
    }
  to_channels_first(o_count, g.h, g.w, ChannelsLast<const T>{yt, yw, o_count}, y, g.h * g.w);
}

/// dmt[ξ][col0 + tile][o] = (A dY Aᵀ)[ξ] for one image's output gradient dy (O×H×W): the adjoint
/// of transform_output (entries past a cut-off edge count as zero). et is scratch of the size of
/// transform_output's yt.
template <int M, class T>
void transform_output_gradient(const ConvGeometry& g, const T* dy, T* et, T* dmt, index_t plane, index_t col0) {
  constexpr int A = M + 2;
  const Tiling tl(g, M);
  const index_t o_count = g.o, yw = M * tl.cols, w = g.w;
  if (g.h % M || w % M) std::fill(et, et + M * tl.rows * yw * o_count, T(0));
  to_channels_last(o_count, g.h, w, dy, g.h * w, ChannelsLast<T>{et, yw, o_count});
  for (index_t ty = 0; ty < tl.rows; ++ty)
    for (index_t tx = 0; tx < tl.cols; ++tx) {
      const T* e = et + (M * ty * yw + M * tx) * o_count;
      T* out = dmt + (col0 + ty * tl.cols + tx) * o_count;
      for (index_t o0 = 0; o0 < o_count; o0 += kChannelBlock)
        transform_tile<M, A>([](const T* d, T* r) { output_adjoint_1d<M>(d, r); }, e + o0, yw * o_count, o_count,
                             out + o0, A * plane, plane, std::min(kChannelBlock, o_count - o0));
    }
}

/// dw[k·9 …] += Gᵀ du[·][k] G for m ≤ kKernelBlock consecutive kernels, du's α² rows `plane` apart.
template <int M, class T>
void add_kernel_gradient_run(index_t m, const T* du, index_t plane, T* dw) {
  constexpr int A = M + 2;
  alignas(64) T in[A * A][kKernelBlock], q[3][A][kKernelBlock];
  for (int xi = 0; xi < A * A; ++xi) std::memcpy(in[xi], du + xi * plane, static_cast<std::size_t>(m) * sizeof(T));
  for (int b = 0; b < A; ++b)  // Gᵀ du: the 3×α intermediate
    for (index_t k = 0; k < m; ++k) {
      T col[A], r[3];
      for (int a = 0; a < A; ++a) col[a] = in[a * A + b][k];
      kernel_adjoint_1d<M>(col, r);
      for (int i = 0; i < 3; ++i) q[i][b][k] = r[i];
    }
  for (index_t k = 0; k < m; ++k) {  // (Gᵀ du) G, accumulated into the kernel's 9 values
    T* gk = dw + k * 9;
    for (int i = 0; i < 3; ++i) {
      T row[A], r[3];
      for (int b = 0; b < A; ++b) row[b] = q[i][b][k];
      kernel_adjoint_1d<M>(row, r);
      for (int j = 0; j < 3; ++j) gk[i * 3 + j] += r[j];
    }
  }
}

/// dw[i] += (Gᵀ du[·][i] G) for the n = O·C kernels, du with α² rows of n (read a block of each
/// row at a time, for the reason given at kKernelBlock).
template <int M, class T>
void add_kernel_gradient(index_t n, const T* du, T* dw) {
  const index_t blocks = (n + kKernelBlock - 1) / kKernelBlock;
  parallel_for(blocks, 16, [&](index_t b0, index_t b1) {
    for (index_t blk = b0; blk < b1; ++blk) {
      const index_t i0 = blk * kKernelBlock;
      add_kernel_gradient_run<M>(std::min(kKernelBlock, n - i0), du + i0, n, dw + i0 * 9);
    }
  });
}

/// Runs f(ξ0, ξ1) over the α² GEMMs of a chunk: split across the threads (split_by_xi) or all on
/// this thread.
template <class F>
void for_xi(bool split, index_t xi, F&& f) {
  if (split) parallel_for(xi, 1, f);
  else f(index_t(0), xi);
}

/// y (N×O×H×W) = conv2d(x, w) for transformed kernels u (α² planes, packed as transform_kernels writes them).
template <int M, class T>
void forward_transformed(const ConvGeometry& g, const T* x, const T* u, T* y) {
  const Tiling tl(g, M);
  const index_t per = tl.per_image(), xis = tl.xi(), in = g.c * g.h * g.w, out = g.o * g.h * g.w;
  // images [n0, n0 + b) through buffers v and m (sized for b images)
  auto run = [&](index_t n0, index_t b, T* v, T* m, bool single, bool split) {
    const index_t ld = b * per, vs = xi_plane_stride<T>(ld, g.c), ms = xi_plane_stride<T>(ld, g.o);
    for_chunk_images(single, b, [&](index_t j0, index_t j1) {
      T* pad = scratch<T>(3, tl.padded_plane() * static_cast<std::size_t>(g.c));
      for (index_t i = j0; i < j1; ++i) {
        pad_channels_last<M>(g, x + (n0 + i) * in, pad);
        transform_input<M>(g, pad, v, vs, i * per);
      }
    });
    // Mᵀ[ξ] (tiles×O) = Vᵀ[ξ] (tiles×C) · U[ξ]ᵀ
    for_xi(split, xis, [&](index_t a, index_t e) {
      for (index_t xi = a; xi < e; ++xi)
        panel_gemm(ld, g.o, g.c, v + xi * vs, u + xi * packed_kernels<T>(g.o, g.c),
                   PanelOperands{g.c, 1, g.c, kernel_panel<T>()}, false, m + xi * ms, g.o);
    });
    for_chunk_images(single, b, [&](index_t j0, index_t j1) {
      T* yt = scratch<T>(2, tl.tiled_plane() * static_cast<std::size_t>(g.o));
      for (index_t i = j0; i < j1; ++i) transform_output<M>(g, m, ms, i * per, yt, y + (n0 + i) * out);
    });
  };
  if (split_by_xi(g)) {  // chunks shared by the threads
    const index_t nb = split_chunk(g), ld = nb * per;
    const std::shared_ptr<T> v = Allocator<Cpu>::allocate<T>(static_cast<std::size_t>(xis * xi_plane_stride<T>(ld, g.c)));
    const std::shared_ptr<T> m = Allocator<Cpu>::allocate<T>(static_cast<std::size_t>(xis * xi_plane_stride<T>(ld, g.o)));
    for (index_t n0 = 0; n0 < g.n; n0 += nb) run(n0, std::min(nb, g.n - n0), v.get(), m.get(), false, true);
    return;
  }
  const index_t nb = chunk(g);
  for_image_ranges(g.n, [&](index_t i0, index_t i1, int, bool single) {
    if (i0 >= i1) return;
    const index_t cap = std::min(nb, i1 - i0);
    T* v = scratch<T>(0, static_cast<std::size_t>(xis * xi_plane_stride<T>(cap * per, g.c)));
    T* m = scratch<T>(1, static_cast<std::size_t>(xis * xi_plane_stride<T>(cap * per, g.o)));
    for (index_t n0 = i0; n0 < i1; n0 += cap) run(n0, std::min(cap, i1 - n0), v, m, single, false);
  });
}

/// dw's operands of images [i0, i1) of x and dy: each image's V (transform_input) and dM
/// (transform_output_gradient, the adjoint of the output transform), image i's tiles at column
/// (i − first)·tiles-per-image of v and dm (ξ-planes vs and ms apart); this thread's scratch.
template <int M, class T>
void transform_gradient_operands(const ConvGeometry& g, const T* x, const T* dy, index_t i0, index_t i1, index_t first,
                                 T* v, index_t vs, T* dm, index_t ms) {
  const Tiling tl(g, M);
  const index_t per = tl.per_image(), in = g.c * g.h * g.w, out = g.o * g.h * g.w;
  T* pad = scratch<T>(3, tl.padded_plane() * static_cast<std::size_t>(g.c));
  T* et = scratch<T>(2, tl.tiled_plane() * static_cast<std::size_t>(g.o));
  for (index_t i = i0; i < i1; ++i) {
    pad_channels_last<M>(g, x + i * in, pad);
    transform_input<M>(g, pad, v, vs, (i - first) * per);
    transform_output_gradient<M>(g, dy + i * out, et, dm, ms, (i - first) * per);
  }
}

/// dU (O×C, rows ldu apart) = dMᵀ·V, or dU += dMᵀ·V when `accumulate`, for dM (tiles×O, rows
/// ldm apart) and V (tiles×C, rows ldv apart): panel_gemm over the whole panels of C, Eigen's GEMM
/// over the columns past them.
template <class T>
void add_tile_products(index_t o_count, index_t c_count, index_t tiles, const T* dm, index_t ldm, const T* v, index_t ldv,
                       bool accumulate, T* du, index_t ldu) {
  const index_t whole = c_count / kernel_panel<T>() * kernel_panel<T>();
  if (whole > 0) panel_gemm(o_count, whole, tiles, dm, v, PanelOperands{1, ldm, 1, ldv}, accumulate, du, ldu);
  if (whole < c_count)
    gemm(Cpu{}, true, false, o_count, c_count - whole, tiles, T(1), dm, ldm, v + whole, ldv, accumulate ? T(1) : T(0),
         du + whole, ldu);
}

/// dw goes by blocks of kernels (kernel_gradient_by_blocks) when the batch has at most this many
/// tiles and dU (α²·O·C values) more than kGradientByBlocksBytes: each dU value is then a short sum,
/// and writing dU whole past the caches, then reading it back for Gᵀ dU G, costs more than the
/// products. Zen 4, 2 threads, float, time by blocks / whole (median of 15 pairs; docs/performance.md,
/// twenty-fifth session): 512×512 kernels on 4×4 maps (dU 38 MB) 32 tiles 0.77, 64 tiles 0.90;
/// 256 → 512 (19 MB) 32 tiles 0.65, 64 tiles 0.82; 256×256 on 8×8 (9.4 MB) 16 tiles 0.75, 8 tiles 0.76;
/// but 128×128 on 4×4 (2.4 MB, in cache) 64 tiles 1.10, and 256×256 on 2×2 with F(2×2) (4 MB) 1.05.
constexpr index_t kTilesForGradientByBlocks = 64;
constexpr std::size_t kGradientByBlocksBytes = std::size_t(8) << 20;

/// Output and input channels per block of kernel_gradient_by_blocks: the block's α² planes of dU
/// (36·24·64 floats, 221 KB) and its share of V stay in a core's L2.
constexpr index_t kGradientBlockOutputs = 24, kGradientBlockInputs = 64;

/// Whether dw of a geometry goes by blocks of kernels: GEMMs split by ξ (weight-heavy layers), at
/// most kTilesForGradientByBlocks tiles in the batch, dU over kGradientByBlocksBytes.
template <class T>
bool gradient_by_blocks(const ConvGeometry& g) {
  const Tiling tl(g);
  return split_by_xi(g) && g.n * tl.per_image() <= kTilesForGradientByBlocks &&
         static_cast<std::size_t>(tl.xi() * g.o * g.c) * sizeof(T) > kGradientByBlocksBytes;
}

/// dw += ∂/∂w by blocks of kernels: every image's V and dM first, then for each block of
/// kernels (kGradientBlockOutputs outputs × kGradientBlockInputs inputs) its α² planes of dU and
/// at once Gᵀ dU G, so dU is never written whole. Each dU value is the sum conv2d_backward_tiled's
/// split by ξ takes (over the tiles of each chunk of split_chunk images in order, the chunks added
/// in order), and Gᵀ dU G the same per kernel, so dw has the same bits as on that path.
template <int M, class T>
void kernel_gradient_by_blocks(const ConvGeometry& g, const T* x, const T* dy, T* dw) {
  const Tiling tl(g, M);
  const index_t per = tl.per_image(), xis = tl.xi();
  const index_t ld = g.n * per, vs = xi_plane_stride<T>(ld, g.c), ms = xi_plane_stride<T>(ld, g.o);
  const std::shared_ptr<T> v = Allocator<Cpu>::allocate<T>(static_cast<std::size_t>(xis * vs));
  const std::shared_ptr<T> dm = Allocator<Cpu>::allocate<T>(static_cast<std::size_t>(xis * ms));
  parallel_for(g.n, 1, [&](index_t i0, index_t i1) {
    transform_gradient_operands<M>(g, x, dy, i0, i1, 0, v.get(), vs, dm.get(), ms);
  });
  const index_t nb = split_chunk(g), ob = kGradientBlockOutputs, cb = kGradientBlockInputs;
  const index_t o_blocks = (g.o + ob - 1) / ob, c_blocks = (g.c + cb - 1) / cb;
  // the input blocks outermost: consecutive blocks of a thread share their columns of V
  parallel_for(o_blocks * c_blocks, 1, [&](index_t b0, index_t b1) {
    T* du = scratch<T>(0, static_cast<std::size_t>(xis * ob * cb));
    for (index_t blk = b0; blk < b1; ++blk) {
      const index_t c0 = blk / o_blocks * cb, o0 = blk % o_blocks * ob;
      const index_t oc = std::min(ob, g.o - o0), cc = std::min(cb, g.c - c0);
      for (index_t xi = 0; xi < xis; ++xi)
        for (index_t n0 = 0; n0 < g.n; n0 += nb) {
          const index_t t0 = n0 * per, tiles = std::min(nb, g.n - n0) * per;
          add_tile_products(oc, cc, tiles, dm.get() + xi * ms + t0 * g.o + o0, g.o, v.get() + xi * vs + t0 * g.c + c0, g.c,
                            n0 > 0, du + xi * oc * cc, cc);
        }
      for (index_t i = 0; i < oc; ++i)
        for (index_t j0 = 0; j0 < cc; j0 += kKernelBlock)
          add_kernel_gradient_run<M>(std::min(kKernelBlock, cc - j0), du + i * cc + j0, oc * cc,
                                     dw + ((o0 + i) * g.c + c0 + j0) * 9);
    }
  });
}

/// conv2d_backward for F(m×m); dw by blocks of kernels (kernel_gradient_by_blocks) when `by_blocks`
/// and the GEMMs are split by ξ, else through dU whole (the same bits on both ways).
template <int M, class T>
void conv2d_backward_tiled(const ConvGeometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw, bool by_blocks) {
  const Tiling tl(g, M);
  const index_t oc = g.o * g.c, xis = tl.xi();
  if (dx) {  // dx = conv(dy, flipped kernel with the channels swapped): O inputs, C outputs
    const std::shared_ptr<T> u = Allocator<Cpu>::allocate<T>(static_cast<std::size_t>(xis * packed_kernels<T>(g.c, g.o)));
    transform_kernels<M>(g.c, g.o, w, true, u.get());
    forward_transformed<M>(ConvGeometry{g.n, g.o, g.h, g.w, g.c, 3, 3, 1, 1, 1}, dy, u.get(), dx);
  }
  if (!dw) return;
  if (by_blocks && split_by_xi(g)) {
    kernel_gradient_by_blocks<M>(g, x, dy, dw);
    return;
  }
  const index_t per = tl.per_image();
  // du (α² × O×C) = (du +, when `accumulate`) Σ over images [n0, n0 + b) of their tiles' products
  auto run = [&](index_t n0, index_t b, T* v, T* dm, T* du, bool accumulate, bool single, bool split) {
    const index_t ld = b * per, vs = xi_plane_stride<T>(ld, g.c), ms = xi_plane_stride<T>(ld, g.o);
    for_chunk_images(single, b, [&](index_t j0, index_t j1) {
      transform_gradient_operands<M>(g, x, dy, n0 + j0, n0 + j1, n0, v, vs, dm, ms);
    });
    // dU[ξ] (O×C) += dMᵀ[ξ]ᵀ · Vᵀ[ξ], the sum over the chunk's tiles
    for_xi(split, xis, [&](index_t a, index_t e) {
      for (index_t xi = a; xi < e; ++xi)
        add_tile_products(g.o, g.c, ld, dm + xi * ms, g.o, v + xi * vs, g.c, accumulate, du + xi * oc, g.c);
    });
  };
  if (split_by_xi(g)) {  // each thread owns whole ξ-planes of du, so no partial sums
    const index_t nb = split_chunk(g), ld = nb * per;
    const std::shared_ptr<T> v = Allocator<Cpu>::allocate<T>(static_cast<std::size_t>(xis * xi_plane_stride<T>(ld, g.c)));
    const std::shared_ptr<T> dm = Allocator<Cpu>::allocate<T>(static_cast<std::size_t>(xis * xi_plane_stride<T>(ld, g.o)));
    const std::shared_ptr<T> du = Allocator<Cpu>::allocate<T>(static_cast<std::size_t>(xis * oc));
    for (index_t n0 = 0; n0 < g.n; n0 += nb)
      run(n0, std::min(nb, g.n - n0), v.get(), dm.get(), du.get(), n0 > 0, false, true);
    add_kernel_gradient<M>(oc, du.get(), dw);
    return;
  }
  const index_t nb = chunk(g);
  const int max_ranges = std::max(1, num_threads());
  // One du per image range, summed after the parallel region.
  const std::shared_ptr<T> du = Allocator<Cpu>::allocate<T>(static_cast<std::size_t>(xis * oc * max_ranges));
  const int ranges = for_image_ranges(g.n, [&](index_t i0, index_t i1, int t, bool single) {
    T* dut = du.get() + static_cast<index_t>(t) * xis * oc;
    std::fill(dut, dut + xis * oc, T(0));
    if (i0 >= i1) return;
    const index_t cap = std::min(nb, i1 - i0);
    T* v = scratch<T>(0, static_cast<std::size_t>(xis * xi_plane_stride<T>(cap * per, g.c)));
    T* dm = scratch<T>(1, static_cast<std::size_t>(xis * xi_plane_stride<T>(cap * per, g.o)));
    for (index_t n0 = i0; n0 < i1; n0 += cap) run(n0, std::min(cap, i1 - n0), v, dm, dut, true, single, false);
  });
  T* total = du.get();
  for (int t = 1; t < ranges; ++t) {
    const T* p = du.get() + static_cast<index_t>(t) * xis * oc;
    parallel_for(xis * oc, 1 << 16, [&](index_t j0, index_t j1) {
      for (index_t j = j0; j < j1; ++j) total[j] += p[j];
    });
  }
  add_kernel_gradient<M>(oc, total, dw);
}

template <int M, class T>
void conv2d_backward_tiled(const ConvGeometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  conv2d_backward_tiled<M>(g, x, w, dy, dx, dw, gradient_by_blocks<T>(g));
}

template <int M, class T>
void conv2d_forward_tiled(const ConvGeometry& g, const T* x, const T* w, T* y) {
  const std::shared_ptr<T> u =
      Allocator<Cpu>::allocate<T>(static_cast<std::size_t>(Tiling(g, M).xi() * packed_kernels<T>(g.o, g.c)));
  transform_kernels<M>(g.o, g.c, w, false, u.get());
  forward_transformed<M>(g, x, u.get(), y);
}

/// y (N×O×H×W) = conv2d(x (N×C×H×W), w (O×C×3×3)), stride 1, pad 1. Requires applies(g).
template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, T* y) {
  if (tile_size(g) == 4) conv2d_forward_tiled<4>(g, x, w, y);
  else conv2d_forward_tiled<2>(g, x, w, y);
}

/// dx = ∂/∂x (overwritten, when not null) and dw += ∂/∂w (when not null). Requires applies(g).
template <class T>
void conv2d_backward(const ConvGeometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  if (tile_size(g) == 4) conv2d_backward_tiled<4>(g, x, w, dy, dx, dw);
  else conv2d_backward_tiled<2>(g, x, w, dy, dx, dw);
}

}  // namespace structgan::backend::cpu::winograd
