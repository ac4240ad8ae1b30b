#define BOOST_TEST_MODULE train_config
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "structgan/train/cli.hpp"
#include "structgan/train/config.hpp"
#include "train_test_util.hpp"

using namespace structgan;
using namespace structgan::train_test;
using train::TrainConfig;

namespace {

std::string temp_file(const std::string& name, const std::string& text) {
  const auto p = std::filesystem::temp_directory_path() / ("structgan_train_config_" + name);
  std::ofstream(p) << text;
  return p.string();
}
}  // namespace

BOOST_AUTO_TEST_CASE(every_preset_loads_and_validates) {
  for (const auto& name : train::preset_names()) {
    const TrainConfig c = train::preset(name);
    BOOST_TEST(c.preset == name);
    BOOST_CHECK_NO_THROW(train::validate(c));
    // The JSON of a preset reads back to the same JSON.
    TrainConfig d = train::preset("cifar10");
    train::apply_json(d, train::to_json(c));
    BOOST_TEST(train::to_json(d) == train::to_json(c));
  }
  BOOST_TEST(train::preset("cifar10").batch_size == 512);
  BOOST_TEST(train::preset("cifar10").lr_d == 2e-4);
  BOOST_TEST(train::preset("cifar10").weight_decay_d == 0.1);
  BOOST_TEST(train::preset("cifar10").ema_momentum == 0.99);
  BOOST_TEST(train::preset("imagenet10").image_size == 128);
  BOOST_TEST(train::preset("imagenet10").batch_size == 320);
  BOOST_TEST(train::preset("fashion_mnist").dataset == "fashion_mnist");
  BOOST_TEST(train::preset("fashion_mnist").lr_d == 1e-3);  // the CPU-sized run's larger step (docs/training.md)
  BOOST_TEST(train::preset("fashion_mnist").lr_g == 1e-3);
  BOOST_TEST(train::preset("fashion_mnist").d_width == 32);  // f^b of 256 entries (docs/training.md)
  BOOST_TEST(train::preset("double_spiral").dataset == "double_spiral");
  BOOST_TEST(has(error_of([] { train::preset("mnist"); }), "unknown preset 'mnist'"));
}

BOOST_AUTO_TEST_CASE(defaults_are_spec_section_5) {
  const auto j = train::to_json(train::preset("cifar10"));
  BOOST_TEST(j["objective"]["lambda_cluster"].get<double>() == 3.0);
  BOOST_TEST(j["objective"]["lambda_smooth"].get<double>() == 5.0);
  BOOST_TEST(j["objective"]["lambda_hinge"].get<double>() == 20.0);
  BOOST_TEST(j["objective"]["bank_size"].get<long>() == 10240);
  BOOST_TEST(j["beta1"].get<double>() == 0.5);
  BOOST_TEST(j["beta2"].get<double>() == 0.999);
}

