#pragma once
/// \file The one exception type of structgan.
#include <sstream>
#include <stdexcept>
#include <string>

namespace structgan {

/// Every failure structgan reports: bad shapes, non-finite values, bad files.
/// The message names the operation (or file) and what was wrong with it.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
inline void append_all(std::ostringstream&) {}
template <class A, class... R>
void append_all(std::ostringstream& os, const A& a, const R&... r) {
  os << a;
  append_all(os, r...);
}
}  // namespace detail

/// A message from its parts, each written with operator<<.
template <class... Parts>
std::string format_message(const Parts&... parts) {
  std::ostringstream os;
  detail::append_all(os, parts...);
  return os.str();
}

/// Builds a message from its parts and throws structgan::Error.
template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  throw Error(format_message(parts...));
}

/// Throws structgan::Error with the message's parts when `condition` is false.
template <class... Parts>
void require(bool condition, const Parts&... parts) {
  if (!condition) fail(parts...);
}

}  // namespace structgan
