// A user's program: a training configuration through structgan/train.hpp (structgan::train alone).
#include <structgan/train.hpp>

#include <iostream>

int main() {
  using namespace structgan;
  train::TrainConfig c = train::preset("fashion_mnist");
  train::apply_override(c, "iterations=7");
  train::validate(c);
  const bool ok = c.dataset == "fashion_mnist" && c.iterations == 7;
  std::cout << "preset " << c.dataset << (ok ? " ok" : " FAILED") << "\n";
  return ok ? 0 : 1;
}
