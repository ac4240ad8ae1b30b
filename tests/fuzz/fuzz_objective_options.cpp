// Fuzz target: the objective's JSON options (structgan/objectives/options_json.hpp). Input: JSON
// text. Text that is not JSON is nlohmann's to reject; JSON that options_from_json accepts must
// give options inside their documented ranges that StructuralObjective accepts, and must survive
// options_to_json → options_from_json unchanged. Otherwise only structgan::Error may be thrown.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_util.hpp"
#include "structgan/objectives/options_json.hpp"

namespace {
bool same(const structgan::objectives::ObjectiveOptions& a, const structgan::objectives::ObjectiveOptions& b) {
  return a.distance.kind == b.distance.kind && a.distance.eps == b.distance.eps && a.distance.ridge == b.distance.ridge &&
         a.cluster.k == b.cluster.k && a.cluster.skip_first_fake == b.cluster.skip_first_fake &&
         a.cluster.block_elements == b.cluster.block_elements && a.jacobian.steps == b.jacobian.steps &&
         a.jacobian.lip == b.jacobian.lip && a.jacobian.penalty == b.jacobian.penalty &&
         a.lambda_cluster == b.lambda_cluster && a.lambda_smooth == b.lambda_smooth &&
         a.lambda_hinge == b.lambda_hinge && a.lambda_probe == b.lambda_probe && a.bank_size == b.bank_size &&
         a.fuse_jacobian_pass == b.fuse_jacobian_pass;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace structgan;
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;  // not JSON
  try {
    const objectives::ObjectiveOptions o = objectives::options_from_json(j);
    STRUCTGAN_FUZZ_CHECK(std::isfinite(o.distance.eps) && o.distance.eps > 0);
    STRUCTGAN_FUZZ_CHECK(std::isfinite(o.distance.ridge) && o.distance.ridge >= 0);
    STRUCTGAN_FUZZ_CHECK(std::isfinite(o.lambda_cluster) && std::isfinite(o.lambda_smooth) &&
                         std::isfinite(o.lambda_hinge) && std::isfinite(o.lambda_probe) && std::isfinite(o.jacobian.lip));
    STRUCTGAN_FUZZ_CHECK(o.lambda_cluster >= 0 && o.lambda_smooth >= 0 && o.lambda_hinge >= 0 && o.lambda_probe >= 0 &&
                         o.jacobian.lip > 0);
    bool valid = true;  // what the reader accepted, validation accepts
    try {
      objectives::validate(o);
    } catch (const Error&) {
      valid = false;
    }
    STRUCTGAN_FUZZ_CHECK(valid);
    STRUCTGAN_FUZZ_CHECK(o.cluster.k >= 1 && o.cluster.block_elements >= 1 && o.bank_size >= 1 && o.jacobian.steps >= 1);
    const objectives::StructuralObjective<float> objective(o);  // must accept what the parser accepted
    const nlohmann::json back = objectives::options_to_json(o);
    const objectives::ObjectiveOptions o2 = objectives::options_from_json(nlohmann::json::parse(back.dump()));
    STRUCTGAN_FUZZ_CHECK(same(o, o2));
  } catch (const Error&) {
  }
  return 0;
}
