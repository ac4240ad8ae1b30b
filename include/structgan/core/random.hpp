#pragma once
/// \file The one random number generator of structgan: seeded, serializable, reproducible.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>

namespace structgan {

/// A seeded 64-bit Mersenne Twister with the draws the library needs. The same seed gives the
/// same sequence on every machine (the distributions are written here, not taken from <random>,
/// whose normal_distribution differs between standard libraries).
class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) : engine_(seed) {}
  void seed(std::uint64_t s) { engine_.seed(s); has_spare_ = false; }
  std::uint64_t next_u64() { return engine_(); }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n) {
    // Lemire-free simple rejection: unbiased.
    const std::uint64_t limit = ~std::uint64_t(0) - (~std::uint64_t(0) % n);
    std::uint64_t x;
    do x = engine_(); while (x >= limit);
    return x % n;
  }
  /// Standard normal (Marsaglia polar method).
  double normal() {
    if (has_spare_) { has_spare_ = false; return spare_; }
    double u, v, s;
    do {
      u = uniform() * 2.0 - 1.0;
      v = uniform() * 2.0 - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double m = std::sqrt(-2.0 * std::log(s) / s);
    spare_ = v * m;
    has_spare_ = true;
    return u * m;
  }
  /// The whole state as text (for checkpoints), and back.
  std::string state() const {
    std::ostringstream os;
    os << engine_ << ' ' << has_spare_ << ' ' << std::hexfloat << spare_;
    return os.str();
  }
  void set_state(const std::string& s) {
    // Parsed into temporaries first, so a malformed string leaves the generator unchanged. The
    // spare normal goes through strtod: libstdc++'s `is >> std::hexfloat >> d` does not parse hex
    // floats (it reads "-0x1.8p-3" as -0 and stops), which lost the spare draw.
    std::istringstream is(s);
    std::mt19937_64 engine;
    bool has_spare = false;
    std::string spare_text;
    is >> engine >> has_spare >> spare_text;
    char* end = nullptr;
    const double spare = is ? std::strtod(spare_text.c_str(), &end) : 0.0;
    if (!is || end == spare_text.c_str() || *end != '\0') throw std::runtime_error("Rng::set_state: malformed state string");
    engine_ = engine;
    has_spare_ = has_spare;
    spare_ = spare;
  }

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace structgan
