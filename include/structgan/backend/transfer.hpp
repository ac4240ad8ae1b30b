#pragma once
/// \file A tensor's values between a device and the host: to_host and to_device. They need only
/// the host's memory and each device's copy_to_host / copy_from_host (backend/contract.hpp), not the
/// CPU kernels, so io/ reads and writes device tensors through them without compiling the backend.
#include <type_traits>

#include "structgan/backend/contract.hpp"
#include "structgan/backend/cpu/memory.hpp"
#include "structgan/core/tensor.hpp"

namespace structgan {

/// The values of x on the host: x itself on the CPU (shared storage), else a copy (one
/// device→host transfer).
template <class T, class D>
Tensor<T, Cpu> to_host(const Tensor<T, D>& x) {
  if constexpr (std::is_same_v<D, Cpu>) return x;
  else {
    Tensor<T, Cpu> h(x.shape());
    copy_to_host(D{}, x.numel(), x.data(), h.data());
    return h;
  }
}

/// The values of a host tensor on device D: x itself for the CPU, else a copy.
template <class D, class T>
Tensor<T, D> to_device(const Tensor<T, Cpu>& x) {
  if constexpr (std::is_same_v<D, Cpu>) return x;
  else {
    Tensor<T, D> d(x.shape());
    copy_from_host(D{}, x.numel(), x.data(), d.data());
    return d;
  }
}

}  // namespace structgan
