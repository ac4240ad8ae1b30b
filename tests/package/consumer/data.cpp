// A user's program: the double spiral through structgan/data.hpp (structgan::data alone).
#include <structgan/data.hpp>

#include <iostream>

int main() {
  const auto s = structgan::data::make_double_spiral(100, 1);
  int ones = 0;
  for (int l : s.labels) ones += l;
  const bool ok = s.size() == 100 && s.points.rows() == 100 && ones == 50;
  std::cout << "spiral " << s.size() << " points" << (ok ? " ok" : " FAILED") << "\n";
  return ok ? 0 : 1;
}
