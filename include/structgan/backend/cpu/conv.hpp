#pragma once
/// \file CPU 2-D convolution. 3×3 stride-1 "same" convolutions with at least 16 channels each
/// side go through Winograd's F(4×4, 3×3) or F(2×2, 3×3) (winograd.hpp); 1×1 convolutions on maps
/// of at least 64 values through products per image in place (pointwise_in_place; in panel_gemm
/// from 64 channels on each side); stride-1 convolutions with few outputs through all their
/// kernel offsets at once and shifted sums (stacked_kernels_in_place); the others through im2col
/// over a chunk of images, then one large GEMM per chunk (small feature maps at the end of a
/// ResNet make per-image GEMMs skinny and slow).
///
/// Threads split the batch: each OpenMP thread takes a contiguous range of images and runs
/// im2col, its GEMMs (single-threaded Eigen) and col2im on them alone, so no GEMM waits on a
/// barrier and each thread's patches stay in its own caches; the weight gradient is summed from
/// per-thread partials. Batches smaller than the thread count fall back to one thread running
/// Eigen's parallel GEMM. Scratch buffers are per thread and only grow: fresh pages cost a page
/// fault each on first touch (several microseconds under a hypervisor), which at these sizes
/// costs more than the arithmetic.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "structgan/backend/cpu/conv_support.hpp"
#include "structgan/backend/cpu/elementwise.hpp"
#include "structgan/backend/cpu/gemm.hpp"
#include "structgan/backend/cpu/panel_gemm.hpp"
#include "structgan/backend/cpu/parallel.hpp"
#include "structgan/backend/cpu/transpose.hpp"
#include "structgan/backend/cpu/winograd.hpp"
#include "structgan/backend/contract.hpp"

