// A user's program: the gradient of a tiny network through the installed headers.
#include <structgan/structgan.hpp>

#include <cmath>
#include <iostream>

int main() {
  using namespace structgan;
  Rng rng(7);
  Var<double> x(randn<double>(Shape{4, 3}, rng), true);
  Var<double> w(randn<double>(Shape{2, 3}, rng), true);
  Var<double> loss = mean_all(elu(matmul(x, w, false, true)));
  backward(loss);
  const bool ok = x.grad().defined() && w.grad().defined() && std::isfinite(loss.value()[0]);
  std::cout << "loss " << loss.value()[0] << (ok ? " ok" : " FAILED") << "\n";
  return ok ? 0 : 1;
}
