#pragma once
/// \file Moving an image between channels first (C planes of H×W pixels, NCHW's images) and
/// channels last (a row of channels per pixel), in N×N blocks transposed in registers with
/// Eigen's packets (N = 8 floats or 4–8 doubles, depending on the instruction set), so that
/// neither side is read or written one strided value at a time. The Winograd convolution
/// (winograd.hpp) runs its tile transforms on channels-last copies.
#include <algorithm>
#include <type_traits>

#include <Eigen/Core>

#include "structgan/core/shape.hpp"

namespace structgan::backend::cpu {

/// Where the channels-last copy of an H×W image lives: pixel (r, col)'s channels start at
/// base + (r·row + col)·stride, so a copy may sit inside a larger (padded) grid of `row` pixels
/// per row; stride ≥ the channels.
template <class T>
struct ChannelsLast {
  T* base;
  index_t row, stride;
};

namespace detail {
/// The packet of at most 8 values of T that Eigen transposes as an N×N block (scalar T when Eigen
/// is not vectorized).
template <class T>
using TransposePacket = typename Eigen::internal::find_best_packet<T, 8>::type;
template <class T>
constexpr int transpose_width() { return Eigen::internal::unpacket_traits<TransposePacket<T>>::size; }

/// Pixels per group: a cache line of each channel plane (16 floats, 8 doubles), at least one
/// N×N block, so that the channels-first side is read or written a whole line at a time.
template <class T>
constexpr int pixel_group() { return std::max<int>(transpose_width<T>(), 64 / static_cast<int>(sizeof(T))); }

/// Channels moved per sweep over the pixels: all of them for small planes, N for planes of 2 KiB
/// or more, so that only N planes are streamed at once. Planes 2 or 4 KiB apart (16×16 doubles,
/// 32×32 floats) map to one or two L1 sets, and 64 of them streamed together evict each other's
/// lines: 64 float planes of 32×32 took 5–7× the time to channels first, 1.7× to channels last,
/// of sweeps of 8 (Zen 5, benchmarks in docs/performance.md).
template <class T>
index_t channel_sweep(index_t channels, index_t ld) {
  return ld * static_cast<index_t>(sizeof(T)) >= 2048 ? std::min<index_t>(channels, transpose_width<T>()) : channels;
}

/// Visits the h·w pixels in groups of up to L, calling f(p0, n, rows) with the n pixels' rows of
/// channels in cl (pixel p0 + j at rows[j]).
template <int L, class T, class F>
void for_pixel_groups(index_t h, index_t w, const ChannelsLast<T>& cl, F&& f) {
  T* rows[L];
  index_t r = 0, col = 0;
  for (index_t p0 = 0; p0 < h * w; p0 += L) {
    const int n = static_cast<int>(std::min<index_t>(L, h * w - p0));
    for (int j = 0; j < n; ++j) {
      rows[j] = cl.base + (r * cl.row + col) * cl.stride;
      if (++col == w) col = 0, ++r;
    }
    f(p0, n, rows);
  }
}

/// Calls block(c0, p0, rows) for every N×N block of channels [c0, c0 + N) and pixels
/// [p0, p0 + N) (their rows in cl), and one(c, p, row) for each channel and pixel left over, a
/// sweep of channels (channel_sweep, for planes ld values apart) at a time over the pixels in
/// groups (pixel_group).
template <class T, class Block, class One>
void for_transpose_blocks(index_t channels, index_t h, index_t w, index_t ld, const ChannelsLast<T>& cl, Block&& block,
                          One&& one) {
  constexpr int N = transpose_width<std::remove_const_t<T>>(), L = pixel_group<std::remove_const_t<T>>();
  const index_t sweep = channel_sweep<std::remove_const_t<T>>(channels, ld);
  for (index_t s0 = 0; s0 < channels; s0 += sweep) {
    const index_t s1 = std::min(channels, s0 + sweep);
    for_pixel_groups<L>(h, w, cl, [&](index_t p0, int n, T* const* rows) {
      const int blocks = N > 1 ? n / N : 0;  // whole N×N blocks of pixels; the rest one value at a time
      index_t c0 = s0;
      if (blocks > 0)
        for (; c0 + N <= s1; c0 += N)
          for (int q = 0; q < blocks; ++q) block(c0, p0 + q * N, rows + q * N);
      if (c0 < s1)
        for (int j = 0; j < blocks * N; ++j)
          for (index_t c = c0; c < s1; ++c) one(c, p0 + j, rows[j]);
      for (int j = blocks * N; j < n; ++j)
        for (index_t c = s0; c < s1; ++c) one(c, p0 + j, rows[j]);
    });
  }
}
}  // namespace detail

/// dst's pixel (r, col), channel k = src[k·ld + r·w + col] for the channels k < channels: channel
/// planes `ld` values apart (ld ≥ h·w) to channels last.
template <class T>
void to_channels_last(index_t channels, index_t h, index_t w, const T* src, index_t ld, const ChannelsLast<T>& dst) {
  constexpr int N = detail::transpose_width<T>();
  using P = detail::TransposePacket<T>;
  detail::for_transpose_blocks(
      channels, h, w, ld, dst,
      [&](index_t c0, index_t p0, T* const* rows) {
        Eigen::internal::PacketBlock<P, N> b;
        for (int k = 0; k < N; ++k) b.packet[k] = Eigen::internal::ploadu<P>(src + (c0 + k) * ld + p0);
        Eigen::internal::ptranspose(b);
        for (int j = 0; j < N; ++j) Eigen::internal::pstoreu(rows[j] + c0, b.packet[j]);
      },
      [&](index_t c, index_t p, T* row) { row[c] = src[c * ld + p]; });
}

/// dst[k·ld + r·w + col] = src's pixel (r, col), channel k: the inverse of to_channels_last.
template <class T>
void to_channels_first(index_t channels, index_t h, index_t w, const ChannelsLast<const T>& src, T* dst, index_t ld) {
  constexpr int N = detail::transpose_width<T>();
  using P = detail::TransposePacket<T>;
  detail::for_transpose_blocks(
      channels, h, w, ld, src,
      [&](index_t c0, index_t p0, const T* const* rows) {
        Eigen::internal::PacketBlock<P, N> b;
        for (int j = 0; j < N; ++j) b.packet[j] = Eigen::internal::ploadu<P>(rows[j] + c0);
        Eigen::internal::ptranspose(b);
        for (int k = 0; k < N; ++k) Eigen::internal::pstoreu(dst + (c0 + k) * ld + p0, b.packet[k]);
      },
      [&](index_t c, index_t p, const T* row) { dst[c * ld + p] = row[c]; });
}

}  // namespace structgan::backend::cpu
