// The image examples on the CUDA backend: the same templates instantiated for Tensor<float, Cuda>.
// Compiled by nvcc only when the example is built with STRUCTGAN_CUDA=ON (see the examples' CMake).
#include "structgan/backend/cuda.hpp"  // first: Eigen stays host code
#include "image_training.hpp"

namespace structgan::examples {
int run_image_training_cuda(const train::CommandLine& cl) {
  std::string why;
  if (!backend::cuda::device_available(&why)) {
    std::fprintf(stderr, "error: --device cuda: no usable CUDA device (%s)\n", why.c_str());
    return 2;
  }
  // TF32 for the float GEMMs as the configuration says (PyTorch's defaults: convolutions only).
  backend::cuda::set_tf32(backend::cuda::Tf32Options{cl.config.cuda_tf32_conv, cl.config.cuda_tf32_matmul});
  return run_image_training<Cuda>(cl);
}
}  // namespace structgan::examples
