#pragma once
/// \file Transitional: .npy reading and writing moved to io/npy.hpp (io::read_npy_matrix, ...).
/// Include that instead; this header (an eval/ → io/ arrow the layer rule forbids) goes away once
/// nothing includes it.
#include "structgan/io/npy.hpp"

namespace structgan::eval {
using io::NpyHeader;
using io::NpyType;
using io::read_labels;
using io::read_npy_header;
using io::read_npy_matrix;
using io::write_npy;
using io::write_npy_labels;
}  // namespace structgan::eval
