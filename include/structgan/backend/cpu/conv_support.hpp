#pragma once
/// \file What the CPU convolutions (im2col in conv.hpp, Winograd in winograd.hpp) share: the
/// geometry, per-thread scratch buffers, and the split of a batch across OpenMP threads.
#include <algorithm>
#include <memory>

#include "structgan/backend/contract.hpp"
#include "structgan/backend/cpu/parallel.hpp"
#include "structgan/core/shape.hpp"

namespace structgan {

namespace backend::cpu {

/// A per-thread buffer of T that only grows (uninitialized; 64-byte aligned). Slot i of thread t
/// is private to t, so parallel regions use them without locks; the memory lives as long as the
/// thread (OpenMP's pool threads persist), which is what saves the page faults.
template <class T>
T* scratch(int slot, std::size_t n) {
  struct Buffer {
    std::unique_ptr<T[]> p;
    std::size_t n = 0;
  };
  thread_local Buffer buffers[4];
  Buffer& b = buffers[slot];
  if (n > b.n) {
    b.p.reset();
    b.p.reset(new T[n]);
    b.n = n;
  }
  return b.p.get();
}

/// Runs body(i0, i1, single) on contiguous ranges of the n images: one range per OpenMP thread
/// when there are at least as many images as threads (single = true: the thread runs
/// single-threaded GEMMs), else all of them on the calling thread (single = false: Eigen's
/// GEMM may use the threads). Returns the number of ranges.
template <class F>
int for_image_ranges(index_t n, F&& body) {
#ifdef _OPENMP
  const int threads = num_threads();
  if (threads > 1 && n >= threads && !omp_in_parallel()) {
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      body(n * t / nt, n * (t + 1) / nt, t, true);
    }
    return threads;
  }
#endif
  body(index_t(0), n, 0, false);
  return 1;
}

/// Runs f(j0, j1) over the b images of a chunk: all on this thread when it owns an image range of
/// for_image_ranges (single), else split across the threads.
template <class F>
void for_chunk_images(bool single, index_t b, F&& f) {
  if (single) f(index_t(0), b);
  else parallel_for(b, 1, f);
}

}  // namespace backend::cpu
}  // namespace structgan
