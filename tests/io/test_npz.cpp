#define BOOST_TEST_MODULE io_npz
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <limits>

#include "structgan/eval/image_metrics.hpp"
#include "structgan/io/npz.hpp"
#include "../eval/error_check.hpp"

// .npz archives: files numpy wrote (np.savez: stored members, np.savez_compressed: deflated), our writer read
// back, and corrupt archives rejected with a message naming the problem.
namespace ev = structgan::eval;
namespace io = structgan::io;
namespace fs = std::filesystem;

namespace {
const fs::path reference_dir = STRUCTGAN_EVAL_REFERENCE_DIR;

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void spit(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }
}  // namespace

BOOST_AUTO_TEST_CASE(reads_numpy_savez_and_savez_compressed) {
  // stats_a*.npz hold numpy's np.mean / np.cov of fid_a.npy: equal to ours up to summation order
  const ev::FidStatistics ours = ev::fid_statistics(io::read_npy_matrix<double>((reference_dir / "fid_a.npy").string()));
  const ev::FidStatistics stored = io::read_fid_statistics((reference_dir / "stats_a.npz").string());
  const ev::FidStatistics deflated = io::read_fid_statistics((reference_dir / "stats_a_compressed.npz").string());
  BOOST_REQUIRE_EQUAL(stored.mu.size(), 16);
  BOOST_REQUIRE_EQUAL(stored.sigma.rows(), 16);
  BOOST_CHECK(stored.mu == deflated.mu);
  BOOST_CHECK(stored.sigma == deflated.sigma);
  BOOST_CHECK_LT((stored.mu - ours.mu).cwiseAbs().maxCoeff(), 1e-14 * ours.mu.cwiseAbs().maxCoeff());
  BOOST_CHECK_LT((stored.sigma - ours.sigma).cwiseAbs().maxCoeff(), 1e-14 * ours.sigma.cwiseAbs().maxCoeff());
  // the members as numpy named them, with their .npy headers
  const auto members = io::read_npz_members((reference_dir / "stats_a_compressed.npz").string());
  BOOST_REQUIRE_EQUAL(members.size(), 2u);
  const io::NpzArray mu = io::npy_bytes_to_array(members.at("mu"), "mu");
  BOOST_CHECK(mu.shape == std::vector<std::uint64_t>{16});
  // a statistics file and the features it came from give the same FID
  const ev::RowMatrixD b = io::read_npy_matrix<double>((reference_dir / "fid_b.npy").string());
  BOOST_CHECK_CLOSE(ev::frechet_distance(stored, ev::fid_statistics(b)), ev::frechet_distance(ours, ev::fid_statistics(b)),
                    1e-10);
}

BOOST_AUTO_TEST_CASE(writes_what_it_reads) {
  evtest::TempDir tmp("structgan_eval_npz_");
  const ev::FidStatistics s = ev::fid_statistics(ev::RowMatrixD::Random(50, 6));
  io::write_fid_statistics(tmp.file("s.npz"), s);
  const ev::FidStatistics back = io::read_fid_statistics(tmp.file("s.npz"));
  BOOST_CHECK(back.mu == s.mu);
  BOOST_CHECK(back.sigma == s.sigma);
  // the members are plain stored .npy files, mu 1-D and sigma 2-D, as np.savez writes them
  const auto members = io::read_npz_members(tmp.file("s.npz"));
  BOOST_CHECK(io::npy_bytes_to_array(members.at("mu"), "mu").shape == std::vector<std::uint64_t>{6});
  BOOST_CHECK((io::npy_bytes_to_array(members.at("sigma"), "sigma").shape == std::vector<std::uint64_t>{6, 6}));
  const std::string bytes = slurp(tmp.file("s.npz"));
  BOOST_CHECK_EQUAL(bytes.substr(0, 4), std::string("PK\x03\x04"));
  BOOST_CHECK(bytes.find("\x93NUMPY") != std::string::npos);
  // other shapes and a scalar; no temporary file left behind
  io::write_npz(tmp.file("x.npz"), {{"scalar", {}, {2.5}}, {"cube", {2, 1, 3}, {1, 2, 3, 4, 5, 6}}});
  const auto x = io::read_npz_members(tmp.file("x.npz"));
  BOOST_CHECK_EQUAL(io::npy_bytes_to_array(x.at("scalar"), "scalar").values.at(0), 2.5);
  BOOST_CHECK((io::npy_bytes_to_array(x.at("cube"), "cube").shape == std::vector<std::uint64_t>{2, 1, 3}));
  BOOST_CHECK_EQUAL(std::distance(fs::directory_iterator(tmp.dir), fs::directory_iterator{}), 2);
  evtest::check_error_mentions([&] { io::write_npz(tmp.file("y.npz"), {{"a", {2, 2}, {1, 2, 3}}}); }, {"3 values", "4 elements"});
  evtest::check_error_mentions([&] { io::write_npz(tmp.file("y.npz"), {{"a", {1}, {1}}, {"a", {1}, {2}}}); }, {"duplicate"});
  evtest::check_error_mentions([&] { io::write_fid_statistics((tmp.dir / "no" / "such" / "dir.npz").string(), s); },
                       {"cannot write", "dir.npz"});
}

