// ImageNet-10 training with the structural adversarial objectives: the 128×128 run of SPEC §1/§5
// (ResNet-18 with the duplicated first stage, BigGAN-deep 128 with attention, batch 320, 500 epochs),
// then the EMA discriminator evaluated on the validation split (SPEC §6). See docs/training.md.
#include "../common/image_main.hpp"

int main(int argc, char** argv) {
  return structgan::examples::image_example_main(argc, argv, "imagenet10",
                                                 "Train on ImageNet-10 (structural adversarial objectives)",
                                                 {"imagenet10"});
}
