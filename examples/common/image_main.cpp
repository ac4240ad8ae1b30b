// The image examples' main(), compiled once into structgan_image_examples: the whole trainer is
// instantiated here (and in cuda_entry.cu for Cuda), not in every example's main.cpp.
#include "image_main.hpp"

#include <malloc.h>

#include <iostream>

#include "image_training.hpp"

namespace structgan::examples {
namespace {
/// glibc: keep freed blocks for reuse instead of returning them to the kernel (every op allocates
/// its output; fresh pages cost a page fault each).
void tune_malloc() {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}
}  // namespace

int image_example_main(int argc, char** argv, const std::string& default_preset, const std::string& description,
                       const std::vector<std::string>& datasets) {
  tune_malloc();
  train::CommandLine cl;
  if (const int rc = train::parse_command_line(argc, argv, default_preset, description, cl, datasets); rc >= 0) return rc;
  try {
    if (cl.config.device == "cuda") {
#if defined(STRUCTGAN_EXAMPLES_WITH_CUDA)
      return run_image_training_cuda(cl);
#else
      std::cerr << "error: --device cuda: this program was built without the CUDA backend (configure with "
                   "-DSTRUCTGAN_CUDA=ON on a machine with nvcc); use --device cpu\n";
      return 2;
#endif
    }
    return run_image_training<Cpu>(cl);
  } catch (const train::NonFiniteError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 3;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace structgan::examples
