#pragma once
/// \file The main() of the image training examples, compiled once (image_main.cpp) for all of them:
/// command line → output folder check → data → trainer → run → evaluation of the EMA
/// discriminator beside the untrained one. `--device cuda` runs the same code on
/// Tensor<float, Cuda> when the examples were built with CUDA (cuda_entry.cu), and fails with a
/// clear message otherwise.
#include <string>
#include <vector>

namespace structgan::examples {

/// main() of an image example: `default_preset` and the data sets it accepts. Returns the exit
/// code: 0 done, 1 error, 2 bad command line or device, 3 non-finite loss, 130 Ctrl-C.
int image_example_main(int argc, char** argv, const std::string& default_preset, const std::string& description,
                       const std::vector<std::string>& datasets);

}  // namespace structgan::examples
