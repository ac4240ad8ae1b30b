// The image examples' main(), compiled once into structgan_image_examples: the whole trainer is
// instantiated here (and in cuda_entry.cu for Cuda), not in every example's main.cpp.
#include "image_main.hpp"

#include <iostream>

#include "image_training.hpp"
#include "program.hpp"

namespace structgan::examples {

int image_example_main(int argc, char** argv, const std::string& default_preset, const std::string& description,
                       const std::vector<std::string>& datasets) {
  tune_malloc();
  train::CommandLine cl;
  if (const int rc = train::parse_command_line(argc, argv, default_preset, description, cl, datasets); rc >= 0) return rc;
  return exit_code_of([&] {
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
  });
}

}  // namespace structgan::examples
