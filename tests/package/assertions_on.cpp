// Built with structgan_dev when STRUCTGAN_ASSERTIONS is ON: assert() must be live in every build type.
#include <cassert>

int main() {
#ifdef NDEBUG
  return 1;  // -DNDEBUG of the build type was not undone
#else
  int fired = 0;
  assert(++fired);  // evaluated only when assertions are live
  return fired == 1 ? 0 : 1;
#endif
}