namespace structgan {

namespace backend {
namespace cpu {

/// Writes the patches of one image x (C×H×W) as columns [col0, col0 + Ho·Wo) of `col`, whose
/// rows (c, ki, kj) have leading dimension ld.
template <class T>
void im2col(const ConvGeometry& g, const T* x, T* col, index_t ld, index_t col0) {
  const index_t ho = g.ho(), wo = g.wo();
  for (index_t c = 0; c < g.c; ++c)
    for (index_t ki = 0; ki < g.kh; ++ki)
      for (index_t kj = 0; kj < g.kw; ++kj) {
        T* row = col + ((c * g.kh + ki) * g.kw + kj) * ld + col0;
        const T* plane = x + c * g.h * g.w;
        for (index_t oy = 0; oy < ho; ++oy) {
          T* dst = row + oy * wo;
          const index_t iy = oy * g.stride - g.pad_h + ki;
          if (iy < 0 || iy >= g.h) { std::fill(dst, dst + wo, T(0)); continue; }
          const T* src = plane + iy * g.w;
          if (g.stride == 1) {
            // valid ox: 0 <= ox - pad_w + kj < w
            const index_t lo = std::clamp<index_t>(g.pad_w - kj, 0, wo);
            const index_t hi = std::clamp<index_t>(g.w + g.pad_w - kj, lo, wo);
            std::fill(dst, dst + lo, T(0));
            std::memcpy(dst + lo, src + lo - g.pad_w + kj, static_cast<std::size_t>(hi - lo) * sizeof(T));
            std::fill(dst + hi, dst + wo, T(0));
          } else {
            for (index_t ox = 0; ox < wo; ++ox) {
              const index_t ix = ox * g.stride - g.pad_w + kj;
              dst[ox] = (ix >= 0 && ix < g.w) ? src[ix] : T(0);
            }
          }
        }
      }
}

/// The adjoint of im2col: adds the columns back into one image's gradient dx (C×H×W).
template <class T>
void col2im_add(const ConvGeometry& g, const T* col, index_t ld, index_t col0, T* dx) {
  const index_t ho = g.ho(), wo = g.wo();
  for (index_t c = 0; c < g.c; ++c)
    for (index_t ki = 0; ki < g.kh; ++ki)
      for (index_t kj = 0; kj < g.kw; ++kj) {
        const T* row = col + ((c * g.kh + ki) * g.kw + kj) * ld + col0;
        T* plane = dx + c * g.h * g.w;
        // valid ox: 0 <= ox·stride − pad_w + kj < w
        const index_t lo = std::clamp<index_t>((g.pad_w - kj + g.stride - 1) / g.stride, 0, wo);
        const index_t hi = std::clamp<index_t>((g.w + g.pad_w - kj + g.stride - 1) / g.stride, lo, wo);
        for (index_t oy = 0; oy < ho; ++oy) {
          const index_t iy = oy * g.stride - g.pad_h + ki;
          if (iy < 0 || iy >= g.h) continue;
          const T* src = row + oy * wo;
          T* dst = plane + iy * g.w;
          const index_t off = kj - g.pad_w;  // ix = ox·stride + off
          if (g.stride == 1) {
            for (index_t ox = lo; ox < hi; ++ox) dst[ox + off] += src[ox];  // contiguous: vectorized
          } else {
            for (index_t ox = lo; ox < hi; ++ox) dst[ox * g.stride + off] += src[ox];
          }
        }
      }
}

/// Images per chunk so that the column buffer stays near 1M values (a few MB: it is written by
/// im2col and read back by the GEMM right away, so it should stay in the last-level cache).
inline index_t conv_chunk(const ConvGeometry& g) {
  const index_t per_image = std::max<index_t>(1, g.patch() * g.ho() * g.wo());
  return std::clamp<index_t>((index_t(1) << 20) / per_image, 1, g.n);
}

/// y (N×O×Ho×Wo) = conv2d(x (N×C×H×W), w (O×C×kh×kw)) by im2col and GEMM; no bias.
template <class T>
void im2col_conv2d_forward(const ConvGeometry& g, const T* x, const T* w, T* y) {
  const index_t hw = g.ho() * g.wo(), in = g.c * g.h * g.w, nb = cpu::conv_chunk(g);
  cpu::for_image_ranges(g.n, [&](index_t i0, index_t i1, int, bool single) {
    if (i0 >= i1) return;
    const index_t cap = std::min(nb, i1 - i0);
    T* col = cpu::scratch<T>(0, static_cast<std::size_t>(g.patch() * cap * hw));
    T* rows = cpu::scratch<T>(1, static_cast<std::size_t>(g.o * cap * hw));
    for (index_t n0 = i0; n0 < i1; n0 += cap) {
      const index_t b = std::min(cap, i1 - n0), ld = b * hw;
      auto patches = [&](index_t j0, index_t j1) {
        for (index_t i = j0; i < j1; ++i) cpu::im2col(g, x + (n0 + i) * in, col, ld, i * hw);
      };
      for_chunk_images(single, b, patches);
      if (b == 1) {  // one image: the GEMM writes its output directly
        gemm(Cpu{}, false, false, g.o, hw, g.patch(), T(1), w, g.patch(), col, hw, T(0), y + n0 * g.o * hw, hw);
        continue;
      }
      gemm(Cpu{}, false, false, g.o, ld, g.patch(), T(1), w, g.patch(), col, ld, T(0), rows, ld);
      for (index_t i = 0; i < b; ++i)
        for (index_t o = 0; o < g.o; ++o)
          std::memcpy(y + ((n0 + i) * g.o + o) * hw, rows + o * ld + i * hw, static_cast<std::size_t>(hw) * sizeof(T));
    }
  });
}

/// The backward pass of im2col_conv2d_forward (see conv2d_backward).
template <class T>
void im2col_conv2d_backward(const ConvGeometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  const index_t hw = g.ho() * g.wo(), in = g.c * g.h * g.w, nb = cpu::conv_chunk(g);
  const index_t wsize = g.o * g.patch();
  // Per-range weight-gradient partials (range 0 accumulates straight into dw).
  std::vector<T*> partial(static_cast<std::size_t>(std::max(1, cpu::num_threads())), nullptr);
  const int ranges = cpu::for_image_ranges(g.n, [&](index_t i0, index_t i1, int t, bool single) {
    T* dwt = nullptr;
    if (dw) {
      dwt = t == 0 ? dw : cpu::scratch<T>(2, static_cast<std::size_t>(wsize));
      if (t != 0) std::fill(dwt, dwt + wsize, T(0));
      partial[static_cast<std::size_t>(t)] = dwt;
    }
    if (i0 >= i1) return;
    const index_t cap = std::min(nb, i1 - i0);
    T* col = cpu::scratch<T>(0, static_cast<std::size_t>(g.patch() * cap * hw));
    T* rows = cpu::scratch<T>(1, static_cast<std::size_t>(g.o * cap * hw));
    for (index_t n0 = i0; n0 < i1; n0 += cap) {
      const index_t b = std::min(cap, i1 - n0), ld = b * hw;
      const T* dyc = dy + n0 * g.o * hw;  // one image's dy is already the O × HoWo matrix
      if (b > 1) {
        for (index_t i = 0; i < b; ++i)
          for (index_t o = 0; o < g.o; ++o)
            std::memcpy(rows + o * ld + i * hw, dy + ((n0 + i) * g.o + o) * hw, static_cast<std::size_t>(hw) * sizeof(T));
        dyc = rows;
      }
      if (dwt) {
        auto patches = [&](index_t j0, index_t j1) {
          for (index_t i = j0; i < j1; ++i) cpu::im2col(g, x + (n0 + i) * in, col, ld, i * hw);
        };
        for_chunk_images(single, b, patches);
        gemm(Cpu{}, false, true, g.o, g.patch(), ld, T(1), dyc, ld, col, ld, T(1), dwt, g.patch());
      }
      if (dx) {
        gemm(Cpu{}, true, false, g.patch(), ld, g.o, T(1), w, g.patch(), dyc, ld, T(0), col, ld);
        auto scatter = [&](index_t j0, index_t j1) {
          for (index_t i = j0; i < j1; ++i) {
            T* dxi = dx + (n0 + i) * in;
            std::fill(dxi, dxi + in, T(0));
            cpu::col2im_add(g, col, ld, i * hw, dxi);
          }
        };
        for_chunk_images(single, b, scatter);
      }
    }
  });
  if (dw)
    for (int t = 1; t < ranges; ++t) {
      const T* p = partial[static_cast<std::size_t>(t)];
      for (index_t i = 0; i < wsize; ++i) dw[i] += p[i];
    }
}

/// Whether a convolution is 1×1 without stride or padding on images large enough (H·W ≥ 64) for
/// products per image: each image x_i (C × H·W) is already an operand and y_i the result, so the
/// products read and write the tensors in place, where the im2col path copies each chunk of
/// images into columns, and the products (and in the backward dy and dx) between layouts.
/// Smaller maps keep the chunks: there the products per image would be a few columns wide.
inline bool pointwise_in_place(const ConvGeometry& g) {
  return g.kh == 1 && g.kw == 1 && g.stride == 1 && g.pad_h == 0 && g.pad_w == 0 && g.h * g.w >= 64;
}

namespace pointwise {
/// Layers with at least 64 channels on each side run their products in panel_gemm
/// (panel_gemm.hpp): the weights read in place, one image's pixels copied a panel at a time into
/// the layout its register block reads (C·NR values, in L1/L2 for every block of rows). Eigen's
/// GEMM, which the narrower layers keep, packs the whole weight matrix again for every image;
/// panel_gemm ran the generator's 1×1 layers (128 ↔ 512 channels, 8×8 to 32×32 maps) at 1.1–1.2×
/// its speed (docs/performance.md, twenty-first session). It is as fast or faster on narrow layers
/// too, but rounds differently, and the CPU preset's 1×1 layers (16 to 64 channels) keep the rounding
/// that its validation screens and reported figures were made with (docs/training.md).
inline bool in_panels(const ConvGeometry& g) { return std::min(g.c, g.o) >= 64; }

/// Copies columns [j0, j0 + cols) of the rows×ld matrix m into `panel` (rows × NR, zero past cols).
template <class T>
void pack_columns(index_t rows, const T* m, index_t ld, index_t j0, index_t cols, T* panel) {
  constexpr index_t NR = kernel_panel<T>();
  for (index_t k = 0; k < rows; ++k) {
    const T* src = m + k * ld + j0;
    T* dst = panel + k * NR;
    std::copy(src, src + cols, dst);
    std::fill(dst + cols, dst + NR, T(0));
  }
}
/// C (rows × hw, rows ldc = hw apart) [+]= A · B for B (depth × hw, row-major) a panel of columns at a
/// time; A's element (i, k) at a[i·a_row + k·a_depth]. `panel` holds depth·NR values.
template <class T>
void product_by_columns(index_t rows, index_t depth, index_t hw, const T* a, index_t a_row, index_t a_depth, const T* b,
                        bool accumulate, T* c, T* panel) {
  constexpr index_t NR = kernel_panel<T>();
  for (index_t j0 = 0; j0 < hw; j0 += NR) {
    const index_t cols = std::min(NR, hw - j0);
    pack_columns(depth, b, hw, j0, cols, panel);
    panel_gemm(rows, cols, depth, a, panel, PanelOperands{a_row, a_depth, 0, NR}, accumulate, c + j0, hw);
  }
}
}  // namespace pointwise

/// y_i (O × H·W) = W (O × C) · x_i (C × H·W) for every image i.
template <class T>
void pointwise_conv2d_forward(const ConvGeometry& g, const T* x, const T* w, T* y) {
  const index_t hw = g.h * g.w;
  const bool panels = pointwise::in_panels(g);
  for_image_ranges(g.n, [&](index_t i0, index_t i1, int, bool) {
    T* panel = panels ? scratch<T>(0, static_cast<std::size_t>(g.c * kernel_panel<T>())) : nullptr;
    for (index_t i = i0; i < i1; ++i) {
      if (panels) pointwise::product_by_columns(g.o, g.c, hw, w, g.c, 1, x + i * g.c * hw, false, y + i * g.o * hw, panel);
      else gemm(Cpu{}, false, false, g.o, hw, g.c, T(1), w, g.c, x + i * g.c * hw, hw, T(0), y + i * g.o * hw, hw);
    }
  });
}

/// dx_i = Wᵀ·dy_i (overwritten) and dw += Σ_i dy_i·x_iᵀ, one partial sum per image range; in
/// panels, dw's products take x_iᵀ a panel of NR channels at a time (to_channels_last).
template <class T>
void pointwise_conv2d_backward(const ConvGeometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  constexpr index_t NR = kernel_panel<T>();
  const index_t hw = g.h * g.w, wsize = g.o * g.c;
  const bool panels = pointwise::in_panels(g);
  std::vector<T*> partial(static_cast<std::size_t>(std::max(1, num_threads())), nullptr);
  const int ranges = for_image_ranges(g.n, [&](index_t i0, index_t i1, int t, bool) {
    T* dwt = nullptr;
    if (dw) {
      dwt = t == 0 ? dw : scratch<T>(2, static_cast<std::size_t>(wsize));
      if (t != 0) std::fill(dwt, dwt + wsize, T(0));
      partial[static_cast<std::size_t>(t)] = dwt;
    }
    T* panel = panels ? scratch<T>(0, static_cast<std::size_t>(std::max(g.o, hw) * NR)) : nullptr;
    for (index_t i = i0; i < i1; ++i) {
      const T* dyi = dy + i * g.o * hw;
      const T* xi = x + i * g.c * hw;
      if (!panels) {
        if (dwt) gemm(Cpu{}, false, true, g.o, g.c, hw, T(1), dyi, hw, xi, hw, T(1), dwt, g.c);
        if (dx) gemm(Cpu{}, true, false, g.c, hw, g.o, T(1), w, g.c, dyi, hw, T(0), dx + i * g.c * hw, hw);
        continue;
      }
      if (dwt)  // dW[:, c0:c0 + NR] += dy_i · (x_i's channels c0.., channels last)
        for (index_t c0 = 0; c0 < g.c; c0 += NR) {
          const index_t cols = std::min(NR, g.c - c0);
          if (cols < NR) std::fill(panel, panel + hw * NR, T(0));
          to_channels_last(cols, g.h, g.w, xi + c0 * hw, hw, ChannelsLast<T>{panel, g.w, NR});
          panel_gemm(g.o, cols, hw, dyi, panel, PanelOperands{hw, 1, 0, NR}, true, dwt + c0, g.c);
        }
      if (dx) pointwise::product_by_columns(g.c, g.o, hw, w, index_t(1), g.c, dyi, false, dx + i * g.c * hw, panel);
    }
  });
  if (dw)
    for (int t = 1; t < ranges; ++t) {
      const T* p = partial[static_cast<std::size_t>(t)];
      for (index_t i = 0; i < wsize; ++i) dw[i] += p[i];
    }
}

/// Whether a stride-1 convolution with a k×k kernel (k > 1) has so few outputs per kernel offset
/// (O·kh·kw ≤ C) that it is cheaper to multiply each image by all the kernel offsets at once and
/// add the shifted products (stacked_conv2d_forward) than to copy kh·kw shifted copies of the
/// image into columns: G's last convolution (512 → 3 channels, 3×3, at 32×32) wrote and read
/// 19 MB of columns per image for a product of 3 rows. Maps of at least 64 outputs, as
/// pointwise_in_place; Winograd's geometries stay there.
inline bool stacked_kernels_in_place(const ConvGeometry& g) {
  return g.stride == 1 && g.kh * g.kw > 1 && g.o * g.kh * g.kw <= g.c && g.ho() * g.wo() >= 64 && !winograd::applies(g);
}

namespace stacked {
/// The kernels as one (O·kh·kw) × C matrix: row o·kh·kw + k holds w[o, :, k].
template <class T>
std::vector<T> stack_kernels(const ConvGeometry& g, const T* w) {
  const index_t kk = g.kh * g.kw;
  std::vector<T> wr(static_cast<std::size_t>(g.o * kk * g.c));
  for (index_t o = 0; o < g.o; ++o)
    for (index_t c = 0; c < g.c; ++c)
      for (index_t k = 0; k < kk; ++k) wr[std::size_t((o * kk + k) * g.c + c)] = w[(o * g.c + c) * kk + k];
  return wr;
}
/// Calls f(y_row, z_row, len) for each run of outputs of plane o that kernel offset (ky, kx) reaches
/// inside the image: y(oy, ox) pairs with z(oy − pad_h + ky, ox − pad_w + kx).
template <class F>
void for_offset_runs(const ConvGeometry& g, index_t ky, index_t kx, F&& f) {
  const index_t ho = g.ho(), wo = g.wo();
  const index_t ox0 = std::max<index_t>(0, g.pad_w - kx), ox1 = std::min<index_t>(wo, g.w + g.pad_w - kx);
  if (ox1 <= ox0) return;
  for (index_t oy = 0; oy < ho; ++oy) {
    const index_t iy = oy - g.pad_h + ky;
    if (iy < 0 || iy >= g.h) continue;
    f(oy * wo + ox0, iy * g.w + ox0 - g.pad_w + kx, ox1 - ox0);
  }
}
}  // namespace stacked

/// y_i = Σ over kernel offsets k of shift_k(Z_k), Z (O·kh·kw × H·W) = W_stacked · x_i: one GEMM per
/// image on x_i in place, then the kh·kw shifted planes of each output added in offset order.
template <class T>
void stacked_conv2d_forward(const ConvGeometry& g, const T* x, const T* w, T* y) {
  const index_t hw = g.h * g.w, kk = g.kh * g.kw, ohw = g.ho() * g.wo(), rows = g.o * kk;
  const std::vector<T> wr = stacked::stack_kernels(g, w);
  for_image_ranges(g.n, [&](index_t i0, index_t i1, int, bool) {
    T* z = scratch<T>(0, static_cast<std::size_t>(rows * hw));
    for (index_t i = i0; i < i1; ++i) {
      gemm(Cpu{}, false, false, rows, hw, g.c, T(1), wr.data(), g.c, x + i * g.c * hw, hw, T(0), z, hw);
      T* yi = y + i * g.o * ohw;
      std::fill(yi, yi + g.o * ohw, T(0));
      for (index_t o = 0; o < g.o; ++o)
        for (index_t k = 0; k < kk; ++k) {
          const T* zk = z + (o * kk + k) * hw;
          stacked::for_offset_runs(g, k / g.kw, k % g.kw, [&](index_t yo, index_t zo, index_t len) {
            ArrayMap<T>(yi + o * ohw + yo, len) += ConstArrayMap<T>(zk + zo, len);
          });
        }
    }
  });
}

/// dZ_k = shift_kᵀ(dy) (the adjoint of the forward's shifts), then dx_i = W_stackedᵀ·dZ in place
/// (overwritten) and dW_stacked += dZ·x_iᵀ, one partial per image range, added into dw at the end.
template <class T>
void stacked_conv2d_backward(const ConvGeometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  const index_t hw = g.h * g.w, kk = g.kh * g.kw, ohw = g.ho() * g.wo(), rows = g.o * kk, wsize = rows * g.c;
  const std::vector<T> wr = dx ? stacked::stack_kernels(g, w) : std::vector<T>();
  std::vector<T*> partial(static_cast<std::size_t>(std::max(1, num_threads())), nullptr);
  const int ranges = for_image_ranges(g.n, [&](index_t i0, index_t i1, int t, bool) {
    T* dz = scratch<T>(0, static_cast<std::size_t>(rows * hw));
    T* dwt = nullptr;
    if (dw) {
      dwt = scratch<T>(3, static_cast<std::size_t>(wsize));
      std::fill(dwt, dwt + wsize, T(0));
      partial[static_cast<std::size_t>(t)] = dwt;
    }
    for (index_t i = i0; i < i1; ++i) {
      const T* dyi = dy + i * g.o * ohw;
      std::fill(dz, dz + rows * hw, T(0));
      for (index_t o = 0; o < g.o; ++o)
        for (index_t k = 0; k < kk; ++k) {
          T* dzk = dz + (o * kk + k) * hw;
          stacked::for_offset_runs(g, k / g.kw, k % g.kw, [&](index_t yo, index_t zo, index_t len) {
            ArrayMap<T>(dzk + zo, len) = ConstArrayMap<T>(dyi + o * ohw + yo, len);
          });
        }
      if (dwt) gemm(Cpu{}, false, true, rows, g.c, hw, T(1), dz, hw, x + i * g.c * hw, hw, T(1), dwt, g.c);
      if (dx) gemm(Cpu{}, true, false, g.c, hw, rows, T(1), wr.data(), g.c, dz, hw, T(0), dx + i * g.c * hw, hw);
    }
  });
  if (!dw) return;
  for (int t = 0; t < ranges; ++t) {
    const T* p = partial[static_cast<std::size_t>(t)];
    for (index_t o = 0; o < g.o; ++o)
      for (index_t c = 0; c < g.c; ++c)
        for (index_t k = 0; k < kk; ++k) dw[(o * g.c + c) * kk + k] += p[(o * kk + k) * g.c + c];
  }
}

}  // namespace cpu

/// y (N×O×Ho×Wo) = conv2d(x (N×C×H×W), w (O×C×kh×kw)); no bias. Winograd where it applies.
template <class T>
void conv2d_forward(Cpu, const ConvGeometry& g, const T* x, const T* w, T* y) {
  if (cpu::winograd::applies(g)) cpu::winograd::conv2d_forward(g, x, w, y);
  else if (cpu::pointwise_in_place(g)) cpu::pointwise_conv2d_forward(g, x, w, y);
  else if (cpu::stacked_kernels_in_place(g)) cpu::stacked_conv2d_forward(g, x, w, y);
  else cpu::im2col_conv2d_forward(g, x, w, y);
}

/// Given dy (N×O×Ho×Wo): dx (N×C×H×W) = ∂/∂x (when dx is not null; overwritten) and
/// dw (O×C×kh×kw) += ∂/∂w (when dw is not null; accumulated).
template <class T>
void conv2d_backward(Cpu, const ConvGeometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  if (cpu::winograd::applies(g)) cpu::winograd::conv2d_backward(g, x, w, dy, dx, dw);
  else if (cpu::pointwise_in_place(g)) cpu::pointwise_conv2d_backward(g, x, w, dy, dx, dw);
  else if (cpu::stacked_kernels_in_place(g)) cpu::stacked_conv2d_backward(g, x, w, dy, dx, dw);
  else cpu::im2col_conv2d_backward(g, x, w, dy, dx, dw);
}

}  // namespace backend
}  // namespace structgan
