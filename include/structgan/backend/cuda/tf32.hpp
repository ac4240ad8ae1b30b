#pragma once
/// \file TF32 on the GPU: whether float GEMMs may round their operands to TensorFloat-32 (10
/// mantissa bits instead of 23) on tensor cores. Convolutions and matrix products (every other
/// GEMM: linear layers, similarity searches) are chosen apart, with PyTorch's defaults:
/// convolutions on (torch.backends.cudnn.allow_tf32 = True), matrix products off
/// (torch.backends.cuda.matmul.allow_tf32 = False). Double is never affected. Host-only code
/// (no GPU needed to choose or test the compute type). docs/cuda.md states the accuracy.
#include <atomic>
#include <type_traits>

#include <cublas_v2.h>

namespace structgan::backend::cuda {

/// Which float GEMMs may use TF32.
struct Tf32Options {
  bool conv = true;     ///< the GEMMs of convolutions (forward and both gradients)
  bool matmul = false;  ///< every other GEMM (backend::gemm: linear layers, matmul ops)
  bool operator==(const Tf32Options& o) const { return conv == o.conv && matmul == o.matmul; }
};

/// What a GEMM computes, which selects the option that applies to it.
enum class GemmUse { matmul, conv };

namespace detail {
inline std::atomic<bool>& tf32_conv_flag() {
  static std::atomic<bool> flag{Tf32Options{}.conv};
  return flag;
}
inline std::atomic<bool>& tf32_matmul_flag() {
  static std::atomic<bool> flag{Tf32Options{}.matmul};
  return flag;
}
}  // namespace detail

/// Sets the process-wide TF32 options (any thread; GEMMs queued afterwards use them).
inline void set_tf32(Tf32Options o) {
  detail::tf32_conv_flag().store(o.conv, std::memory_order_relaxed);
  detail::tf32_matmul_flag().store(o.matmul, std::memory_order_relaxed);
}

/// The process-wide TF32 options (Tf32Options{} until set_tf32 is called).
inline Tf32Options tf32() {
  return Tf32Options{detail::tf32_conv_flag().load(std::memory_order_relaxed),
                     detail::tf32_matmul_flag().load(std::memory_order_relaxed)};
}

/// The cuBLAS compute type of a GEMM on T (float or double) used as `use` under options `o`:
/// CUBLAS_COMPUTE_32F_FAST_TF32 for float where `o` allows TF32 for `use`, else
/// CUBLAS_COMPUTE_32F (full FP32 arithmetic); CUBLAS_COMPUTE_64F for double.
template <class T>
cublasComputeType_t gemm_compute_type(GemmUse use, Tf32Options o = tf32()) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "cuBLAS GEMM on float or double");
  if constexpr (std::is_same_v<T, double>) {
    return CUBLAS_COMPUTE_64F;
  } else {
    const bool allowed = use == GemmUse::conv ? o.conv : o.matmul;
    return allowed ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  }
}

/// RAII: sets TF32 options for a scope and restores the previous ones (tests; not thread-local).
class Tf32Scope {
 public:
  explicit Tf32Scope(Tf32Options o) : saved_(tf32()) { set_tf32(o); }
  Tf32Scope(const Tf32Scope&) = delete;
  Tf32Scope& operator=(const Tf32Scope&) = delete;
  ~Tf32Scope() { set_tf32(saved_); }

 private:
  Tf32Options saved_;
};

}  // namespace structgan::backend::cuda
