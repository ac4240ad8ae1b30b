// A user's program: a small MLP discriminator through structgan/nn.hpp (structgan::nn alone).
#include <structgan/nn.hpp>

#include <iostream>

int main() {
  using namespace structgan;
  Rng rng(3);
  nn::MlpStack<float> stack(2, 16, 2, 16, rng);
  const index_t n = nn::parameter_count(stack);
  Var<float> y = stack(Var<float>(randn<float>(Shape{5, 2}, rng)));
  // 2 Linear layers (2→16, 16→16) and 2 GroupNorms (16 scales + 16 shifts each).
  const bool ok = n == (2 * 16 + 16) + (16 * 16 + 16) + 2 * 32 && y.value().shape() == Shape{5, 16};
  std::cout << "parameters " << n << (ok ? " ok" : " FAILED") << "\n";
  return ok ? 0 : 1;
}
