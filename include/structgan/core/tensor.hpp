#pragma once
/// \file Tensor<T, Device>: a dense, contiguous, row-major array of rank 0..4 whose storage is
/// shared between copies (copying a Tensor is cheap; `clone()` copies the data).
#include <cassert>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "structgan/core/device.hpp"
#include "structgan/core/error.hpp"
#include "structgan/core/random.hpp"
#include "structgan/core/shape.hpp"

namespace structgan {

/// A dense tensor of `T` (float or double) on `Device` (Cpu or Cuda). A default-constructed
/// tensor is *undefined* (no storage); it stands for "absent" (e.g. a zero tangent).
template <class T, class Device = Cpu>
class Tensor {
  static_assert(std::is_floating_point_v<T>, "Tensor<T>: T must be float or double");

 public:
  using value_type = T;
  using device_type = Device;

  Tensor() = default;
  /// Uninitialized storage of the given shape.
  explicit Tensor(const Shape& shape)
      : shape_(shape), data_(Allocator<Device>::template allocate<T>(static_cast<std::size_t>(shape.numel()))) {}

  bool defined() const { return static_cast<bool>(data_); }
  explicit operator bool() const { return defined(); }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  index_t numel() const { return shape_.numel(); }
  index_t dim(int i) const { return shape_.dim(i); }
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  /// How many tensors share this storage (a backward pass accumulates in place only when 1).
  long use_count() const { return data_.use_count(); }

  /// The same storage seen with another shape of the same number of elements.
  Tensor reshape(const Shape& s) const {
    require(s.numel() == numel(), "reshape: cannot view ", shape_, " as ", s);
    Tensor t = *this;
    t.shape_ = s;
    return t;
  }

  // ---- host-side conveniences (Cpu only) -----------------------------------------------------
  /// Element access by flat index or by up to four indices (Cpu only; for tests and I/O).
  template <class D = Device, class = std::enable_if_t<std::is_same_v<D, Cpu>>>
  T& operator[](index_t i) { return data_.get()[i]; }
  template <class D = Device, class = std::enable_if_t<std::is_same_v<D, Cpu>>>
  const T& operator[](index_t i) const { return data_.get()[i]; }
  template <class... I, class D = Device, class = std::enable_if_t<std::is_same_v<D, Cpu>>>
  T& at(I... idx) { return data_.get()[offset(idx...)]; }
  template <class... I, class D = Device, class = std::enable_if_t<std::is_same_v<D, Cpu>>>
  const T& at(I... idx) const { return data_.get()[offset(idx...)]; }

  /// Eigen views of the storage (Cpu only): a flat array, or a row-major matrix whose columns
  /// are the last dimension (rows = numel / last dim).
  template <class D = Device, class = std::enable_if_t<std::is_same_v<D, Cpu>>>
  Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> array() { return {data(), numel()}; }
  template <class D = Device, class = std::enable_if_t<std::is_same_v<D, Cpu>>>
  Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> array() const { return {data(), numel()}; }
  using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  template <class D = Device, class = std::enable_if_t<std::is_same_v<D, Cpu>>>
  Eigen::Map<RowMajorMatrix> matrix() {
    const index_t c = rank() == 0 ? 1 : dim(-1);
    return {data(), c == 0 ? 0 : numel() / c, c};
  }
  template <class D = Device, class = std::enable_if_t<std::is_same_v<D, Cpu>>>
  Eigen::Map<const RowMajorMatrix> matrix() const {
    const index_t c = rank() == 0 ? 1 : dim(-1);
    return {data(), c == 0 ? 0 : numel() / c, c};
  }

 private:
  template <class... I>
  index_t offset(I... idx) const {
    static_assert(sizeof...(I) <= 4, "at most 4 indices");
    const index_t ix[] = {static_cast<index_t>(idx)...};
    assert(static_cast<int>(sizeof...(I)) == shape_.rank());
    index_t off = 0;
    for (int i = 0; i < static_cast<int>(sizeof...(I)); ++i) {
      assert(ix[i] >= 0 && ix[i] < shape_[i]);
      off = off * shape_[i] + ix[i];
    }
    return off;
  }

  Shape shape_;
  std::shared_ptr<T> data_;
};

using CpuTensor = Tensor<float, Cpu>;

// ---- construction on the CPU (other devices copy from a host tensor) -------------------------

/// A host tensor filled with `value`.
template <class T>
Tensor<T, Cpu> full(const Shape& s, T value) {
  Tensor<T, Cpu> t(s);
  std::fill(t.data(), t.data() + t.numel(), value);
  return t;
}
template <class T>
Tensor<T, Cpu> zeros(const Shape& s) { return full<T>(s, T(0)); }
template <class T>
Tensor<T, Cpu> ones(const Shape& s) { return full<T>(s, T(1)); }

/// A host tensor holding `values` (row-major); throws if the count does not match the shape.
template <class T>
Tensor<T, Cpu> from_vector(const Shape& s, const std::vector<T>& values) {
  require(static_cast<index_t>(values.size()) == s.numel(), "from_vector: ", values.size(),
          " values for shape ", s);
  Tensor<T, Cpu> t(s);
  if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(T));
  return t;
}

/// A host tensor of independent N(mean, std²) draws from `rng`.
template <class T>
Tensor<T, Cpu> randn(const Shape& s, Rng& rng, double mean = 0.0, double std = 1.0) {
  Tensor<T, Cpu> t(s);
  for (index_t i = 0; i < t.numel(); ++i) t[i] = static_cast<T>(mean + std * rng.normal());
  return t;
}

/// A host tensor of independent Uniform[lo, hi) draws from `rng`.
template <class T>
Tensor<T, Cpu> rand_uniform(const Shape& s, Rng& rng, double lo = 0.0, double hi = 1.0) {
  Tensor<T, Cpu> t(s);
  for (index_t i = 0; i < t.numel(); ++i) t[i] = static_cast<T>(rng.uniform(lo, hi));
  return t;
}

/// The data as a std::vector (host tensors).
template <class T>
std::vector<T> to_vector(const Tensor<T, Cpu>& t) {
  return std::vector<T>(t.data(), t.data() + t.numel());
}

}  // namespace structgan
