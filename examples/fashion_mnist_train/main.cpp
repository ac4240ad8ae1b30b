// Fashion-MNIST training with the structural adversarial objectives (the main job): a CPU-sized
// ResNet-18 discriminator and BigGAN-deep generator at 16×16 (the 28×28 images resized), trained on
// the train split less 10,000 held-out validation images, then the EMA discriminator's f^b and f~
// evaluated on the held-out images and on the test split (spherical k-means and linear SVM, SPEC §6)
// beside the same network untrained. `--preset fashion_mnist_long` is the longer recipe. See
// docs/training.md and run_main_job.sh.
#include "../common/image_main.hpp"

int main(int argc, char** argv) {
  return structgan::examples::image_example_main(argc, argv, "fashion_mnist",
                                                 "Train on Fashion-MNIST (structural adversarial objectives)",
                                                 {"fashion_mnist"});
}