BOOST_AUTO_TEST_CASE(rejects_corrupt_archives) {
  evtest::TempDir tmp("structgan_eval_npz_");
  const std::string stored = slurp((reference_dir / "stats_a.npz").string());
  const std::string deflated = slurp((reference_dir / "stats_a_compressed.npz").string());
  auto read_bytes = [&](const std::string& bytes) {
    spit(tmp.file("bad.npz"), bytes);
    return io::read_fid_statistics(tmp.file("bad.npz"));
  };
  // truncated anywhere: the end record is gone
  for (std::size_t keep : {std::size_t(0), std::size_t(10), stored.size() / 2, stored.size() - 1})
    evtest::check_error_mentions([&] { read_bytes(stored.substr(0, keep)); }, {"bad.npz", "not a zip archive"});
  evtest::check_error_mentions([&] { read_bytes(deflated.substr(0, deflated.size() - 30)); }, {"truncated"});
  // a flipped byte in a stored member's data: the CRC catches it
  const std::size_t data = stored.find("\x93NUMPY") + 128 + 40;
  std::string flipped = stored;
  flipped[data] = static_cast<char>(flipped[data] ^ 0x10);
  evtest::check_error_mentions([&] { read_bytes(flipped); }, {"member 'mu.npy'", "CRC-32 mismatch"});
  // flipped bytes in deflated data (members at 56..260 and 319..1734) or a local header's method or name: zlib,
  // the CRC or the local header check catches them
  for (std::size_t at : {std::size_t(80), std::size_t(200), std::size_t(268), std::size_t(292), std::size_t(600),
                         std::size_t(1700)}) {
    std::string d = deflated;
    d[at] = static_cast<char>(d[at] ^ 0x5a);
    try {
      read_bytes(d);
      BOOST_ERROR("a flipped byte at " << at << " was not detected");
    } catch (const structgan::Error& e) {
      const std::string m = e.what();
      BOOST_CHECK_MESSAGE(m.find("CRC-32 mismatch") != std::string::npos || m.find("deflate") != std::string::npos ||
                              m.find("bad local header") != std::string::npos,
                          "message: " << m);
    }
  }
  // an unknown compression method (12 = bzip2) in the central directory
  std::string bzip = stored;
  const std::size_t cd = bzip.find("PK\x01\x02");
  bzip[cd + 10] = 12;
  evtest::check_error_mentions([&] { read_bytes(bzip); }, {"compression method 12"});
  // not a zip at all
  evtest::check_error_mentions([&] { io::read_fid_statistics((reference_dir / "fid_a.npy").string()); }, {"not a zip archive"});
  evtest::check_error_mentions([&] { io::read_fid_statistics(tmp.file("missing.npz")); }, {"cannot open", "missing.npz"});
  // a member missing, wrong shapes, non-finite values
  io::write_npz(tmp.file("m.npz"), {{"mu", {2}, {1, 2}}});
  evtest::check_error_mentions([&] { io::read_fid_statistics(tmp.file("m.npz")); }, {"m.npz", "no 'sigma' member"});
  io::write_npz(tmp.file("m.npz"), {{"mu", {1, 2}, {1, 2}}, {"sigma", {2, 2}, {1, 0, 0, 1}}});
  evtest::check_error_mentions([&] { io::read_fid_statistics(tmp.file("m.npz")); }, {"'mu' must be a non-empty 1-D array"});
  io::write_npz(tmp.file("m.npz"), {{"mu", {2}, {1, 2}}, {"sigma", {3, 3}, std::vector<double>(9, 0.0)}});
  evtest::check_error_mentions([&] { io::read_fid_statistics(tmp.file("m.npz")); }, {"'sigma' must be 2x2"});
  io::write_npz(tmp.file("m.npz"), {{"mu", {2}, {1, 2}}, {"sigma", {2, 2}, {1, 0, 0, std::numeric_limits<double>::quiet_NaN()}}});
  evtest::check_error_mentions([&] { io::read_fid_statistics(tmp.file("m.npz")); }, {"'sigma' holds NaN or Inf"});
  // a member whose .npy bytes are wrong (CRC intact): the .npy parser's checks, naming the member
  std::string mu = io::read_npz_members((reference_dir / "stats_a.npz").string()).at("mu");
  evtest::check_error_mentions([&] { io::npy_bytes_to_array(mu.substr(0, mu.size() - 8), "s.npz: member 'mu.npy'"); },
                       {"member 'mu.npy'", "truncated data"});
  mu[mu.find("<f8") + 1] = 'i';
  evtest::check_error_mentions([&] { io::npy_bytes_to_array(mu, "mu"); }, {"integer dtype"});
}
