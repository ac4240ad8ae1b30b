#pragma once
/// \file Reading and writing NumPy .npy files (float32/float64 feature matrices, int labels) and label files;
/// writing goes through io::write_file_atomically. Format: https://numpy.org/neps/nep-0001-npy-format.html (versions 1.0 and 2.0, little endian, C order).
#include <Eigen/Core>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "structgan/core/error.hpp"
#include "structgan/core/row_matrix.hpp"
#include "structgan/io/atomic_file.hpp"

namespace structgan::io {

/// Element types this reader understands.
enum class NpyType { float32, float64, int32, int64 };

/// The parsed header of a .npy file.
struct NpyHeader {
  NpyType type = NpyType::float32;
  std::vector<std::uint64_t> shape;  ///< () is a scalar (one element)
  std::uint64_t elements = 1;        ///< product of shape
  std::uint64_t data_offset = 0;     ///< bytes before the data
  int major_version = 1;
};

inline std::size_t npy_item_size(NpyType t) {
  return (t == NpyType::float32 || t == NpyType::int32) ? 4 : 8;
}

namespace detail {

// A small parser for the header's Python dict literal: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class NpyDictParser {
 public:
  NpyDictParser(const std::string& text, const std::string& file) : s_(text), file_(file) {}
  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_order = false, have_shape = false;
    skip();
    expect('{');
    while (true) {
      skip();
      if (peek() == '}') {
        ++pos_;
        break;
      }
      const std::string key = string_literal();
      skip();
      expect(':');
      skip();
      if (key == "descr") {
        require(!have_descr, bad("duplicate key 'descr'"));
        have_descr = true;
        const std::string d = string_literal();
        if (d == "<f4" || (d == "=f4" && host_is_little_endian())) h.type = NpyType::float32;
        else if (d == "<f8" || (d == "=f8" && host_is_little_endian())) h.type = NpyType::float64;
        else if (d == "<i4" || (d == "=i4" && host_is_little_endian())) h.type = NpyType::int32;
        else if (d == "<i8" || (d == "=i8" && host_is_little_endian())) h.type = NpyType::int64;
        else if (!d.empty() && d[0] == '>') fail(bad("big-endian dtype '" + d + "' is not supported"));
        else fail(bad("unsupported dtype '" + d + "' (expected <f4, <f8, <i4 or <i8)"));
      } else if (key == "fortran_order") {
        require(!have_order, bad("duplicate key 'fortran_order'"));
        have_order = true;
        if (s_.compare(pos_, 5, "False") == 0) pos_ += 5;
        else if (s_.compare(pos_, 4, "True") == 0) fail(bad("fortran_order True (column-major) is not supported"));
        else fail(bad("fortran_order is neither True nor False"));
      } else if (key == "shape") {
        require(!have_shape, bad("duplicate key 'shape'"));
        have_shape = true;
        h.shape = shape_tuple();
      } else {
        fail(bad("unexpected key '" + key + "'"));
      }
      if (!comma_or('}')) break;
    }
    skip();
    require(pos_ == s_.size(), bad("trailing characters after the dict"));
    require(have_descr && have_order && have_shape, bad("missing one of 'descr', 'fortran_order', 'shape'"));
    h.elements = 1;
    for (std::uint64_t dim : h.shape) {
      if (dim != 0 && h.elements > std::numeric_limits<std::uint64_t>::max() / dim)
        fail(bad("shape's element count overflows"));
      h.elements *= dim;
    }
    if (h.elements > std::numeric_limits<std::uint64_t>::max() / npy_item_size(h.type))
      fail(bad("shape's byte size overflows"));
    return h;
  }

