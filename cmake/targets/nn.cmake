# structgan::nn — modules, the ResNet discriminator, the BigGAN generator, optimizers and the EMA
# (include/structgan/nn/). Needs nothing beyond structgan::structgan; a target of its own so that
# a consumer names the component it uses (find_package(structgan COMPONENTS nn)).
add_library(structgan_nn INTERFACE)
add_library(structgan::nn ALIAS structgan_nn)
target_link_libraries(structgan_nn INTERFACE structgan::structgan)
