#pragma once
/// \file The Winograd convolution's products (winograd.hpp) without packing: the forward's
/// Mᵀ[ξ] = Vᵀ[ξ]·U[ξ]ᵀ with the kernel side stored once per convolution in the layout the register
/// block reads, and dw's dU[ξ] += dM[ξ]·V[ξ]ᵀ straight from the transforms' buffers, instead of a
/// general GEMM that copies both sides into its own layout for every product (one image's 64
/// tiles at a time on a 32×32 map). The wide 1×1 convolutions (conv.hpp, pointwise::in_panels)
/// use it too, on one image's pixels copied a panel at a time.
///
/// C (rows×cols) = A·B over `depth`, in blocks of R rows of A by one panel of NR = two packets of
/// columns of B (32 floats with AVX-512, 16 with AVX2): each step of the depth loads the panel's
/// two packets of B and broadcasts one value of A per row, into R×2 packets of accumulators. A is
/// read in place through two strides; B's panels hold NR columns side by side at each depth.
/// Each output is one sum over the depth in order, with fused multiply-adds where the instruction
/// set has them, then added to C when accumulating.
///
/// Packed kernels: U[ξ] (O×C) in panels of NR outputs, panel p holding for each input channel c
/// the NR values U[p·NR + l][c] side by side (zero past O).
#include <algorithm>

#include <Eigen/Core>

#include "structgan/core/shape.hpp"

namespace structgan::backend::cpu {

namespace panel_detail {
template <class T>
using Packet = typename Eigen::internal::packet_traits<T>::type;
template <class T>
constexpr int packet_size() { return Eigen::internal::packet_traits<T>::size; }
}  // namespace panel_detail

/// Columns per panel: two packets.
template <class T>
constexpr index_t kernel_panel() { return 2 * panel_detail::packet_size<T>(); }

/// Values of one packed U[ξ] for o outputs and c inputs: whole panels of kernel_panel() outputs.
template <class T>
index_t packed_kernels(index_t o, index_t c) {
  constexpr index_t nr = kernel_panel<T>();
  return (o + nr - 1) / nr * nr * c;
}

/// How A and B are laid out for panel_gemm: A's element (i, k) at a[i·a_row + k·a_depth]; B's
/// element (k, j) at b[(j − j % NR)·b_panel + k·b_depth + j % NR] (packed kernels: b_panel =
/// depth, b_depth = NR; a row-major matrix with leading dimension ld: b_panel = 1, b_depth = ld).
struct PanelOperands {
  index_t a_row, a_depth, b_panel, b_depth;
};

namespace panel_detail {
/// C's R rows (ldc apart) [+]= A's R rows · B, over every panel of the `cols` columns.
template <class T, int R>
void row_block(index_t cols, index_t depth, const T* a, const T* b, const PanelOperands& s, bool accumulate, T* c,
               index_t ldc) {
  using P = Packet<T>;
  constexpr int W = packet_size<T>();
  constexpr index_t NR = 2 * W;
  for (index_t j0 = 0; j0 < cols; j0 += NR) {
    const T* bp = b + j0 * s.b_panel;
    P acc0[R], acc1[R];
    for (int i = 0; i < R; ++i) acc0[i] = acc1[i] = Eigen::internal::pset1<P>(T(0));
    for (index_t k = 0; k < depth; ++k) {
      const P b0 = Eigen::internal::ploadu<P>(bp + k * s.b_depth), b1 = Eigen::internal::ploadu<P>(bp + k * s.b_depth + W);
      const T* ak = a + k * s.a_depth;
      for (int i = 0; i < R; ++i) {
        const P ai = Eigen::internal::pset1<P>(ak[i * s.a_row]);
        acc0[i] = Eigen::internal::pmadd(ai, b0, acc0[i]);
        acc1[i] = Eigen::internal::pmadd(ai, b1, acc1[i]);
      }
    }
    if (j0 + NR <= cols) {
      for (int i = 0; i < R; ++i) {
        T* ci = c + i * ldc + j0;
        if (accumulate) {
          acc0[i] = Eigen::internal::padd(Eigen::internal::ploadu<P>(ci), acc0[i]);
          acc1[i] = Eigen::internal::padd(Eigen::internal::ploadu<P>(ci + W), acc1[i]);
        }
        Eigen::internal::pstoreu(ci, acc0[i]);
        Eigen::internal::pstoreu(ci + W, acc1[i]);
      }
    } else {  // the last, partial panel (packed kernels only: zero past the last output)
      alignas(64) T lanes[NR];
      for (int i = 0; i < R; ++i) {
        Eigen::internal::pstoreu(lanes, acc0[i]);
        Eigen::internal::pstoreu(lanes + W, acc1[i]);
        T* ci = c + i * ldc + j0;
        for (index_t l = 0; l < cols - j0; ++l) ci[l] = accumulate ? ci[l] + lanes[l] : lanes[l];
      }
    }
  }
}
}  // namespace panel_detail

/// C (rows×cols, rows ldc apart) = A·B, or C += A·B when `accumulate`, over `depth`, for A and B as
/// `s` lays them out. B must hold whole panels (NR columns readable at every depth): packed kernels
/// do; a plain matrix only when cols is a multiple of NR. Single-threaded: the callers split
/// images or ξ-planes across threads.
template <class T>
void panel_gemm(index_t rows, index_t cols, index_t depth, const T* a, const T* b, const PanelOperands& s, bool accumulate,
                T* c, index_t ldc) {
  // rows per register block: R×2 accumulators, two packets of B and a broadcast in the registers
  // (32 with AVX-512, 16 with AVX2 or SSE)
  constexpr int R = panel_detail::packet_size<T>() >= 16 ? 12 : 6, R_tail = 4;
  // With AVX-512 the rows past the blocks of 12 go in blocks of 8 where they can: a block of 4
  // ran at half the speed of one of 8 (58 against 115 GFLOP/s, one Zen 4 core), and rows in
  // multiples of 64 or 32 (channels, a batch's tiles) leave 4 or 8 rows. 12·q + 4 rows are split
  // as 12·(q − 1) + 8 + 8. Each output is the same in-order sum whatever its block.
  index_t whole = rows / R * R;
  if constexpr (R == 12)
    if (rows % R >= 4 && rows % R < 8 && whole >= R) whole -= R;
  index_t i = 0;
  for (; i < whole; i += R)
    panel_detail::row_block<T, R>(cols, depth, a + i * s.a_row, b, s, accumulate, c + i * ldc, ldc);
  if constexpr (R == 12)
    for (; i + 8 <= rows; i += 8)
      panel_detail::row_block<T, 8>(cols, depth, a + i * s.a_row, b, s, accumulate, c + i * ldc, ldc);
  for (; i + R_tail <= rows; i += R_tail)
    panel_detail::row_block<T, R_tail>(cols, depth, a + i * s.a_row, b, s, accumulate, c + i * ldc, ldc);
  for (; i < rows; ++i) panel_detail::row_block<T, 1>(cols, depth, a + i * s.a_row, b, s, accumulate, c + i * ldc, ldc);
}

}  // namespace structgan::backend::cpu
