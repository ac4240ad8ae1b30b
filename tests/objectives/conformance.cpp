#define BOOST_TEST_MODULE objectives_conformance
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

// Reproduces every float64 reference case of SPEC §8 (tests/data/reference/FORMAT.md) within its
// tolerance. Cases come from the folder given by `-- --cases DIR`, else $STRUCTGAN_REFERENCE_DIR,
// else the copy in tests/data/reference. Ends with the line "N passed, M failed"; fails when a
// case fails or no case was found.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "structgan/objectives/clustering.hpp"
#include "structgan/ops/conv_pool.hpp"
#include "structgan/ops/norm.hpp"
#include "structgan/objectives/gaussian.hpp"
#include "structgan/objectives/jacobian.hpp"

using namespace structgan;
using namespace structgan::objectives;
using json = nlohmann::json;
using TD = Tensor<double, Cpu>;
using VD = Var<double, Cpu>;
namespace fs = std::filesystem;

namespace {

int g_passed = 0, g_failed = 0;
std::string g_dir;

TD tensor_of(const json& j) {
  std::vector<index_t> dims;
  for (const auto& d : j.at("shape")) dims.push_back(d.get<index_t>());
  Shape s = Shape::from_range(dims.begin(), dims.end());
  if (dims.empty()) s = Shape{1};
  return from_vector<double>(s, j.at("data").get<std::vector<double>>());
}

/// Compares element by element: |got − want| ≤ atol + rtol·|want|; reports the worst entry.
struct Checker {
  double rtol, atol;
  std::vector<std::string> failures;
  void values(const std::string& what, const std::vector<double>& got, const std::vector<double>& want) {
    if (got.size() != want.size()) {
      failures.push_back(what + ": " + std::to_string(got.size()) + " values, expected " + std::to_string(want.size()));
      return;
    }
    double worst = 0;
    std::size_t at = 0;
    bool ok = true;
    for (std::size_t i = 0; i < got.size(); ++i) {
      const double err = std::abs(got[i] - want[i]), lim = atol + rtol * std::abs(want[i]);
      if (!(err <= lim)) {
        ok = false;
        if (!(err / lim <= worst)) { worst = err / lim; at = i; }
      }
    }
    if (!ok) {
      std::ostringstream os;
      os.precision(17);
      os << what << ": entry " << at << " is " << got[at] << ", expected " << want[at] << " (error " << worst << "× the tolerance)";
      failures.push_back(os.str());
    }
  }
  void tensor(const std::string& what, const TD& got, const json& want) {
    const TD w = tensor_of(want);
    if (got.numel() != w.numel()) {
      failures.push_back(what + ": shape " + got.shape().to_string() + ", expected " + w.shape().to_string());
      return;
    }
    values(what, to_vector(got), to_vector(w));
  }
  void scalar(const std::string& what, double got, const json& want) { values(what, {got}, {want.get<double>()}); }
  void indices(const std::string& what, const std::vector<index_t>& got, const json& want) {
    const TD w = tensor_of(want);
    std::vector<double> g(got.begin(), got.end());
    Checker exact{0, 0, {}};
    exact.values(what, g, to_vector(w));
    failures.insert(failures.end(), exact.failures.begin(), exact.failures.end());
  }
};

// ---- the Gaussian distances ---------------------------------------------------------------------
void run_distance(const json& c, Checker& chk) {
  const std::string kind = c.at("kind");
  const TD a = tensor_of(c.at("inputs").at("a")), b = tensor_of(c.at("inputs").at("b"));
  const json& p = c.at("params");
  VD va(a, true), vb(b, true);
  VD d = kind == "logdet_distance" ? logdet_distance(va, vb, p.at("eps").get<double>())
         : kind == "jsd_gaussian"  ? jsd_distance(va, vb, p.at("ridge").get<double>())
                                   : bhattacharyya_distance(va, vb, p.at("ridge").get<double>());
  backward(d);
  const json& e = c.at("expected");
  chk.scalar("value", d.value()[0], e.at("value"));
  chk.tensor("grad_a", va.grad(), e.at("grad_a"));
  chk.tensor("grad_b", vb.grad(), e.at("grad_b"));
}

// ---- the kNN similarities -------------------------------------------------------------------------
void run_knn(const json& c, Checker& chk) {
  const json& in = c.at("inputs");
  const TD feat = tensor_of(in.at("feat")), bg = tensor_of(in.at("bg_feat")), gen = tensor_of(in.at("gen_feat")),
           gen_bg = tensor_of(in.at("gen_bg_feat")), bank_v = tensor_of(in.at("bank_values")),
           bank_k = tensor_of(in.at("bank_keys"));
  ClusterOptions o;
  o.k = c.at("params").at("k").get<index_t>();
  o.skip_first_fake = c.at("params").at("skip_first_fake").get<bool>();
  const json& e = c.at("expected");
  {
    VD f(feat, true);
    DeviceIndices<Cpu> nb;
    VD s = real_cluster_similarity(f, bg, bank_k, bank_v, o, &nb);
    backward(s);
    chk.scalar("s_real", s.value()[0], e.at("s_real"));
    chk.indices("real_neighbours", to_host(nb), e.at("real_neighbours"));
    chk.tensor("grad_s_real_feat", f.grad(), e.at("grad_s_real_feat"));
  }
  {
    VD f(feat, true), g(gen, true);
    DeviceIndices<Cpu> nb;
    VD s = fake_cluster_similarity(g, f, gen_bg, bg, bank_k, bank_v, o, &nb);
    backward(s);
    chk.scalar("s_fake", s.value()[0], e.at("s_fake"));
    chk.indices("fake_neighbours", to_host(nb), e.at("fake_neighbours"));
    chk.tensor("grad_s_fake_gen_feat", g.grad(), e.at("grad_s_fake_gen_feat"));
    chk.tensor("grad_s_fake_feat", f.grad().defined() ? f.grad() : zeros<double>(feat.shape()), e.at("grad_s_fake_feat"));
  }
}

// ---- the Jacobian regularizer on the two small networks of FORMAT.md -----------------------------
using Weights = std::map<std::string, Parameter<double>>;

const char* const kMlpArchitecture = "x -> elu(l1) -> elu(l2) -> l3 ; linear(x) = x W^T + b";
const char* const kConvArchitecture =
    "x -> elu(conv3x3 pad1 no-bias 'conv1') -> avgpool2 -> conv3x3 pad1 no-bias 'conv2' -> groupnorm(2 groups, eps 1e-5, "
    "affine 'gn') -> elu -> mean over H,W -> linear 'fc'";

/// x → elu(l1) → elu(l2) → … → l_last (linear = x·Wᵀ + b), over any value type.
struct Mlp {
  Weights* w;
  int layers;
  template <class V>
  V operator()(const V& x) const {
    V h = x;
    for (int i = 1; i <= layers; ++i) {
      const std::string l = "l" + std::to_string(i);
      h = linear(h, lift<V>(w->at(l + ".weight")), lift<V>(w->at(l + ".bias")));
      if (i < layers) h = elu(h);
    }
    return h;
  }
};

/// The conv network of the conv cases (see kConvArchitecture).
struct ConvNet {
  Weights* w;
  template <class V>
  V operator()(const V& x) const {
    V h = elu(conv2d(x, lift<V>(w->at("conv1.weight")), 1, 1));
    h = avg_pool2d(h, 2);
    h = conv2d(h, lift<V>(w->at("conv2.weight")), 1, 1);
    h = group_norm(h, 2, lift<V>(w->at("gn.weight")), lift<V>(w->at("gn.bias")), 1e-5);
    h = mean(elu(h), {2, 3});
    return linear(h, lift<V>(w->at("fc.weight")), lift<V>(w->at("fc.bias")));
  }
};

void zero_grads(Weights& w) {
  for (auto& [name, p] : w) p.grad = zeros<double>(p.value.shape());
}
void check_grads(Checker& chk, const std::string& what, Weights& w, const json& want) {
  for (auto& [name, p] : w) {
    if (!want.contains(name)) {
      chk.failures.push_back(what + ": no expected gradient for " + name);
      continue;
    }
    chk.tensor(what + "[" + name + "]", p.grad, want.at(name));
  }
}

template <class Net>
void run_jacobian_with(const json& c, Checker& chk, Weights& w, const Net& net) {
  const json& in = c.at("inputs");
  const json& p = c.at("params");
  const json& e = c.at("expected");
  const TD x = tensor_of(in.at("x")), u0 = tensor_of(in.at("u0"));
  const int steps = p.at("steps").get<int>();
  const double lip = p.at("lip").get<double>();
  auto f = [&](const auto& v) { return net(v); };

  chk.tensor("embedding", f(x), e.at("embedding"));
  for (const JacobianPenalty kind : {JacobianPenalty::Squared, JacobianPenalty::Absolute}) {
    const std::string name = kind == JacobianPenalty::Squared ? "penalty_squared" : "penalty_abs";
    zero_grads(w);
    JacobianOptions o;
    o.steps = steps;
    o.lip = lip;
    o.penalty = kind;
    const auto reg = jacobian_regularizer(f, x, u0, o);
    if (kind == JacobianPenalty::Squared) {
      chk.tensor("sigma", reg.estimate.sigma.value(), e.at("sigma"));
      chk.tensor("embedding (recorded pass)", reg.estimate.embedding.value(), e.at("embedding"));
    }
    backward(reg.penalty);
    chk.scalar(name, reg.penalty.value()[0], e.at(name));
    check_grads(chk, "grad_" + name, w, e.at("grad_" + name));
  }
  zero_grads(w);
  VD h = norm_hinge(f(VD(x)));
  backward(h);
  chk.scalar("hinge", h.value()[0], e.at("hinge"));
  check_grads(chk, "grad_hinge", w, e.at("grad_hinge"));
}

void run_jacobian(const json& c, Checker& chk) {
  const std::string kind = c.at("kind"), arch = c.at("params").at("architecture");
  Weights w;
  for (const auto& [name, t] : c.at("inputs").at("weights").items()) w[name] = Parameter<double>{tensor_of(t), {}};
  if (kind == "jacobian_sigma_mlp") {
    if (arch != kMlpArchitecture) throw Error("unsupported MLP architecture: " + arch);
    int layers = 0;
    while (w.count("l" + std::to_string(layers + 1) + ".weight")) ++layers;
    if (layers < 1 || static_cast<std::size_t>(2 * layers) != w.size()) throw Error("MLP weights are not l1..lN weight/bias pairs");
    run_jacobian_with(c, chk, w, Mlp{&w, layers});
  } else {
    if (arch != kConvArchitecture) throw Error("unsupported conv architecture: " + arch);
    run_jacobian_with(c, chk, w, ConvNet{&w});
  }
}

std::vector<fs::path> case_files(const std::string& dir) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

BOOST_AUTO_TEST_CASE(reference_cases) {
  const auto files = case_files(g_dir);
  BOOST_TEST_MESSAGE("reference cases from " << g_dir << ": " << files.size() << " files");
  BOOST_TEST(!files.empty(), "no reference case (*.json) found in " << g_dir);
  for (const auto& path : files) {
    BOOST_TEST_CONTEXT("case " << path.filename().string()) {
      std::vector<std::string> failures;
      try {
        std::ifstream in(path);
        const json c = json::parse(in);
        const std::string kind = c.at("kind");
        Checker chk{c.at("tolerance").at("rtol").get<double>(), c.at("tolerance").at("atol").get<double>(), {}};
        if (kind == "logdet_distance" || kind == "jsd_gaussian" || kind == "bhattacharyya_gaussian") run_distance(c, chk);
        else if (kind == "knn_cluster") run_knn(c, chk);
        else if (kind == "jacobian_sigma_mlp" || kind == "jacobian_sigma_conv") run_jacobian(c, chk);
        else chk.failures.push_back("unknown kind '" + kind + "'");
        failures = chk.failures;
      } catch (const std::exception& ex) {
        failures.push_back(std::string("exception: ") + ex.what());
      }
      for (const auto& f : failures) BOOST_ERROR(f);
      (failures.empty() ? g_passed : g_failed)++;
      std::cout << (failures.empty() ? "PASS " : "FAIL ") << path.filename().string() << "\n";
    }
  }
}

int main(int argc, char* argv[]) {
  // Our own arguments come after "--" (Boost.Test leaves them alone): --cases DIR.
  g_dir = STRUCTGAN_REFERENCE_CASES_DIR;
  if (const char* env = std::getenv("STRUCTGAN_REFERENCE_DIR"); env && *env) g_dir = env;
  bool after_dashes = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") after_dashes = true;
    else if (after_dashes && a == "--cases" && i + 1 < argc) g_dir = argv[++i];
    else if (after_dashes && a.rfind("--cases=", 0) == 0) g_dir = a.substr(8);
  }
  const int rc = boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
  std::cout << g_passed << " passed, " << g_failed << " failed" << std::endl;
  return (rc != 0 || g_failed > 0 || g_passed == 0) ? 1 : 0;
}
