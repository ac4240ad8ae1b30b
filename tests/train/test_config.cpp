#define BOOST_TEST_MODULE train_config
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>
#include <unistd.h>

#include "structgan/train/cli.hpp"
#include "structgan/objectives/options_json.hpp"
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
  // Chosen on the validation split (docs/training.md): test images at 24×24, the SVM's C = 10.
  BOOST_TEST(train::preset("fashion_mnist").eval_image_size == 24);
  BOOST_TEST(train::preset("fashion_mnist").eval_svm_c == 10.0);
  BOOST_TEST(train::preset("fashion_mnist").objective.cluster.k == 3);  // chosen on validation over 5 seeds
  BOOST_TEST(train::preset("cifar10").objective.cluster.k == 1);        // SPEC §3
  BOOST_TEST(train::preset("fashion_mnist").objective.lambda_smooth == 10.0);  // chosen on validation over 6 seeds
  // Stopping chosen on validation (seeds 55–64): 800 iterations, the best validation from 600 on evaluated.
  BOOST_TEST(train::preset("fashion_mnist").iterations == 800);
  BOOST_TEST(train::preset("fashion_mnist").validate_every == 50);
  BOOST_TEST(train::preset("fashion_mnist").validate_from == 600);
  BOOST_TEST(train::preset("fashion_mnist").eval_checkpoint == "best_validation");
  BOOST_TEST(train::preset("cifar10").eval_checkpoint == "last");
  BOOST_TEST(train::preset("fashion_mnist_long").eval_checkpoint == "last");
  BOOST_TEST(train::preset("fashion_mnist").max_grad_norm_d == 50.0);  // chosen on validation over 6 fresh seeds
  BOOST_TEST(train::preset("cifar10").max_grad_norm_d == 0.0);         // SPEC §5: no clipping
  BOOST_TEST(train::preset("fashion_mnist").rollback_every == 25);     // chosen on validation (fresh seeds 29–39, seed 1)
  BOOST_TEST(train::preset("fashion_mnist").lambda_cluster_after_takeoff == 12.0);  // chosen on validation (seeds 55–64)
  BOOST_TEST(train::preset("fashion_mnist").takeoff_distance == 4.0);
  BOOST_TEST(train::preset("cifar10").lambda_cluster_after_takeoff == 0.0);  // SPEC §5: λ_c throughout
  BOOST_TEST(train::preset("fashion_mnist_long").rollback_every == 25);
  BOOST_TEST(train::preset("cifar10").rollback_every == 0);            // SPEC §5: no rollback
  BOOST_TEST(train::preset("cifar10").eval_svm_c == 1.0);
  BOOST_TEST(train::preset("double_spiral").dataset == "double_spiral");
  // The longer recipe: the main job's run, longer, validated from iteration 0 and its last state
  // evaluated; nothing else differs.
  {
    nlohmann::json longer = train::to_json(train::preset("fashion_mnist_long"));
    const nlohmann::json main_job = train::to_json(train::preset("fashion_mnist"));
    BOOST_TEST(longer["iterations"].get<int>() == 2500);
    BOOST_TEST(longer["validate_every"].get<int>() == 500);
    BOOST_TEST(longer["validation_size"].get<int>() == 10000);
    BOOST_TEST(longer["validate_from"].get<int>() == 0);
    for (const char* k : {"preset", "iterations", "validate_every", "validate_from", "validate_kmeans_repeats",
                          "validate_svm_train_size", "eval_checkpoint", "sample_every", "checkpoint_every", "output_dir"})
      longer[k] = main_job[k];
    BOOST_TEST(longer == main_job);
  }
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
  // A linear warm-up over W = 4 iterations: 1/4, 2/4, 3/4 of the rates, then the schedule's.
  train::apply_override(c, "lr_warmup_iterations=4");
  BOOST_TEST(train::lr_factor(c, 0) == 0.25);
  BOOST_TEST(train::lr_factor(c, 1) == 0.5);
  BOOST_TEST(train::lr_factor(c, 3) == 1.0);
  BOOST_TEST(train::lr_factor(c, 4) == 1.0);
  // On top of the cosine schedule: the product of the two factors.
  train::apply_override(c, "lr_schedule=cosine");
  BOOST_TEST(train::lr_factor(c, 2) == 0.75 * 0.5 * (1.0 + std::cos(3.14159265358979323846 * 2.0 / 200.0)),
             boost::test_tools::tolerance(1e-15));
  BOOST_TEST(train::lr_factor(c, 100) == 0.5, boost::test_tools::tolerance(1e-15));
  BOOST_TEST(train::lr_factor(c, 200) == 0.0);
  BOOST_TEST(has(error_of([&] { train::apply_override(c, "lr_warmup_iterations=-1"); }), "lr_warmup_iterations"));
}

