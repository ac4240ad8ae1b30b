#pragma once
/// \file What every training example's main() does around its work: the allocator setting and
/// the mapping of errors to exit codes (docs/training.md).
#include <malloc.h>

#include <exception>
#include <iostream>

#include "structgan/train/trainer.hpp"

namespace structgan::examples {

/// glibc: keep freed blocks for reuse instead of returning them to the kernel (every op allocates
/// its output; fresh pages cost a page fault each).
inline void tune_malloc() {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

/// Runs body() (which returns the exit code) and turns an escaping error into a message on stderr
/// and an exit code: 3 for a non-finite loss (the last good checkpoint is kept), 1 for any other.
template <class Body>
int exit_code_of(Body&& body) {
  try {
    return body();
  } catch (const train::NonFiniteError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 3;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace structgan::examples