 private:
  std::string bad(const std::string& what) const { return "read_npy: " + file_ + ": bad header: " + what; }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  // After an item: true past a ',' (another item may follow), false past the closing `close`.
  bool comma_or(char close) {
    skip();
    if (peek() == ',') {
      ++pos_;
      return true;
    }
    expect(close);
    return false;
  }
  void expect(char c) {
    require(peek() == c, bad(std::string("expected '") + c + "' at offset " + std::to_string(pos_)));
    ++pos_;
  }
  std::string string_literal() {
    const char q = peek();
    require(q == '\'' || q == '"', bad("expected a quoted string at offset " + std::to_string(pos_)));
    const std::size_t end = s_.find(q, pos_ + 1);
    require(end != std::string::npos, bad("unterminated string"));
    std::string out = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return out;
  }
  std::vector<std::uint64_t> shape_tuple() {
    expect('(');
    std::vector<std::uint64_t> dims;
    while (true) {
      skip();
      if (peek() == ')') {
        ++pos_;
        break;
      }
      require(std::isdigit(static_cast<unsigned char>(peek())), bad("shape entries must be non-negative integers"));
      std::uint64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        const std::uint64_t digit = static_cast<std::uint64_t>(peek() - '0');
        require(v <= (std::numeric_limits<std::uint64_t>::max() - digit) / 10, bad("shape entry overflows"));
        v = v * 10 + digit;
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // Python 2 long suffix
      dims.push_back(v);
      require(dims.size() <= 32, bad("more than 32 dimensions"));
      if (!comma_or(')')) break;
    }
    return dims;
  }
  const std::string& s_;
  const std::string& file_;
  std::size_t pos_ = 0;
};

/// Writes a .npy header (version 1.0, or 2.0 when the header needs it) and the `shape`'s elements
/// of `item_size` little-endian bytes each (the host must be little endian) to `out`: a FileSink,
/// or any sink with write(const void*, n) and write(std::string_view) (.npz members in memory).
template <class Sink>
void write_npy_stream(Sink& out, const std::string& descr, const std::vector<std::uint64_t>& shape,
                             const void* data, std::size_t item_size) {
  require(host_is_little_endian(), "write_npy: big-endian hosts are not supported");
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  std::uint64_t elements = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    dict += (shape.size() == 1 || i + 1 < shape.size()) ? "," : "";
    if (i + 1 < shape.size()) dict += " ";
    elements *= shape[i];
  }
  dict += "), }";
  int major = 1;
  std::size_t prefix = 10;
  if ((prefix + dict.size() + 1 + 63) / 64 * 64 - prefix > 65535) {
    major = 2;
    prefix = 12;
  }
  const std::size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';
  const std::uint64_t hlen = dict.size();
  unsigned char head[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<unsigned char>(major), 0};
  for (std::size_t b = 0; b < prefix - 8; ++b) head[8 + b] = static_cast<unsigned char>(hlen >> (8 * b));
  out.write(head, prefix);
  out.write(dict);
  out.write(data, static_cast<std::size_t>(elements) * item_size);
}

inline std::uint64_t stream_size(std::istream& in) {
  const auto here = in.tellg();
  in.seekg(0, std::ios::end);
  const auto end = in.tellg();
  in.seekg(here);
  require(here >= 0 && end >= 0, "read_npy: cannot determine the file size");
  return static_cast<std::uint64_t>(end);
}

}  // namespace detail

