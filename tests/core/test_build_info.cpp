#define BOOST_TEST_MODULE core_build_info
#include <boost/test/unit_test.hpp>
// build_info() names the commit the program was built from. It once read the commit when CMake
// configured the build folder, so a folder rebuilt after a commit printed the old one (and
// eval.json files recorded it); now the commit is regenerated at every build
// (cmake/structgan_commit.cmake). Checked against git at test time, skipped where the source
// tree is not a git checkout or git is missing.
#include <cstdio>
#include <memory>
#include <regex>
#include <string>

#include "structgan/core/build_info.hpp"

namespace {

// The first line git prints for `args` in the source tree, or "" when git fails.
std::string git_line(const std::string& args) {
  const std::string command = "git -C '" STRUCTGAN_SOURCE_DIR "' " + args + " 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) return "";
  std::string out;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe.get())) out += buffer;
  const int status = pclose(pipe.release());
  if (status != 0) return "";
  return out.substr(0, out.find('\n'));
}

boost::test_tools::assertion_result source_tree_is_a_git_checkout(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r(!git_line("rev-parse --short=12 HEAD").empty());
  r.message() << "the source tree is not a git checkout, or git is missing";
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(names_the_commit_of_the_source_tree, *boost::unit_test::precondition(source_tree_is_a_git_checkout)) {
  const std::string info = structgan::build_info();
  std::smatch m;
  BOOST_TEST_REQUIRE(std::regex_search(info, m, std::regex(R"(\(commit ([0-9a-f]{12})(-modified)?\))")), info);
  BOOST_TEST(m[1].str() == git_line("rev-parse --short=12 HEAD"));
  // "-modified" exactly when tracked files differ from the commit (as they did when it was built:
  // the build that linked this test regenerated the commit).
  const bool modified = !git_line("status --porcelain --untracked-files=no").empty();
  BOOST_TEST(m[2].matched == modified, info << "; tracked files modified now: " << modified);
}
