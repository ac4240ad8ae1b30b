// The folders of include/structgan/ are layers (docs/architecture.md): a header may include its
// own folder and the folders below it, never one above. This test reads every header's
// #include "structgan/..." lines and fails on an arrow the table below does not allow, naming the
// file, the line and the arrow. Within backend/, the cpu/ and cuda/ implementations include
// nothing of each other, and the contract and the reference device include neither.
#define BOOST_TEST_MODULE package_layers
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

namespace fs = std::filesystem;

namespace {

/// What each folder may include besides itself (the umbrella headers at the top may include all).
const std::map<std::string, std::set<std::string>> allowed = {
    {"core", {}},
    {"backend", {"core"}},
    {"autodiff", {"core", "backend"}},
    {"ops", {"core", "backend", "autodiff", "distributed"}},
    {"nn", {"core", "backend", "autodiff", "ops", "distributed"}},
    {"objectives", {"core", "backend", "autodiff", "ops", "distributed"}},
    {"io", {"core", "backend"}},
    {"data", {"core", "backend"}},
    {"eval", {"core", "backend"}},
    {"distributed", {"core", "backend"}},
    {"train", {"core", "backend", "autodiff", "ops", "nn", "objectives", "io", "data", "eval", "distributed"}},
};

/// The backend's sub-folders (and its loose headers) that may not include each other.
std::string backend_part(const std::string& path_in_backend) {
  const auto slash = path_in_backend.find('/');
  return slash == std::string::npos ? "" : path_in_backend.substr(0, slash);
}

struct Include {
  std::string file;
  int line;
  std::string target;  ///< the path after "structgan/"
};

std::vector<Include> structgan_includes(const fs::path& root) {
  std::vector<Include> out;
  const std::regex include_line(R"(^\s*#\s*include\s*[<"]structgan/([^">]+)[">])");
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".hpp") continue;
    std::ifstream in(entry.path());
    std::string text;
    int line = 0;
    while (std::getline(in, text)) {
      ++line;
      std::smatch m;
      if (std::regex_search(text, m, include_line))
        out.push_back({fs::relative(entry.path(), root).generic_string(), line, m[1].str()});
    }
  }
  return out;
}

std::string folder_of(const std::string& path) {
  const auto slash = path.find('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_include_points_to_the_same_layer_or_below) {
  const fs::path root = fs::path(STRUCTGAN_SOURCE_DIR) / "include" / "structgan";
  BOOST_REQUIRE(fs::is_directory(root));
  const auto includes = structgan_includes(root);
  BOOST_TEST_REQUIRE(includes.size() > 100u, "found only " << includes.size() << " includes under " << root);
  std::set<std::string> folders_seen;
  for (const Include& inc : includes) {
    const std::string from = folder_of(inc.file), to = folder_of(inc.target);
    if (from.empty()) continue;  // structgan.hpp, autodiff.hpp: umbrella headers
    folders_seen.insert(from);
    const auto rule = allowed.find(from);
    BOOST_TEST((rule != allowed.end()), inc.file << ": folder '" << from << "' has no place in the layer table of this test");
    if (rule == allowed.end() || to == from) continue;
    BOOST_TEST(rule->second.count(to) == 1u, inc.file << ":" << inc.line << ": " << from << " → " << to << " ('" << inc.target
                                                        << "') goes up or sideways; " << from << " may include only itself and "
                                                        << "the layers below it");
  }
  // The table speaks of folders that exist (a renamed folder must not slip through unchecked).
  for (const char* f : {"core", "backend", "autodiff", "ops", "nn", "objectives", "io", "data", "eval", "train"})
    BOOST_TEST(folders_seen.count(f) == 1u, "no header found in include/structgan/" << f);
}

BOOST_AUTO_TEST_CASE(backends_include_nothing_of_each_other) {
  const fs::path root = fs::path(STRUCTGAN_SOURCE_DIR) / "include" / "structgan";
  for (const Include& inc : structgan_includes(root)) {
    if (folder_of(inc.file) != "backend" || folder_of(inc.target) != "backend") continue;
    const std::string from = backend_part(inc.file.substr(8)), to = backend_part(inc.target.substr(8));
    // backend/<x>.hpp (the contract, the reference device, tensor_util, the cpu.hpp/cuda.hpp
    // umbrellas) may include the parts; a part may include itself and the loose headers.
    if (from.empty() || to.empty() || from == to) continue;
    BOOST_TEST(false, inc.file << ":" << inc.line << ": backend/" << from << " includes backend/" << to
                               << " ('" << inc.target << "'); shared types belong in backend/contract.hpp");
  }
  // The contract is written against core only, the reference device against the contract.
  for (const Include& inc : structgan_includes(root))
    if (inc.file == "backend/contract.hpp" || inc.file == "backend/ref.hpp")
      BOOST_TEST((folder_of(inc.target) == "core" || inc.target == "backend/contract.hpp"),
                 inc.file << ":" << inc.line << " includes " << inc.target);
}