BOOST_AUTO_TEST_CASE(learning_rate_schedules) {
  TrainConfig c = train::preset("cifar10");
  c.iterations = 100;
  // SPEC §5: constant rates.
  BOOST_TEST(c.lr_schedule == "constant");
  for (std::int64_t t : {0, 1, 50, 99, 100, 1000}) BOOST_TEST(train::lr_factor(c, t) == 1.0);
  // Cosine over `iterations`: PyTorch's CosineAnnealingLR (η_min 0) after t scheduler steps.
  c.lr_schedule = "cosine";
  BOOST_TEST(train::lr_factor(c, 0) == 1.0);
  BOOST_TEST(train::lr_factor(c, 50) == 0.5, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(train::lr_factor(c, 25) == 0.5 * (1.0 + std::sqrt(0.5)), boost::test_tools::tolerance(1e-15));
  BOOST_TEST(train::lr_factor(c, 99) > 0.0);
  BOOST_TEST(train::lr_factor(c, 99) < 1e-3);
  BOOST_TEST(train::lr_factor(c, 100) == 0.0);
  BOOST_TEST(train::lr_factor(c, 150) == 0.0);
  for (std::int64_t t = 1; t <= 100; ++t) BOOST_TEST(train::lr_factor(c, t) < train::lr_factor(c, t - 1));
  // Its own length, independent of `iterations` (so a run may stop early and resume).
  c.lr_schedule_iterations = 200;
  BOOST_TEST(train::lr_schedule_length(c) == 200);
  BOOST_TEST(train::lr_factor(c, 100) == 0.5, boost::test_tools::tolerance(1e-15));
  train::apply_override(c, "lr_schedule=constant");
  BOOST_TEST(train::lr_factor(c, 100) == 1.0);
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_rejected_by_name) {
  TrainConfig c = train::preset("cifar10");
  const std::string m = error_of([&] { train::apply_json(c, {{"lr_dd", 1e-3}}); });
  BOOST_TEST(has(m, "unknown key 'lr_dd'"));
  BOOST_TEST(has(m, "lr_d"));  // lists the known keys
  BOOST_TEST(has(error_of([&] { train::apply_json(c, {{"objective", {{"lambda_hinj", 4}}}}); }), "lambda_hinj"));
  BOOST_TEST(has(error_of([&] { train::apply_override(c, "objective.nope=1"); }), "nope"));
  BOOST_TEST(has(error_of([&] { train::apply_override(c, "no_equals_sign"); }), "key=value"));
}

BOOST_AUTO_TEST_CASE(bad_types_and_ranges_are_rejected_by_name) {
  TrainConfig c = train::preset("cifar10");
  BOOST_TEST(has(error_of([&] { train::apply_json(c, {{"batch_size", "many"}}); }), "'batch_size' must be an integer"));
  BOOST_TEST(has(error_of([&] { train::apply_json(c, {{"batch_size", 3.5}}); }), "'batch_size' must be an integer"));
  BOOST_TEST(has(error_of([&] { train::apply_json(c, {{"batch_size", 0}}); }), "'batch_size' = 0 must be"));
  BOOST_TEST(has(error_of([&] { train::apply_json(c, {{"lr_d", "fast"}}); }), "'lr_d' must be a number"));
  BOOST_TEST(has(error_of([&] { train::apply_json(c, {{"lr_d", -1.0}}); }), "'lr_d' = -1"));
  BOOST_TEST(has(error_of([&] { train::apply_json(c, {{"augment", 1}}); }), "'augment' must be true or false"));
  BOOST_TEST(has(error_of([&] { train::apply_json(c, {{"dataset", 10}}); }), "'dataset' must be a string"));
  BOOST_TEST(has(error_of([&] { train::apply_json(c, {{"objective", 3}}); }), "'objective' must be a JSON object"));
  BOOST_TEST(has(error_of([&] { train::apply_json(c, {{"objective", {{"knn_k", "one"}}}}); }), "knn_k"));
  BOOST_TEST(has(error_of([&] { train::apply_json(c, nlohmann::json::array()); }), "expected a JSON object"));
  // Values that are valid alone but not together, or not among the choices.
  TrainConfig d = train::preset("cifar10");
  d.dataset = "svhn";
  BOOST_TEST(has(error_of([&] { train::validate(d); }), "'dataset' must be one of"));
  d = train::preset("cifar10");
  d.image_size = 48;
  BOOST_TEST(has(error_of([&] { train::validate(d); }), "'image_size' = 48"));
  d = train::preset("cifar10");
  d.eval_image_size = 4;  // 3 halvings leave nothing to pool
  BOOST_TEST(has(error_of([&] { train::validate(d); }), "'eval_image_size' = 4 must be 0 (image_size) or at least 8"));
  d.eval_image_size = 24;
  BOOST_CHECK_NO_THROW(train::validate(d));
  d = train::preset("imagenet10");
  d.eval_image_size = 16;
  BOOST_TEST(has(error_of([&] { train::validate(d); }), "at least 32"));
  d = train::preset("cifar10");
  d.lr_schedule = "step";
  BOOST_TEST(has(error_of([&] { train::validate(d); }), "'lr_schedule' must be constant or cosine"));
  d = train::preset("cifar10");
  d.device = "tpu";
  BOOST_TEST(has(error_of([&] { train::validate(d); }), "'device' must be cpu or cuda"));
  // A rejected key leaves the configuration as it was.
  TrainConfig e = train::preset("cifar10");
  BOOST_CHECK_THROW(train::apply_json(e, {{"batch_size", "x"}}), Error);
  BOOST_TEST(e.batch_size == 512);
}

BOOST_AUTO_TEST_CASE(overrides_parse_values_as_json_then_strings) {
  TrainConfig c = train::preset("fashion_mnist");
  train::apply_override(c, "batch_size=32");
  train::apply_override(c, "lr_g=1e-3");
  train::apply_override(c, "augment=false");
  train::apply_override(c, "output_dir=/tmp/x y");
  train::apply_override(c, "objective.lambda_hinge=4");
  train::apply_override(c, "objective.distance=jsd");
  BOOST_TEST(c.batch_size == 32);
  BOOST_TEST(c.lr_g == 1e-3);
  BOOST_TEST(!c.augment);
  BOOST_TEST(c.output_dir == "/tmp/x y");
  const auto o = objectives::options_from_json(c.objective);
  BOOST_TEST(o.lambda_hinge == 4.0);
  BOOST_TEST((o.distance.kind == objectives::GaussianDistance::Jsd));
  BOOST_TEST(o.bank_size == 4096);  // the preset's objective keys survive the merge
  BOOST_TEST(o.lambda_cluster == 6.0);
}

BOOST_AUTO_TEST_CASE(config_files_name_their_preset_and_errors_name_the_file) {
  const std::string good = temp_file("good.json", R"({"preset": "double_spiral", "iterations": 7, "objective": {"knn_k": 2}})");
  const TrainConfig c = train::load_config_file(good);
  BOOST_TEST(c.dataset == "double_spiral");
  BOOST_TEST(c.iterations == 7);
  BOOST_TEST(objectives::options_from_json(c.objective).cluster.k == 2);
  const std::string bad = temp_file("bad.json", R"({"iterations": "seven"})");
  const std::string m = error_of([&] { train::load_config_file(bad); });
  BOOST_TEST(has(m, bad));
  BOOST_TEST(has(m, "'iterations' must be an integer"));
  const std::string broken = temp_file("broken.json", "{ not json");
  BOOST_TEST(has(error_of([&] { train::load_config_file(broken); }), "not valid JSON"));
  BOOST_TEST(has(error_of([&] { train::load_config_file("/nonexistent/structgan.json"); }), "cannot open"));
}

BOOST_AUTO_TEST_CASE(command_line_precedence_preset_file_flags_set) {
  const std::string file = temp_file("cli.json", R"({"preset": "double_spiral", "iterations": 7, "batch_size": 64})");
  const char* argv[] = {"prog", "--config", file.c_str(), "--iterations", "9", "--set", "batch_size=32", "--output", "/tmp/o"};
  train::CommandLine cl;
  BOOST_TEST(train::parse_command_line(9, argv, "fashion_mnist", "test", cl) == -1);
  BOOST_TEST(cl.config.dataset == "double_spiral");
  BOOST_TEST(cl.config.iterations == 9);
  BOOST_TEST(cl.config.batch_size == 32);
  BOOST_TEST(cl.config.output_dir == "/tmp/o");
  BOOST_TEST(!cl.resume);

  const char* argv2[] = {"prog", "--resume", "--set", "objective.lambda_smooth=0"};
  train::CommandLine cl2;
  BOOST_TEST(train::parse_command_line(4, argv2, "fashion_mnist", "test", cl2) == -1);
  BOOST_TEST(cl2.resume);
  BOOST_TEST(cl2.config.preset == "fashion_mnist");
  BOOST_TEST(objectives::options_from_json(cl2.config.objective).lambda_smooth == 0.0);

  // Errors: exit code 2, nothing to train.
  const char* bad[] = {"prog", "--set", "batch_size=abc"};
  train::CommandLine cl3;
  BOOST_TEST(train::parse_command_line(3, bad, "fashion_mnist", "test", cl3) == 2);
  const char* wrong_data[] = {"prog", "--dataset", "cifar10"};
  BOOST_TEST(train::parse_command_line(3, wrong_data, "fashion_mnist", "test", cl3, {"fashion_mnist"}) == 2);
  const char* unknown_flag[] = {"prog", "--learning-rate", "3"};
  BOOST_TEST(train::parse_command_line(3, unknown_flag, "fashion_mnist", "test", cl3) == 2);
}

BOOST_AUTO_TEST_CASE(key_table_lists_every_key) {
  const std::string t = train::describe_keys();
  for (const auto& k : train::config_keys()) BOOST_TEST(has(t, "| " + k + " |"), k);
  for (const auto& k : train::trajectory_keys()) BOOST_TEST(has(t, "| " + k + " |"), k);
}

// bad_files reaches the ImageNet-10 reader: skip leaves an unreadable file out, fail (the default)
// names it; other values are refused by name.
BOOST_AUTO_TEST_CASE(bad_files_key) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("structgan_bad_files_" + std::to_string(::getpid()));
  const std::vector<std::uint8_t> pgm{'P', '5', ' ', '2', ' ', '2', ' ', '2', '5', '5', '\n', 1, 2, 3, 4};
  for (const auto& syn : data::imagenet10_synsets()) {
    fs::create_directories(dir / "val" / syn);
    std::ofstream(dir / "val" / syn / "a.pgm", std::ios::binary).write(reinterpret_cast<const char*>(pgm.data()), 15);
  }
  std::ofstream(dir / "val" / data::imagenet10_synsets()[4] / "b.jpg") << "not an image";
  TrainConfig c = train::preset("imagenet10");
  c.data_dir = dir.string();
  BOOST_CHECK_EXCEPTION(train::load_split(c, data::Split::test), Error,
                        [](const Error& e) { return std::string(e.what()).find("b.jpg") != std::string::npos; });
  train::apply_json(c, nlohmann::json{{"bad_files", "skip"}}, "test");
  BOOST_TEST(train::load_split(c, data::Split::test).size() == 10u);
  c.bad_files = "ignore";
  BOOST_CHECK_EXCEPTION(train::load_split(c, data::Split::test), Error,
                        [](const Error& e) { return std::string(e.what()).find("'bad_files'") != std::string::npos; });
  fs::remove_all(dir);
}
