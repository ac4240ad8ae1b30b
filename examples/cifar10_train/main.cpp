// CIFAR-10 (and, with --preset cifar100, CIFAR-100) training with the structural adversarial
// objectives: SPEC §5's run (ResNet-18 discriminator, BigGAN-deep generator, batch 512, 1000 epochs),
// then the EMA discriminator evaluated on the test split (SPEC §6). See docs/training.md.
#include "../common/image_main.hpp"

int main(int argc, char** argv) {
  return structgan::examples::image_example_main(argc, argv, "cifar10",
                                                 "Train on CIFAR-10 or CIFAR-100 (structural adversarial objectives)",
                                                 {"cifar10", "cifar100"});
}
