#pragma once
/// \file Shape: the dimensions of a dense tensor of rank 0..4 (NCHW for images).
#include <array>
#include <cstdint>
#include <initializer_list>
#include <sstream>
#include <string>

#include "structgan/core/error.hpp"

namespace structgan {

using index_t = std::int64_t;

/// The dimensions of a dense, contiguous, row-major tensor of rank at most 4.
class Shape {
 public:
  static constexpr int max_rank = 4;

  Shape() = default;
  Shape(std::initializer_list<index_t> dims) {
    require(dims.size() <= max_rank, "Shape: rank ", dims.size(), " exceeds ", max_rank);
    for (index_t d : dims) {
      require(d >= 0, "Shape: negative dimension ", d);
      d_[rank_++] = d;
    }
  }
  template <class It>
  static Shape from_range(It first, It last) {
    Shape s;
    for (; first != last; ++first) {
      require(s.rank_ < max_rank, "Shape: rank exceeds ", max_rank);
      require(*first >= 0, "Shape: negative dimension ", *first);
      s.d_[s.rank_++] = static_cast<index_t>(*first);
    }
    return s;
  }

  int rank() const { return rank_; }
  index_t operator[](int i) const { return d_[i]; }
  index_t& operator[](int i) { return d_[i]; }
  /// Dimension i, where a negative i counts from the end.
  index_t dim(int i) const {
    int j = i < 0 ? i + rank_ : i;
    require(j >= 0 && j < rank_, "Shape: axis ", i, " out of range for ", to_string());
    return d_[j];
  }
  index_t numel() const {
    index_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= d_[i];
    return n;
  }
  /// The same dimensions padded on the left with 1s to rank 4 (for broadcasting kernels).
  std::array<index_t, 4> padded4() const {
    std::array<index_t, 4> p{1, 1, 1, 1};
    for (int i = 0; i < rank_; ++i) p[4 - rank_ + i] = d_[i];
    return p;
  }
  friend bool operator==(const Shape& a, const Shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a.d_[i] != b.d_[i]) return false;
    return true;
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }
  std::string to_string() const {
    std::ostringstream os;
    os << '[';
    for (int i = 0; i < rank_; ++i) os << (i ? ", " : "") << d_[i];
    os << ']';
    return os.str();
  }
  friend std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.to_string(); }

 private:
  std::array<index_t, max_rank> d_{0, 0, 0, 0};
  int rank_ = 0;
};

}  // namespace structgan
