#pragma once
/// \file Index plans of the CUDA broadcast and reduction kernels, computed on the host and
/// walked on the device. Plain C++ (host and device under nvcc) so that tests can walk them on the
/// host and compare with direct indexing, without a GPU.
#include <array>

#include "structgan/backend/contract.hpp"  // plan_broadcast, STRUCTGAN_HOST_DEVICE

namespace structgan::backend::cuda {

/// A broadcast seen as merged output dimensions (outermost first) with each operand's stride
/// per dimension (0 where it repeats); the output itself is contiguous.
struct BroadcastIndex {
  int rank = 0;
  index_t size[4]{}, sa[4]{}, sb[4]{};
};

/// The plan of y = op(a, b) for shapes padded to rank 4 (the CPU backend's merged plan).
inline BroadcastIndex plan_broadcast_index(const std::array<index_t, 4>& out, const std::array<index_t, 4>& a,
                                           const std::array<index_t, 4>& b) {
  const BroadcastPlan plan = plan_broadcast(out, a, b);
  BroadcastIndex p;
  p.rank = plan.rank;
  for (int i = 0; i < plan.rank; ++i) {
    p.size[i] = plan.size[i];
    p.sa[i] = plan.sa[i];
    p.sb[i] = plan.sb[i];
  }
  return p;
}

/// The offsets into a and b of output element i.
STRUCTGAN_HOST_DEVICE inline void broadcast_offsets(const BroadcastIndex& p, index_t i, index_t& oa, index_t& ob) {
  oa = 0;
  ob = 0;
  for (int d = p.rank - 1; d >= 0; --d) {
    const index_t k = i % p.size[d];
    i /= p.size[d];
    oa += k * p.sa[d];
    ob += k * p.sb[d];
  }
}

/// A sum over some dimensions of x: the kept dimensions (y's, outermost first) and the reduced
/// ones, each with x's stride; adjacent dimensions are merged where x steps through them evenly.
struct ReducePlan {
  int kept_rank = 0, red_rank = 0;
  index_t kept_size[4]{}, kept_stride[4]{}, red_size[4]{}, red_stride[4]{};
  index_t ny = 1, nr = 1;  ///< outputs, and terms per output
};

/// The plan of y = Σ x over the dimensions where y's padded shape is 1 and x's is not.
inline ReducePlan plan_reduce(const std::array<index_t, 4>& x, const std::array<index_t, 4>& y) {
  ReducePlan p;
  index_t stride[4];
  index_t s = 1;
  for (int d = 3; d >= 0; --d) {
    stride[d] = s;
    s *= x[d];
  }
  auto push = [](int& rank, index_t* size, index_t* str, index_t n, index_t st) {
    if (rank > 0 && str[rank - 1] == st * n) {  // contiguous with the previous (outer) dimension
      size[rank - 1] *= n;
      str[rank - 1] = st;
      return;
    }
    size[rank] = n;
    str[rank] = st;
    ++rank;
  };
  for (int d = 0; d < 4; ++d) {
    if (x[d] == 1) continue;
    if (y[d] == 1) push(p.red_rank, p.red_size, p.red_stride, x[d], stride[d]);
    else push(p.kept_rank, p.kept_size, p.kept_stride, x[d], stride[d]);
  }
  for (int d = 0; d < p.kept_rank; ++d) p.ny *= p.kept_size[d];
  for (int d = 0; d < p.red_rank; ++d) p.nr *= p.red_size[d];
  return p;
}

/// The offset of the i-th element of a group of dimensions (sizes and strides, outermost first).
STRUCTGAN_HOST_DEVICE inline index_t offset_of(index_t i, int rank, const index_t* size, const index_t* stride) {
  index_t off = 0;
  for (int d = rank - 1; d >= 0; --d) {
    off += (i % size[d]) * stride[d];
    i /= size[d];
  }
  return off;
}

}  // namespace structgan::backend::cuda
