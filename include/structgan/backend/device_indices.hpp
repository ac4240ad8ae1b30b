#pragma once
/// \file Row indices kept in a device's memory: what the top-k selection writes and the row gathers
/// read, so that the kNN search of a training step never brings indices to the host (issue #24).
/// Tensor<T, D> holds float or double only; this is its index_t counterpart, a rows × cols
/// row-major matrix, with explicit transfers (`to_host`, `DeviceIndices<D>::from_host`) that a
/// device counts as it counts a tensor's.
#include <memory>
#include <vector>

#include "structgan/backend/contract.hpp"
#include "structgan/backend/cpu/memory.hpp"
#include "structgan/core/error.hpp"

namespace structgan {

/// A rows × cols matrix of index_t in device D's memory (shared storage, like Tensor: copies of a
/// DeviceIndices share their values). Fresh storage is uninitialized.
template <class D>
class DeviceIndices {
 public:
  DeviceIndices() = default;
  DeviceIndices(index_t rows, index_t cols) : rows_(rows), cols_(cols) {
    require(rows >= 0 && cols >= 0, "DeviceIndices: ", rows, "×", cols, " is not a shape");
    data_ = Allocator<D>::template allocate<index_t>(static_cast<std::size_t>(rows * cols));
  }
  /// The host values (row-major, rows·cols of them) copied to the device: one host→device transfer.
  static DeviceIndices from_host(index_t rows, index_t cols, const std::vector<index_t>& host) {
    require(static_cast<index_t>(host.size()) == rows * cols, "DeviceIndices::from_host: ", host.size(), " indices for ",
            rows, "×", cols);
    DeviceIndices d(rows, cols);
    copy_from_host(D{}, rows * cols, host.data(), d.data());
    return d;
  }

  bool defined() const { return data_ != nullptr; }
  index_t rows() const { return rows_; }
  index_t cols() const { return cols_; }
  index_t size() const { return rows_ * cols_; }
  index_t* data() const { return data_.get(); }

 private:
  index_t rows_ = 0, cols_ = 0;
  std::shared_ptr<index_t> data_;
};

/// The values of x on the host, row-major (one device→host transfer where D's memory is not the
/// host's; an undefined x gives none).
template <class D>
std::vector<index_t> to_host(const DeviceIndices<D>& x) {
  std::vector<index_t> h(static_cast<std::size_t>(x.size()));
  if (x.size() > 0) copy_to_host(D{}, x.size(), x.data(), h.data());
  return h;
}

}  // namespace structgan
