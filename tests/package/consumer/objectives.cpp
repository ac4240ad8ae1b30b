// A user's program: the objectives' JSON options through structgan/objectives.hpp.
#include <structgan/objectives.hpp>

#include <iostream>

int main() {
  using namespace structgan::objectives;
  ObjectiveOptions o;
  const nlohmann::json j = options_to_json(o);
  const ObjectiveOptions back = options_from_json(j);
  const bool ok = options_to_json(back) == j && !j.empty();
  std::cout << j.size() << " option keys" << (ok ? " ok" : " FAILED") << "\n";
  return ok ? 0 : 1;
}
