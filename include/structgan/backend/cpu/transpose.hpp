#pragma once
/// \file Moving an image between channels first (C planes of H×W pixels, NCHW's images) and
/// channels last (a row of channels per pixel), in N×N blocks transposed in registers with
/// Eigen's packets (N = 8 floats or 4–8 doubles, depending on the instruction set), so that
/// neither side is read or written one strided value at a time. The Winograd convolution
/// (winograd.hpp) runs its tile transforms on channels-last copies.
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

/// Visits the h·w pixels in blocks of up to N, calling f(p0, n, rows) with the n pixels' rows of
/// channels in dst (pixel p0 + j at rows[j]).
template <int N, class T, class F>
void for_pixel_blocks(index_t h, index_t w, const ChannelsLast<T>& dst, F&& f) {
  T* rows[N];
  index_t r = 0, col = 0;
  for (index_t p0 = 0; p0 < h * w; p0 += N) {
    const int n = static_cast<int>(std::min<index_t>(N, h * w - p0));
    for (int j = 0; j < n; ++j) {
      rows[j] = dst.base + (r * dst.row + col) * dst.stride;
      if (++col == w) col = 0, ++r;
    }
    f(p0, n, rows);
  }
}
}  // namespace detail

/// dst's pixel (r, col), channel k = src[k·ld + r·w + col] for the channels k < channels: channel
/// planes `ld` values apart (ld ≥ h·w) to channels last.
template <class T>
void to_channels_last(index_t channels, index_t h, index_t w, const T* src, index_t ld, const ChannelsLast<T>& dst) {
  constexpr int N = detail::transpose_width<T>();
  using P = detail::TransposePacket<T>;
  detail::for_pixel_blocks<N>(h, w, dst, [&](index_t p0, int n, T* const* rows) {
    index_t c0 = 0;
    if constexpr (N > 1)
      if (n == N)
        for (; c0 + N <= channels; c0 += N) {
          Eigen::internal::PacketBlock<P, N> b;
          for (int k = 0; k < N; ++k) b.packet[k] = Eigen::internal::ploadu<P>(src + (c0 + k) * ld + p0);
          Eigen::internal::ptranspose(b);
          for (int j = 0; j < N; ++j) Eigen::internal::pstoreu(rows[j] + c0, b.packet[j]);
        }
    for (; c0 < channels; ++c0)
      for (int j = 0; j < n; ++j) rows[j][c0] = src[c0 * ld + p0 + j];
  });
}

/// dst[k·ld + r·w + col] = src's pixel (r, col), channel k: the inverse of to_channels_last.
template <class T>
void to_channels_first(index_t channels, index_t h, index_t w, const ChannelsLast<const T>& src, T* dst, index_t ld) {
  constexpr int N = detail::transpose_width<T>();
  using P = detail::TransposePacket<T>;
  detail::for_pixel_blocks<N>(h, w, src, [&](index_t p0, int n, const T* const* rows) {
    index_t c0 = 0;
    if constexpr (N > 1)
      if (n == N)
        for (; c0 + N <= channels; c0 += N) {
          Eigen::internal::PacketBlock<P, N> b;
          for (int j = 0; j < N; ++j) b.packet[j] = Eigen::internal::ploadu<P>(rows[j] + c0);
          Eigen::internal::ptranspose(b);
          for (int k = 0; k < N; ++k) Eigen::internal::pstoreu(dst + (c0 + k) * ld + p0, b.packet[k]);
        }
    for (; c0 < channels; ++c0)
      for (int j = 0; j < n; ++j) dst[c0 * ld + p0 + j] = rows[j][c0];
  });
}

}  // namespace structgan::backend::cpu