BOOST_AUTO_TEST_CASE(rollback_keys_and_their_ranges) {
  TrainConfig c = train::preset("cifar10");
  BOOST_TEST(c.rollback_every == 0);  // SPEC §5 has no rollback
  train::apply_override(c, "rollback_every=25");
  train::apply_override(c, "rollback_patience=10");
  BOOST_TEST(c.rollback_every == 25);
  BOOST_TEST(c.rollback_patience == 10);
  BOOST_TEST(has(error_of([&] { train::apply_override(c, "rollback_every=-1"); }), "rollback_every"));
  BOOST_TEST(has(error_of([&] { train::apply_override(c, "rollback_patience=0"); }), "rollback_patience"));
  BOOST_TEST(has(error_of([&] { train::apply_override(c, "rollback_distance=-0.1"); }), "rollback_distance"));
  BOOST_TEST(has(error_of([&] { train::apply_override(c, "rollback_max=-1"); }), "rollback_max"));
  const std::vector<std::string> trajectory = train::trajectory_keys();
  for (const char* k : {"rollback_every", "rollback_distance", "rollback_arm_distance", "rollback_patience", "rollback_max"})
    BOOST_TEST(std::count(trajectory.begin(), trajectory.end(), std::string(k)) == 1, k);
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
  BOOST_TEST(has(error_of([&] { train::validate(d); }), "'lr_schedule' must be one of constant, cosine, got 'step'"));
  d = train::preset("cifar10");
  d.device = "tpu";
  BOOST_TEST(has(error_of([&] { train::validate(d); }), "'device' must be one of cpu, cuda, got 'tpu'"));
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
  const auto& o = c.objective;
  BOOST_TEST(o.lambda_hinge == 4.0);
  BOOST_TEST((o.distance.kind == objectives::GaussianDistance::Jsd));
  BOOST_TEST(o.bank_size == 2048);  // the preset's objective keys survive the merge
  BOOST_TEST(o.lambda_cluster == 6.0);
}