/// Parses a .npy header from `in` (positioned at the file start) whose total size is `file_size` bytes;
/// checks that the data the shape needs fits in the file. `name` is used in messages. Throws structgan::Error
/// for bad magic, unsupported versions, malformed dicts, unsupported dtypes, fortran order, overflowing
/// shapes and truncated data.
inline NpyHeader read_npy_header(std::istream& in, std::uint64_t file_size, const std::string& name) {
  char magic[8];
  in.read(magic, 8);
  require(in.gcount() == 8, "read_npy: ", name, ": file too short for a .npy header (", file_size, " bytes)");
  require(std::memcmp(magic, "\x93NUMPY", 6) == 0, "read_npy: ", name, ": bad magic (not a .npy file)");
  const int major = static_cast<unsigned char>(magic[6]);
  const int minor = static_cast<unsigned char>(magic[7]);
  require((major == 1 || major == 2) && minor == 0, "read_npy: ", name, ": unsupported .npy version ", major, ".",
          minor, " (1.0 and 2.0 are supported)");
  std::uint64_t header_len = 0;
  const int len_bytes = major == 1 ? 2 : 4;
  unsigned char lb[4] = {0, 0, 0, 0};
  in.read(reinterpret_cast<char*>(lb), len_bytes);
  require(in.gcount() == len_bytes, "read_npy: ", name, ": truncated header length");
  for (int i = len_bytes - 1; i >= 0; --i) header_len = (header_len << 8) | lb[i];
  const std::uint64_t offset = 8 + static_cast<std::uint64_t>(len_bytes) + header_len;
  require(offset <= file_size, "read_npy: ", name, ": truncated header (", header_len, " bytes announced, file has ",
          file_size, " bytes)");
  std::string text(static_cast<std::size_t>(header_len), '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_len));
  require(static_cast<std::uint64_t>(in.gcount()) == header_len, "read_npy: ", name, ": truncated header");
  NpyHeader h = detail::NpyDictParser(text, name).parse();
  h.data_offset = offset;
  h.major_version = major;
  const std::uint64_t need = h.elements * npy_item_size(h.type);
  require(need <= file_size - offset, "read_npy: ", name, ": truncated data: the shape needs ", need,
          " bytes, the file has ", file_size - offset, " after the header");
  return h;
}

/// Reads a 2-D (or 1-D, read as N×1) float32/float64 .npy file into an N×D row-major matrix of Scalar.
/// Throws structgan::Error naming the file for unreadable files, bad headers, other dtypes (ints included),
/// other ranks and truncated data. Allocates only after checking that the file holds the data.
/// \code
///   auto x = structgan::io::read_npy_matrix<float>("train_features.npy");
/// \endcode
template <class Scalar>
RowMatrix<Scalar> read_npy_matrix(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(static_cast<bool>(in), "read_npy: cannot open '", path, "'");
  const NpyHeader h = read_npy_header(in, detail::stream_size(in), path);
  require(h.type == NpyType::float32 || h.type == NpyType::float64, "read_npy: ", path,
          ": expected a float32 or float64 array, got an integer dtype");
  require(h.shape.size() == 1 || h.shape.size() == 2, "read_npy: ", path, ": expected a 1-D or 2-D array, got ",
          h.shape.size(), " dimensions");
  const std::uint64_t rows = h.shape[0], cols = h.shape.size() == 2 ? h.shape[1] : 1;
  require(rows <= static_cast<std::uint64_t>(std::numeric_limits<Eigen::Index>::max()) &&
              cols <= static_cast<std::uint64_t>(std::numeric_limits<Eigen::Index>::max()),
          "read_npy: ", path, ": shape too large");
  RowMatrix<Scalar> out(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  const bool swap = !detail::host_is_little_endian();
  auto read_as = [&](auto tag) {
    using T = decltype(tag);
    const std::uint64_t chunk = 1 << 16;
    std::vector<T> buf(static_cast<std::size_t>(std::min<std::uint64_t>(chunk, h.elements)));
    Scalar* dst = out.data();
    for (std::uint64_t done = 0; done < h.elements;) {
      const std::uint64_t m = std::min<std::uint64_t>(chunk, h.elements - done);
      in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(m * sizeof(T)));
      require(static_cast<std::uint64_t>(in.gcount()) == m * sizeof(T), "read_npy: ", path, ": truncated data");
      for (std::uint64_t i = 0; i < m; ++i) {
        T v = buf[static_cast<std::size_t>(i)];
        if (swap) {
          unsigned char b[sizeof(T)];
          std::memcpy(b, &v, sizeof(T));
          for (std::size_t a = 0; a < sizeof(T) / 2; ++a) std::swap(b[a], b[sizeof(T) - 1 - a]);
          std::memcpy(&v, b, sizeof(T));
        }
        dst[done + i] = static_cast<Scalar>(v);
      }
      done += m;
    }
  };
  if (h.type == NpyType::float32) read_as(float{});
  else read_as(double{});
  return out;
}

/// Writes x as a C-order little-endian .npy (float32 for float, float64 for double; version 1.0, or 2.0 when
/// the header needs it) with io::write_file_atomically. Throws structgan::Error naming the path.
template <class Derived>
void write_npy(const std::string& path, const Eigen::MatrixBase<Derived>& x) {
  using Scalar = typename Derived::Scalar;
  static_assert(std::is_same<Scalar, float>::value || std::is_same<Scalar, double>::value,
                "write_npy: float or double matrices only");
  const RowMatrix<Scalar> m = x;
  write_file_atomically(path, [&](FileSink& out) {
    detail::write_npy_stream(out, std::is_same<Scalar, float>::value ? "<f4" : "<f8",
                             {static_cast<std::uint64_t>(m.rows()), static_cast<std::uint64_t>(m.cols())}, m.data(),
                             sizeof(Scalar));
  });
}

/// Writes labels as a 1-D int64 .npy (atomically, as write_npy).
inline void write_npy_labels(const std::string& path, const std::vector<int>& labels) {
  std::vector<std::int64_t> v(labels.begin(), labels.end());
  write_file_atomically(path, [&](FileSink& out) {
    detail::write_npy_stream(out, "<i8", {static_cast<std::uint64_t>(v.size())}, v.data(), 8);
  });
}

/// Reads class labels: a .npy file (1-D, or N×1, of int32 or int64; detected by its magic) or a text file
/// with one integer per line (blank lines ignored). Throws structgan::Error naming the file (and line) for
/// unreadable files, bad .npy headers, float dtypes, values outside int, and non-integer lines.
inline std::vector<int> read_labels(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(static_cast<bool>(in), "read_labels: cannot open '", path, "'");
  const std::uint64_t size = detail::stream_size(in);
  char first[6] = {0, 0, 0, 0, 0, 0};
  in.read(first, 6);
  const bool is_npy = in.gcount() == 6 && std::memcmp(first, "\x93NUMPY", 6) == 0;
  in.clear();
  in.seekg(0);
  std::vector<int> out;
  if (is_npy) {
    const NpyHeader h = read_npy_header(in, size, path);
    require(h.type == NpyType::int32 || h.type == NpyType::int64, "read_labels: ", path,
            ": expected an int32 or int64 array, got a float dtype");
    require(h.shape.size() == 1 || (h.shape.size() == 2 && h.shape[1] == 1), "read_labels: ", path,
            ": expected a 1-D array (or N×1)");
    const std::size_t item = npy_item_size(h.type);
    std::vector<unsigned char> bytes(static_cast<std::size_t>(h.elements * item));
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    require(static_cast<std::size_t>(in.gcount()) == bytes.size(), "read_labels: ", path, ": truncated data");
    out.resize(static_cast<std::size_t>(h.elements));
    for (std::size_t i = 0; i < out.size(); ++i) {
      std::int64_t v = 0;
      for (std::size_t b = 0; b < item; ++b) v |= static_cast<std::int64_t>(bytes[i * item + b]) << (8 * b);
      if (item == 4) v = static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
      require(v >= std::numeric_limits<int>::min() && v <= std::numeric_limits<int>::max(), "read_labels: ", path,
              ": label ", v, " at index ", i, " does not fit in int");
      out[i] = static_cast<int>(v);
    }
    return out;
  }
  std::string line;
  std::size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::size_t a = 0, b = line.size();
    while (a < b && std::isspace(static_cast<unsigned char>(line[a]))) ++a;
    while (b > a && std::isspace(static_cast<unsigned char>(line[b - 1]))) --b;
    if (a == b) continue;
    const std::string tok = line.substr(a, b - a);
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(tok.c_str(), &end, 10);
    require(end == tok.c_str() + tok.size() && errno == 0 && v >= std::numeric_limits<int>::min() &&
                v <= std::numeric_limits<int>::max(),
            "read_labels: ", path, ": line ", line_no, ": '", tok, "' is not an integer label");
    out.push_back(static_cast<int>(v));
  }
  return out;
}

}  // namespace structgan::io
