// A user's program: clustering accuracy through structgan/eval.hpp (structgan::eval alone).
#include <structgan/eval.hpp>

#include <iostream>

int main() {
  // Clusters 7 and 9 are classes 0 and 1 renamed; one sample of six is misplaced.
  const auto m = structgan::eval::clustering_accuracy({0, 0, 0, 1, 1, 1}, {7, 7, 9, 9, 9, 9});
  const bool ok = m.matched == 5;
  std::cout << "accuracy " << m.accuracy << (ok ? " ok" : " FAILED") << "\n";
  return ok ? 0 : 1;
}