BOOST_AUTO_TEST_CASE(config_files_name_their_preset_and_errors_name_the_file) {
  const std::string good = temp_file("good.json", R"({"preset": "double_spiral", "iterations": 7, "objective": {"knn_k": 2}})");
  const TrainConfig c = train::load_config_file(good);
  BOOST_TEST(c.dataset == "double_spiral");
  BOOST_TEST(c.iterations == 7);
  BOOST_TEST(c.objective.cluster.k == 2);
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
  BOOST_TEST(cl2.config.objective.lambda_smooth == 0.0);

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

namespace {

/// Every key set to a value other than its default, written out here (not derived from the field
/// list), so that JSON and --set round trips are checked against known values.
TrainConfig every_key_changed() {
  TrainConfig c;
  c.preset = "fashion_mnist";
  c.dataset = "cifar100";
  c.data_dir = "/data/dir with spaces";
  c.cifar100_labels = "coarse";
  c.image_size = 64;
  c.augment = false;
  c.crop_scale_min = 0.25;
  c.flip_p = 0.125;
  c.loader_threads = 3;
  c.bad_files = "skip";
  c.spiral_noise = 0.05;
  c.d_width = 48;
  c.d_channels_per_group = 8;
  c.embed_dim = 64;
  c.g_ch = 96;
  c.g_bottom_width = 8;
  c.z_dim = 100;
  c.mlp_hidden = 64;
  c.mlp_depth = 2;
  c.iterations = 1234;
  c.batch_size = 256;
  c.seed = 42;
  c.lr_d = 1e-3;
  c.lr_g = 3e-4;
  c.lr_schedule = "cosine";
  c.lr_schedule_iterations = 2000;
  c.lr_warmup_iterations = 50;
  c.max_grad_norm_d = 25.0;
  c.rollback_every = 40;
  c.rollback_distance = 0.3;
  c.rollback_arm_distance = 1.5;
  c.rollback_patience = 12;
  c.rollback_max = 5;
  c.lambda_cluster_after_takeoff = 12.0;
  c.takeoff_distance = 3.0;
  c.beta1 = 0.0;
  c.beta2 = 0.99;
  c.adam_eps = 1e-6;
  c.weight_decay_d = 0.05;
  c.ema_momentum = 0.999;
  c.objective.distance.kind = objectives::GaussianDistance::Bhattacharyya;
  c.objective.distance.eps = 0.25;
  c.objective.distance.ridge = 1e-3;
  c.objective.lambda_cluster = 2.5;
  c.objective.lambda_smooth = 0.0;
  c.objective.lambda_hinge = 4.0;
  c.objective.lambda_probe = 0.5;
  c.objective.cluster.k = 4;
  c.objective.cluster.skip_first_fake = false;
  c.objective.cluster.block_elements = 4096;
  c.objective.bank_size = 512;
  c.objective.jacobian.steps = 3;
  c.objective.jacobian.lip = 0.75;
  c.objective.jacobian.penalty = objectives::JacobianPenalty::Absolute;
  c.objective.fuse_jacobian_pass = false;
  c.objective.distance.stats = objectives::GaussianStats::PerRank;
  c.output_dir = "/tmp/every key";
  c.log_every = 10;
  c.sample_every = 50;
  c.sample_count = 16;
  c.checkpoint_every = 200;
  c.device = "cuda";
  c.cuda_tf32_conv = false;
  c.cuda_tf32_matmul = true;
  c.eval_at_end = false;
  c.eval_batch = 250;
  c.eval_image_size = 48;
  c.eval_svm_train_size = 1000;
  c.eval_svm_c = 8.0;
  c.eval_kmeans_repeats = 5;
  c.eval_tsne_points = 300;
  c.eval_random_baseline = false;
  c.fid_every = 500;
  c.fid_inception_weights = std::string(STRUCTGAN_SOURCE_DIR) + "/LICENSE";  // validate() wants an existing file
  c.fid_samples = 2000;
  c.fid_batch = 25;
  c.validation_size = 500;
  c.validation_seed = 9;
  c.eval_embedding = false;
  c.validate_every = 250;
  c.validate_svm_train_size = 2000;
  c.validate_kmeans_repeats = 3;
  c.validate_from = 500;
  c.eval_checkpoint = "best_validation";
  return c;
}

/// Checks every member against the values of every_key_changed().
void check_every_key_changed(const TrainConfig& c) {
  BOOST_TEST(c.preset == "fashion_mnist");
  BOOST_TEST(c.dataset == "cifar100");
  BOOST_TEST(c.data_dir == "/data/dir with spaces");
  BOOST_TEST(c.cifar100_labels == "coarse");
  BOOST_TEST(c.image_size == 64);
  BOOST_TEST(!c.augment);
  BOOST_TEST(c.crop_scale_min == 0.25);
  BOOST_TEST(c.flip_p == 0.125);
  BOOST_TEST(c.loader_threads == 3);
  BOOST_TEST(c.bad_files == "skip");
  BOOST_TEST(c.spiral_noise == 0.05);
  BOOST_TEST(c.d_width == 48);
  BOOST_TEST(c.d_channels_per_group == 8);
  BOOST_TEST(c.embed_dim == 64);
  BOOST_TEST(c.g_ch == 96);
  BOOST_TEST(c.g_bottom_width == 8);
  BOOST_TEST(c.z_dim == 100);
  BOOST_TEST(c.mlp_hidden == 64);
  BOOST_TEST(c.mlp_depth == 2);
  BOOST_TEST(c.iterations == 1234);
  BOOST_TEST(c.batch_size == 256);
  BOOST_TEST(c.seed == 42);
  BOOST_TEST(c.lr_d == 1e-3);
  BOOST_TEST(c.lr_g == 3e-4);
  BOOST_TEST(c.lr_schedule == "cosine");
  BOOST_TEST(c.lr_schedule_iterations == 2000);
  BOOST_TEST(c.lr_warmup_iterations == 50);
  BOOST_TEST(c.max_grad_norm_d == 25.0);
  BOOST_TEST(c.rollback_every == 40);
  BOOST_TEST(c.rollback_distance == 0.3);
  BOOST_TEST(c.rollback_arm_distance == 1.5);
  BOOST_TEST(c.rollback_patience == 12);
  BOOST_TEST(c.rollback_max == 5);
  BOOST_TEST(c.lambda_cluster_after_takeoff == 12.0);
  BOOST_TEST(c.takeoff_distance == 3.0);
  BOOST_TEST(c.beta1 == 0.0);
  BOOST_TEST(c.beta2 == 0.99);
  BOOST_TEST(c.adam_eps == 1e-6);
  BOOST_TEST(c.weight_decay_d == 0.05);
  BOOST_TEST(c.ema_momentum == 0.999);
  BOOST_TEST((c.objective.distance.kind == objectives::GaussianDistance::Bhattacharyya));
  BOOST_TEST(c.objective.distance.eps == 0.25);
  BOOST_TEST(c.objective.distance.ridge == 1e-3);
  BOOST_TEST(c.objective.lambda_cluster == 2.5);
  BOOST_TEST(c.objective.lambda_smooth == 0.0);
  BOOST_TEST(c.objective.lambda_hinge == 4.0);
  BOOST_TEST(c.objective.lambda_probe == 0.5);
  BOOST_TEST(c.objective.cluster.k == 4);
  BOOST_TEST(!c.objective.cluster.skip_first_fake);
  BOOST_TEST(c.objective.cluster.block_elements == 4096);
  BOOST_TEST(c.objective.bank_size == 512);
  BOOST_TEST(c.objective.jacobian.steps == 3);
  BOOST_TEST(c.objective.jacobian.lip == 0.75);
  BOOST_TEST((c.objective.jacobian.penalty == objectives::JacobianPenalty::Absolute));
  BOOST_TEST(!c.objective.fuse_jacobian_pass);
  BOOST_TEST((c.objective.distance.stats == objectives::GaussianStats::PerRank));
  BOOST_TEST(c.output_dir == "/tmp/every key");
  BOOST_TEST(c.log_every == 10);
  BOOST_TEST(c.sample_every == 50);
  BOOST_TEST(c.sample_count == 16);
  BOOST_TEST(c.checkpoint_every == 200);
  BOOST_TEST(c.device == "cuda");
  BOOST_TEST(!c.cuda_tf32_conv);
  BOOST_TEST(c.cuda_tf32_matmul);
  BOOST_TEST(!c.eval_at_end);
  BOOST_TEST(c.eval_batch == 250);
  BOOST_TEST(c.eval_image_size == 48);
  BOOST_TEST(c.eval_svm_train_size == 1000);
  BOOST_TEST(c.eval_svm_c == 8.0);
  BOOST_TEST(c.eval_kmeans_repeats == 5);
  BOOST_TEST(c.eval_tsne_points == 300);
  BOOST_TEST(!c.eval_random_baseline);
  BOOST_TEST(c.fid_every == 500);
  BOOST_TEST(c.fid_inception_weights == std::string(STRUCTGAN_SOURCE_DIR) + "/LICENSE");
  BOOST_TEST(c.fid_samples == 2000);
  BOOST_TEST(c.fid_batch == 25);
  BOOST_TEST(c.validation_size == 500);
  BOOST_TEST(c.validation_seed == 9);
  BOOST_TEST(!c.eval_embedding);
  BOOST_TEST(c.validate_every == 250);
  BOOST_TEST(c.validate_svm_train_size == 2000);
  BOOST_TEST(c.validate_kmeans_repeats == 3);
  BOOST_TEST(c.validate_from == 500);
  BOOST_TEST(c.eval_checkpoint == "best_validation");
}

/// The `key=value` overrides that set every key of j (objective keys dotted), values as JSON.
std::vector<std::string> overrides_of(const nlohmann::json& j, const std::string& prefix = "") {
  std::vector<std::string> out;
  for (const auto& item : j.items()) {
    if (item.value().is_object()) {
      for (const auto& o : overrides_of(item.value(), prefix + item.key() + ".")) out.push_back(o);
    } else {
      out.push_back(prefix + item.key() + "=" + item.value().dump());
    }
  }
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  BOOST_TEST_REQUIRE(static_cast<bool>(in), path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The first Markdown table after the line `heading` in a file.
std::string table_after(const std::string& path, const std::string& heading) {
  std::istringstream in(read_text(path));
  std::string line, table;
  bool seen = false;
  while (std::getline(in, line)) {
    if (line == heading) seen = true;
    else if (seen && line.rfind("|", 0) == 0) table += line + "\n";
    else if (seen && !table.empty()) break;
  }
  return table;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_key_round_trips_through_json_and_set) {
  const TrainConfig c = every_key_changed();
  BOOST_CHECK_NO_THROW(train::validate(c));
  const nlohmann::json j = train::to_json(c), defaults = train::to_json(TrainConfig{});
  // Every key differs from its default, so a key that writing or reading dropped would show.
  BOOST_TEST(j.size() == train::config_keys().size());
  BOOST_TEST(j["objective"].size() == 16u);
  for (const auto& item : j.items()) {
    if (item.key() == "objective") {
      for (const auto& o : item.value().items()) BOOST_TEST(o.value() != defaults["objective"][o.key()], o.key());
    } else {
      BOOST_TEST(item.value() != defaults[item.key()], item.key());
    }
  }
  // The written format: flat keys, the objective nested, enums by name.
  BOOST_TEST(j["batch_size"] == 256);
  BOOST_TEST(j["objective"]["distance"] == "bhattacharyya");
  BOOST_TEST(j["objective"]["jacobian_penalty"] == "absolute");
  BOOST_TEST(j["objective"]["power_steps"] == 3);
  // JSON text back into another preset.
  TrainConfig from_json = train::preset("double_spiral");
  train::apply_json(from_json, nlohmann::json::parse(j.dump(2)));
  check_every_key_changed(from_json);
  // One --set per key.
  TrainConfig from_set = train::preset("double_spiral");
  const std::vector<std::string> sets = overrides_of(j);
  BOOST_TEST(sets.size() == j.size() - 1 + 16);
  for (const auto& s : sets) train::apply_override(from_set, s);
  check_every_key_changed(from_set);
  // Strings may go unquoted; a string key takes text that reads as other JSON.
  train::apply_override(from_set, "objective.distance=jsd");
  train::apply_override(from_set, "output_dir=123");
  BOOST_TEST((from_set.objective.distance.kind == objectives::GaussianDistance::Jsd));
  BOOST_TEST(from_set.output_dir == "123");
}

BOOST_AUTO_TEST_CASE(out_of_range_values_fail_naming_the_key_and_its_range) {
  const std::pair<const char*, const char*> cases[] = {
      {"objective.lambda_cluster=-1", "'objective.lambda_cluster' = -1 must be ≥ 0"},
      {"objective.lambda_smooth=-0.5", "'objective.lambda_smooth' = -0.5 must be ≥ 0"},
      {"objective.lambda_hinge=-1", "'objective.lambda_hinge' = -1 must be ≥ 0"},
      {"objective.lambda_probe=-2", "'objective.lambda_probe' = -2 must be ≥ 0"},
      {"objective.knn_k=0", "'objective.knn_k' = 0 must be ≥ 1"},
      {"objective.power_steps=0", "'objective.power_steps' = 0 must be ≥ 1"},
      {"objective.power_steps=2147483648", "'objective.power_steps' = 2147483648 must be ≤ 2147483647"},
      {"objective.logdet_eps=0", "'objective.logdet_eps' = 0 must be > 0"},
      {"objective.ridge=-1e-9", "'objective.ridge' = -1e-09 must be ≥ 0"},
      {"objective.lip=0", "'objective.lip' = 0 must be > 0"},
      {"objective.knn_block_elements=0", "'objective.knn_block_elements' = 0 must be ≥ 1"},
      {"objective.bank_size=0", "'objective.bank_size' = 0 must be ≥ 1"},
      {"objective.distance=kl", "'objective.distance' must be one of logdet, jsd, bhattacharyya, got 'kl'"},
      {"objective.jacobian_penalty=cubic", "'objective.jacobian_penalty' must be one of squared, absolute, got 'cubic'"},
      {"crop_scale_min=1.5", "'crop_scale_min' = 1.5 must be in [0.01, 1]"},
      {"flip_p=-0.1", "'flip_p' = -0.1 must be in [0, 1]"},
      {"beta1=1", "'beta1' = 1 must be in [0, 1)"},
      {"beta2=1.5", "'beta2' = 1.5 must be in [0, 1)"},
      {"ema_momentum=1.01", "'ema_momentum' = 1.01 must be in [0, 1]"},
      {"batch_size=1", "'batch_size' = 1 must be ≥ 2"},
      {"seed=18446744073709551615", "'seed' = 18446744073709551615 must be ≤ 9223372036854775807"},
      {"cifar100_labels=both", "'cifar100_labels' must be one of fine, coarse, got 'both'"},
  };
  const nlohmann::json before = train::to_json(train::preset("cifar10"));
  for (const auto& kase : cases) {
    TrainConfig c = train::preset("cifar10");
    BOOST_TEST(has(error_of([&] { train::apply_override(c, kase.first); }), kase.second), kase.first);
    BOOST_TEST(train::to_json(c) == before, kase.first);  // a refused value changes nothing
  }
  // The same ranges hold for values set in code.
  TrainConfig c = train::preset("cifar10");
  c.objective.lambda_hinge = -1;
  BOOST_TEST(has(error_of([&] { train::validate(c); }), "'objective.lambda_hinge' = -1 must be ≥ 0"));
  c = train::preset("cifar10");
  c.objective.jacobian.steps = 0;
  BOOST_TEST(has(error_of([&] { train::validate(c); }), "'objective.power_steps' = 0 must be ≥ 1"));
  c = train::preset("cifar10");
  c.objective.distance.eps = std::numeric_limits<double>::infinity();
  BOOST_TEST(has(error_of([&] { train::validate(c); }), "'objective.logdet_eps' = inf must be a finite number > 0"));
  c = train::preset("cifar10");
  c.beta2 = 1.0;
  BOOST_TEST(has(error_of([&] { train::validate(c); }), "'beta2' = 1 must be in [0, 1)"));
  // A bank smaller than the batch: checked once every key is set, naming both keys.
  c = train::preset("fashion_mnist");
  const auto bank = c.objective.bank_size;  // the preset's, whatever it is chosen to be
  c.batch_size = bank + 1;
  BOOST_TEST(has(error_of([&] { train::validate(c); }), "'objective.bank_size' = " + std::to_string(bank) +
                                                           " must be ≥ 'batch_size' = " + std::to_string(bank + 1)));
  c.batch_size = bank;
  BOOST_CHECK_NO_THROW(train::validate(c));
}

BOOST_AUTO_TEST_CASE(command_line_flags_come_from_the_field_list) {
  std::vector<std::string> flags;
  const TrainConfig defaults;
  train::visit_fields(defaults, [&](const fields::Key& k, const auto&) {
    if (k.flag) flags.emplace_back(std::string(k.flag) + "=" + k.name);
  });
  const std::vector<std::string> expected{"--dataset=dataset",       "--data-dir=data_dir", "--iterations=iterations",
                                          "--batch-size=batch_size", "--seed=seed",         "--output=output_dir",
                                          "--device=device"};
  BOOST_TEST(flags == expected, boost::test_tools::per_element());

  const char* argv[] = {"prog",         "--dataset", "double_spiral", "--data-dir", "/d", "--iterations", "12",
                        "--batch-size", "32",        "--seed",        "9",          "--output", "123", "--device", "cuda"};
  train::CommandLine cl;
  BOOST_TEST(train::parse_command_line(15, argv, "fashion_mnist", "test", cl) == -1);
  BOOST_TEST(cl.config.dataset == "double_spiral");
  BOOST_TEST(cl.config.data_dir == "/d");
  BOOST_TEST(cl.config.iterations == 12);
  BOOST_TEST(cl.config.batch_size == 32);
  BOOST_TEST(cl.config.seed == 9);
  BOOST_TEST(cl.config.output_dir == "123");
  BOOST_TEST(cl.config.device == "cuda");
  BOOST_TEST(cl.config.lr_d == 1e-3);  // the rest is the default preset's

  const char* later_set[] = {"prog", "--seed", "9", "--set", "seed=10"};
  BOOST_TEST(train::parse_command_line(5, later_set, "fashion_mnist", "test", cl) == -1);
  BOOST_TEST(cl.config.seed == 10);  // --set applies after the flags
  for (const char* bad : {"1", "-3", "many"}) {
    const char* bad_batch[] = {"prog", "--batch-size", bad};
    BOOST_TEST(train::parse_command_line(3, bad_batch, "fashion_mnist", "test", cl) == 2, bad);
  }
}

BOOST_AUTO_TEST_CASE(list_keys_prints_the_table_of_every_key) {
  std::ostringstream captured;
  std::streambuf* const old = std::cout.rdbuf(captured.rdbuf());
  const char* argv[] = {"prog", "--list-keys"};
  train::CommandLine cl;
  const int rc = train::parse_command_line(2, argv, "fashion_mnist", "test", cl);
  std::cout.rdbuf(old);
  BOOST_TEST(rc == 0);
  BOOST_TEST(captured.str() == train::describe_keys());
  BOOST_TEST(has(captured.str(), "| objective.lambda_hinge | number | 20.0 | ≥ 0 |"));
  BOOST_TEST(has(captured.str(), "| beta1 | number | 0.5 | in [0, 1) |"));
  BOOST_TEST(has(captured.str(), "| device | string | \"cpu\" | cpu \\| cuda |"));
}

BOOST_AUTO_TEST_CASE(docs_hold_the_generated_key_tables) {
  const std::string docs = std::string(STRUCTGAN_SOURCE_DIR) + "/docs/";
  BOOST_TEST(table_after(docs + "training.md", "## Configuration keys") == train::describe_keys());
  BOOST_TEST(table_after(docs + "objectives.md", "### Options and JSON") == objectives::describe_options());
}

BOOST_AUTO_TEST_CASE(a_config_json_of_the_untyped_options_loads_unchanged) {
  // Written by train::to_json before the objective's options were typed (fashion_mnist and overrides).
  const std::string path = std::string(STRUCTGAN_SOURCE_DIR) + "/tests/train/data/config_v1.json";
  const TrainConfig c = train::load_config_file(path);
  BOOST_TEST(c.preset == "fashion_mnist");
  BOOST_TEST(c.dataset == "fashion_mnist");
  BOOST_TEST(c.iterations == 321);
  BOOST_TEST(c.seed == 7);
  BOOST_TEST(c.batch_size == 48);
  BOOST_TEST(c.output_dir == "runs/fixture");
  BOOST_TEST(c.lr_schedule == "cosine");
  BOOST_TEST(c.lr_schedule_iterations == 400);
  BOOST_TEST(!c.augment);
  BOOST_TEST(c.image_size == 16);
  BOOST_TEST(c.g_bottom_width == 2);
  BOOST_TEST(c.d_width == 32);
  BOOST_TEST(c.lr_d == 1e-3);
  BOOST_TEST((c.objective.distance.kind == objectives::GaussianDistance::Jsd));
  BOOST_TEST(c.objective.distance.ridge == 1e-3);
  BOOST_TEST(c.objective.distance.eps == 0.5);
  BOOST_TEST(c.objective.cluster.k == 2);
  BOOST_TEST(!c.objective.cluster.skip_first_fake);
  BOOST_TEST(c.objective.lambda_hinge == 4.0);
  BOOST_TEST(c.objective.lambda_cluster == 6.0);
  BOOST_TEST(c.objective.lambda_smooth == 5.0);
  BOOST_TEST(c.objective.bank_size == 4096);
  BOOST_TEST(c.objective.jacobian.steps == 2);
  BOOST_TEST((c.objective.jacobian.penalty == objectives::JacobianPenalty::Absolute));
  BOOST_TEST(c.objective.fuse_jacobian_pass);
  BOOST_TEST(c.bad_files == "fail");  // a key added since takes its (preset's) default
  BOOST_TEST((c.objective.distance.stats == objectives::GaussianStats::Global));
  BOOST_TEST(c.fid_every == 0);  // FID during training (added since): off
  BOOST_TEST(c.eval_svm_c == 10.0);  // the SVM's C (added since): the preset's
  BOOST_TEST(c.validation_size == 10000);
  BOOST_TEST(c.cuda_tf32_conv);     // TF32 (added since): PyTorch's defaults
  BOOST_TEST(!c.cuda_tf32_matmul);
  BOOST_TEST(c.lr_warmup_iterations == 0);  // the warm-up (added since): none
  BOOST_TEST(c.max_grad_norm_d == 50.0);     // clipping (added since): the preset's
  BOOST_TEST(c.rollback_every == train::preset("fashion_mnist").rollback_every);  // rollback (added since): the preset's
  BOOST_TEST(c.lambda_cluster_after_takeoff == train::preset("fashion_mnist").lambda_cluster_after_takeoff);  // (added since): the preset's
  // And it is written back byte for byte as run.hpp writes config.json, but for the keys added since.
  nlohmann::json written = train::to_json(c);
  for (const char* added : {"bad_files", "fid_every", "fid_inception_weights", "fid_samples", "fid_batch", "validation_size",
                            "validation_seed", "eval_embedding", "eval_svm_c", "validate_every",
                            "validate_svm_train_size", "validate_kmeans_repeats", "cuda_tf32_conv", "cuda_tf32_matmul",
                            "lr_warmup_iterations", "max_grad_norm_d", "rollback_every", "rollback_distance",
                            "rollback_arm_distance", "rollback_patience", "rollback_max", "lambda_cluster_after_takeoff",
                            "takeoff_distance", "validate_from", "eval_checkpoint"})
    written.erase(added);
  for (const char* added : {"gaussian_stats"}) written["objective"].erase(added);
  BOOST_TEST(written.dump(2) + "\n" == read_text(path));
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

// The TF32 keys of --device cuda runs (backend/cuda/tf32.hpp): PyTorch's defaults in every preset
// (convolutions on, matrix products off), booleans from JSON and --set, wrong types refused by name.
BOOST_AUTO_TEST_CASE(cuda_tf32_keys) {
  for (const char* name : {"cifar10", "cifar100", "imagenet10", "fashion_mnist", "double_spiral"}) {
    const TrainConfig c = train::preset(name);
    BOOST_TEST(c.cuda_tf32_conv, name);
    BOOST_TEST(!c.cuda_tf32_matmul, name);
  }
  TrainConfig c = train::preset("fashion_mnist");
  train::apply_json(c, nlohmann::json{{"cuda_tf32_conv", false}, {"cuda_tf32_matmul", true}}, "test");
  BOOST_TEST(!c.cuda_tf32_conv);
  BOOST_TEST(c.cuda_tf32_matmul);
  train::apply_override(c, "cuda_tf32_conv=true");
  BOOST_TEST(c.cuda_tf32_conv);
  const nlohmann::json j = train::to_json(c);
  BOOST_TEST(j.at("cuda_tf32_conv").get<bool>());
  BOOST_TEST(j.at("cuda_tf32_matmul").get<bool>());
  BOOST_CHECK_EXCEPTION(train::apply_json(c, nlohmann::json{{"cuda_tf32_matmul", "yes"}}, "test"), Error,
                        [](const Error& e) { return std::string(e.what()).find("cuda_tf32_matmul") != std::string::npos; });
  BOOST_TEST(c.cuda_tf32_matmul);  // a refused value leaves the config unchanged
}
