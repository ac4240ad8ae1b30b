// Fuzz target: the .npy and label readers of structgan/io/npy.hpp (read_npy_matrix<float>,
// read_npy_matrix<double>, read_labels in .npy and text form). Input: a mode byte, then the file.
// Any input may be rejected with structgan::Error. An accepted matrix is written back with
// write_npy and must read back bit for bit; accepted labels are checked against a plain parse.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_util.hpp"
#include "structgan/io/npy.hpp"

namespace {
template <class Scalar>
void matrix_round_trip(const std::string& path) {
  using namespace structgan;
  const RowMatrix<Scalar> x = io::read_npy_matrix<Scalar>(path);
  const std::string back = (fuzz::scratch_dir() / "back.npy").string();
  io::write_npy(back, x);
  const RowMatrix<Scalar> y = io::read_npy_matrix<Scalar>(back);
  STRUCTGAN_FUZZ_CHECK(x.rows() == y.rows() && x.cols() == y.cols());
  STRUCTGAN_FUZZ_CHECK(x.size() == 0 || std::memcmp(x.data(), y.data(), sizeof(Scalar) * std::size_t(x.size())) == 0);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace structgan;
  fuzz::Input in(data, size);
  const int mode = in.byte() % 3;
  const std::string path = fuzz::write_scratch("input.npy", in.data(), in.size());
  try {
    if (mode == 0) matrix_round_trip<float>(path);
    if (mode == 1) matrix_round_trip<double>(path);
    if (mode == 2) {
      const std::vector<int> labels = io::read_labels(path);
      const bool npy = in.size() >= 6 && std::memcmp(in.data(), "\x93NUMPY", 6) == 0;
      if (npy) {
        // Written back as int64 .npy, the labels must read back equal.
        const std::string back = (fuzz::scratch_dir() / "labels.npy").string();
        io::write_npy_labels(back, labels);
        STRUCTGAN_FUZZ_CHECK(io::read_labels(back) == labels);
      } else {
        // Text: as many labels as non-blank lines.
        std::size_t lines = 0;
        bool blank = true;
        for (std::size_t i = 0; i <= in.size(); ++i) {
          const char c = i < in.size() ? static_cast<char>(in.data()[i]) : '\n';
          if (c == '\n') {
            lines += !blank;
            blank = true;
          } else if (!std::isspace(static_cast<unsigned char>(c))) {
            blank = false;
          }
        }
        STRUCTGAN_FUZZ_CHECK(labels.size() == lines);
      }
    }
  } catch (const Error&) {
  }
  return 0;
}
