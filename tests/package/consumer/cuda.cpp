// A user's program: structgan::cuda's host side in plain C++ (the device query); without a GPU it
// says why and still succeeds, since what is tested here is that the component links.
#include <structgan/backend/cuda/runtime.hpp>

#include <iostream>
#include <string>

int main() {
  namespace cu = structgan::backend::cuda;
  std::string why;
  const bool gpu = cu::device_available(&why);
  std::cout << (gpu ? "device " + cu::device_name() : "no device (" + why + ")") << " ok\n";
  return 0;
}
