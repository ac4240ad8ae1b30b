#pragma once
/// \file The merge step of a blocked top-k selection, shared by the CPU and CUDA backends'
/// `topk_merge_rows` (backend/contract.hpp): one row's best list and a block's sorted candidates
/// become the row's new best list, in place, without scratch memory (a GPU thread runs it per row).
#include "structgan/backend/contract.hpp"

namespace structgan::backend::selection {

/// Whether (va, ia) ranks before (vb, ib): larger value first, ties to the smaller index.
template <class T>
STRUCTGAN_HOST_DEVICE inline bool ranks_before(T va, index_t ia, T vb, index_t ib) {
  return va > vb || (va == vb && ia < ib);
}

/// a (na entries, sorted) becomes the first min(k, na + nb) entries of a ∪ b, b's nb sorted
/// entries taking index + b_offset. Two passes: forward to count how many entries of each list
/// the result keeps, then backward writing each position from the back, so that no entry of a is
/// overwritten before it is read. Every entry written is one of the inputs, whatever the values
/// (NaN included), so the indices stay candidates.
template <class T>
STRUCTGAN_HOST_DEVICE void merge_topk_row(index_t k, index_t na, T* av, index_t* ai, index_t nb, const T* bv,
                                          const index_t* bi, index_t b_offset) {
  const index_t r = na + nb < k ? na + nb : k;
  index_t ta = 0, tb = 0;
  while (ta + tb < r) {
    if (tb < nb && (ta >= na || ranks_before(bv[tb], bi[tb] + b_offset, av[ta], ai[ta]))) ++tb;
    else ++ta;
  }
  while (tb > 0) {
    const index_t p = ta + tb - 1;
    if (ta > 0 && ranks_before(bv[tb - 1], bi[tb - 1] + b_offset, av[ta - 1], ai[ta - 1])) {
      av[p] = av[ta - 1];
      ai[p] = ai[ta - 1];
      --ta;
    } else {
      av[p] = bv[tb - 1];
      ai[p] = bi[tb - 1] + b_offset;
      --tb;
    }
  }
}

}  // namespace structgan::backend::selection
