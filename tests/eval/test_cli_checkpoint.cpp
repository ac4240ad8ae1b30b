#define BOOST_TEST_MODULE eval_cli_checkpoint
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "structgan/io/npy.hpp"
#include "structgan/train/all.hpp"
#include "../common/program_test.hpp"
#include "../common/tiny_image_config.hpp"

// structgan-eval --checkpoint end to end (executable path in argv[1]): a tiny image run (ResNet-18 of width 4 on
// 8×8 gray images written as Fashion-MNIST IDX files) trains 2 iterations and saves its checkpoint through
// train::Trainer::save; the CLI rebuilds the EMA discriminator, extracts f^b and f~ and writes the Table 1 rows.
namespace sg = structgan;
namespace io = structgan::io;
namespace fs = std::filesystem;

namespace {
namespace st = structgan::testing;
std::string exe() { return st::program_path("eval_cli_checkpoint PATH_TO_structgan-eval"); }
int run(const std::string& args, const fs::path& log) { return st::run_program(exe(), args, log); }
std::string slurp(const fs::path& p) { return st::read_file(p); }
// n 8×8 gray images of 3 classes (class y: a bright 4×4 block at corner y, over noise) as an IDX pair.
void write_idx(const fs::path& dir, const std::string& prefix, int n, std::uint64_t seed) {
  sg::Rng rng(seed);
  st::write_idx_images(dir, prefix, n, 8, 8, [](int i) { return i % 3; }, [&](int i, int r, int c) {
    const int y = i % 3, r0 = y == 2 ? 4 : 0, c0 = y == 1 ? 4 : 0;
    const bool on = r >= r0 && r < r0 + 4 && c >= c0 && c < c0 + 4;
    return static_cast<int>((on ? 180 : 20) + rng.below(60));
  });
}
}  // namespace

BOOST_AUTO_TEST_CASE(table1_rows_of_a_trained_checkpoint) {
  const fs::path dir = fs::temp_directory_path() / ("structgan_eval_ckpt_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "data");
  write_idx(dir / "data", "train", 60, 1);
  write_idx(dir / "data", "t10k", 30, 2);

  sg::train::TrainConfig c = sg::testing::tiny_image_config((dir / "run").string());
  c.data_dir = (dir / "data").string();
  c.iterations = 2;
  c.validation_size = 12;  // held out of the 60 train images: the SVM learns from the other 48
  const std::string ckpt = (dir / "run" / "checkpoint.ckpt").string();
  fs::create_directories(dir / "run");
  auto t = sg::train::make_image_trainer<float>(c, sg::train::make_train_data(c));
  t.step();
  t.step();
  t.save(ckpt);

  // f^b and f~ of the first test images through the trainer's own EMA discriminator (test transform)
  const sg::data::ImageSet test = sg::train::load_split(c, sg::data::Split::test);
  sg::data::LoaderOptions lo;
  lo.batch_size = 5;
  lo.shuffle = false;
  sg::data::BatchLoader loader(test, sg::train::test_transform_of(c, 8, 8), lo);
  const sg::data::Batch b = loader.next();
  sg::Tensor<float> x(sg::Shape{b.n, b.c, b.h, b.w});
  std::copy(b.images.begin(), b.images.end(), x.data());
  sg::Tensor<float> ref_fb, ref_ft;
  {
    sg::NoGradGuard no_grad;
    const auto out = t.ema_discriminator()(x);
    ref_fb = out.f_b;
    ref_ft = out.f_tilde;
  }

  const fs::path log = dir / "log.txt";
  const std::string common = " --repeats 2 --threads 1 --tsne-iterations 100";
  BOOST_REQUIRE_EQUAL(run("--checkpoint '" + ckpt + "' --json '" + (dir / "rows.json").string() + "' --plots '" +
                              (dir / "plots").string() + "' --save-features '" + (dir / "features").string() + "'" + common,
                          log),
                      0);
  const std::string out = slurp(log);
  BOOST_TEST_MESSAGE(out);
  BOOST_CHECK(out.find("| EMA D f^b ") != std::string::npos);
  BOOST_CHECK(out.find("| EMA D f~ ") != std::string::npos);

  const nlohmann::json j = nlohmann::json::parse(slurp(dir / "rows.json"));
  BOOST_CHECK_EQUAL(j.at("iteration").get<int>(), 2);
  BOOST_CHECK_EQUAL(j.at("dataset").get<std::string>(), "fashion_mnist");
  BOOST_CHECK_EQUAL(j.at("train_images").get<int>(), 48);
  BOOST_CHECK_EQUAL(j.at("split").get<std::string>(), "test");
  BOOST_CHECK_EQUAL(j.at("test_images").get<int>(), 30);
  BOOST_CHECK_EQUAL(j.at("config").at("d_width").get<int>(), 4);
  BOOST_REQUIRE_EQUAL(j.at("rows").size(), 2u);
  const nlohmann::json& fb = j["rows"][0];
  const nlohmann::json& ft = j["rows"][1];
  BOOST_CHECK_EQUAL(fb.at("features").get<std::string>(), "f_b");
  BOOST_CHECK_EQUAL(ft.at("features").get<std::string>(), "f_tilde");
  BOOST_CHECK_EQUAL(fb.at("dims").get<int>(), 32);  // 8 × d_width
  BOOST_CHECK_EQUAL(ft.at("dims").get<int>(), 8);   // embed_dim
  for (const auto* r : {&fb, &ft}) {
    BOOST_CHECK_EQUAL(r->at("train_samples").get<int>(), 48);
    BOOST_CHECK_EQUAL(r->at("test_samples").get<int>(), 30);
    BOOST_CHECK_EQUAL(r->at("classes").get<int>(), 3);
    BOOST_CHECK_EQUAL(r->at("kmeans_repeats").get<int>(), 2);
    for (const char* k : {"svm_accuracy", "kmeans_accuracy_mean", "knn_accuracy", "nmi"}) {
      const double v = r->at(k).get<double>();
      BOOST_CHECK_MESSAGE(v >= 0.0 && v <= 1.0, k << " = " << v);
    }
    BOOST_CHECK(r->at("kmeans_accuracy_mean").get<double>() >= 1.0 / 3.0);  // Hungarian: at least the largest class
    BOOST_CHECK(std::abs(r->at("ari").get<double>()) <= 1.0);
  }
  // the classes differ in where a bright block lies: even a barely trained backbone separates them linearly
  BOOST_CHECK_GE(fb.at("svm_accuracy").get<double>(), 0.8);

  // the features are those of the trainer's EMA discriminator, in test-set order
  const sg::RowMatrixF tfb = io::read_npy_matrix<float>((dir / "features" / "test_fb.npy").string());
  const sg::RowMatrixF tft = io::read_npy_matrix<float>((dir / "features" / "test_ftilde.npy").string());
  BOOST_REQUIRE_EQUAL(tfb.rows(), 30);
  BOOST_REQUIRE_EQUAL(tfb.cols(), 32);
  BOOST_REQUIRE_EQUAL(tft.cols(), 8);
  // (a batch of 5 here, the whole test split there, another optimization level: last digits may differ)
  auto close = [](float a, float b) { return std::abs(a - b) <= 1e-4f * (1.0f + std::abs(b)); };
  for (int i = 0; i < 5; ++i) {
    for (int k = 0; k < 32; ++k) BOOST_CHECK_MESSAGE(close(tfb(i, k), ref_fb.at(i, k)), tfb(i, k) << " vs " << ref_fb.at(i, k));
    for (int k = 0; k < 8; ++k) BOOST_CHECK_MESSAGE(close(tft(i, k), ref_ft.at(i, k)), tft(i, k) << " vs " << ref_ft.at(i, k));
  }
  BOOST_CHECK(io::read_labels((dir / "features" / "test_labels.npy").string()) == test.labels);

  // --split validation: the 12 held-out train images (4 per class) are evaluated instead of the test split
  BOOST_REQUIRE_EQUAL(run("--checkpoint '" + ckpt + "' --split validation --no-knn --json '" +
                              (dir / "validation.json").string() + "' --save-features '" + (dir / "vfeatures").string() +
                              "'" + common,
                          log),
                      0);
  BOOST_CHECK_MESSAGE(slurp(log).find("held-out validation images") != std::string::npos, slurp(log));
  const nlohmann::json v = nlohmann::json::parse(slurp(dir / "validation.json"));
  BOOST_CHECK_EQUAL(v.at("split").get<std::string>(), "validation");
  BOOST_CHECK_EQUAL(v.at("rows")[0].at("train_samples").get<int>(), 48);
  BOOST_CHECK_EQUAL(v.at("rows")[0].at("test_samples").get<int>(), 12);
  {
    const std::vector<int> vy = io::read_labels((dir / "vfeatures" / "test_labels.npy").string());
    for (int k = 0; k < 3; ++k) BOOST_CHECK_EQUAL(std::count(vy.begin(), vy.end(), k), 4);  // stratified
  }
  BOOST_CHECK_NE(run("--checkpoint '" + ckpt + "' --split train" + common, log), 0);
  BOOST_CHECK_MESSAGE(slurp(log).find("--split") != std::string::npos, slurp(log));

  // --image-size 16: the test images are resized to 16×16 (eval_image_size) before the backbone
  sg::train::TrainConfig c16 = c;
  c16.eval_image_size = 16;
  const sg::data::Transform t16 = sg::train::test_transform_of(c16, 8, 8);
  BOOST_CHECK_EQUAL(t16.out_h, 16);
  BOOST_CHECK_EQUAL(sg::train::test_transform_of(c, 8, 8).out_h, 8);
  BOOST_CHECK_EQUAL(sg::train::train_transform_of(c16, 8, 8).out_h, 8);  // training keeps image_size
  sg::data::BatchLoader loader16(test, t16, lo);
  const sg::data::Batch b16 = loader16.next();
  BOOST_REQUIRE_EQUAL(b16.h, 16);
  sg::Tensor<float> x16(sg::Shape{b16.n, b16.c, b16.h, b16.w});
  std::copy(b16.images.begin(), b16.images.end(), x16.data());
  sg::Tensor<float> ref16;
  {
    sg::NoGradGuard no_grad;
    ref16 = t.ema_discriminator()(x16).f_b;
  }
  BOOST_REQUIRE_EQUAL(run("--checkpoint '" + ckpt + "' --image-size 16 --no-svm --no-kmeans --no-knn --save-features '" +
                              (dir / "features16").string() + "'" + common,
                          log),
                      0);
  const sg::RowMatrixF tfb16 = io::read_npy_matrix<float>((dir / "features16" / "test_fb.npy").string());
  BOOST_REQUIRE_EQUAL(tfb16.rows(), 30);
  bool differs = false;
  for (int i = 0; i < 5; ++i)
    for (int k = 0; k < 32; ++k) {
      BOOST_CHECK_MESSAGE(close(tfb16(i, k), ref16.at(i, k)), tfb16(i, k) << " vs " << ref16.at(i, k));
      differs = differs || !close(tfb16(i, k), ref_fb.at(i, k));
    }
  BOOST_CHECK(differs);  // not the 8×8 features
  BOOST_CHECK_EQUAL(run("--checkpoint '" + ckpt + "' --image-size 4 --no-svm --no-kmeans --no-knn" + common, log), 1);
  BOOST_CHECK_MESSAGE(slurp(log).find("'eval_image_size' = 4 must be 0 (image_size) or at least 8") != std::string::npos, slurp(log));
  BOOST_CHECK(fs::file_size(dir / "plots" / "tsne_fb_labels.png") > 1000);
  BOOST_CHECK(fs::file_size(dir / "plots" / "tsne_ftilde_labels.png") > 1000);

  // the feature-file mode on the saved features gives the same SVM accuracy
  const fs::path f = dir / "features";
  BOOST_REQUIRE_EQUAL(run("--train-features '" + (f / "train_fb.npy").string() + "' --train-labels '" +
                              (f / "train_labels.npy").string() + "' --test-features '" + (f / "test_fb.npy").string() +
                              "' --test-labels '" + (f / "test_labels.npy").string() + "' --no-kmeans --no-knn --threads 1 --json '" +
                              (dir / "fb.json").string() + "'",
                          log),
                      0);
  BOOST_CHECK_EQUAL(nlohmann::json::parse(slurp(dir / "fb.json")).at("svm_accuracy").get<double>(),
                    fb.at("svm_accuracy").get<double>());

  // --data-dir: the data moved elsewhere; subsets with --train-size / --test-size
  fs::rename(dir / "data", dir / "moved");
  BOOST_CHECK_EQUAL(run("--checkpoint '" + ckpt + "'" + common, log), 1);
  BOOST_CHECK_MESSAGE(slurp(log).find("--data-dir") != std::string::npos, slurp(log));
  BOOST_CHECK(slurp(log).find("Fashion-MNIST") != std::string::npos);
  BOOST_REQUIRE_EQUAL(run("--checkpoint '" + ckpt + "' --data-dir '" + (dir / "moved").string() +
                              "' --train-size 40 --test-size 20 --no-kmeans --no-knn --json '" + (dir / "sub.json").string() +
                              "'" + common,
                          log),
                      0);
  const nlohmann::json sub = nlohmann::json::parse(slurp(dir / "sub.json"));
  BOOST_CHECK_EQUAL(sub.at("rows")[0].at("train_samples").get<int>(), 40);
  BOOST_CHECK_EQUAL(sub.at("rows")[0].at("test_samples").get<int>(), 20);
  BOOST_CHECK(sub.at("rows")[0].at("kmeans_accuracy_mean").is_null());

  // clear errors: missing, truncated, corrupt and foreign checkpoints; conflicting options
  BOOST_CHECK_EQUAL(run("--checkpoint '" + (dir / "none.ckpt").string() + "'", log), 1);
  BOOST_CHECK_MESSAGE(slurp(log).find("none.ckpt' does not exist") != std::string::npos, slurp(log));
  const std::string bytes = slurp(ckpt);
  std::ofstream(dir / "cut.ckpt", std::ios::binary) << bytes.substr(0, bytes.size() - 100);
  BOOST_CHECK_EQUAL(run("--checkpoint '" + (dir / "cut.ckpt").string() + "' --data-dir '" + (dir / "moved").string() + "'", log), 1);
  BOOST_CHECK_MESSAGE(slurp(log).find("cut.ckpt") != std::string::npos, slurp(log));
  // A byte flipped inside an entry the evaluation reads (the EMA D's first tensor): the blobs lie
  // back to back at the end of the file, so an entry's byte is at size − (end of the last blob) +
  // offset. (Entries it does not read, such as the rollback snapshots, are not verified.)
  std::uint64_t blobs_end = 0, flip_offset = 0;
  bool found = false;
  for (const auto& e : sg::io::read_checkpoint_info(ckpt)) {
    blobs_end = std::max(blobs_end, e.offset + e.bytes);
    if (!found && e.name.rfind("D_ema.", 0) == 0 && e.bytes > 0) flip_offset = e.offset + e.bytes / 2, found = true;
  }
  BOOST_REQUIRE(found);
  std::string flipped = bytes;
  const std::size_t at = bytes.size() - blobs_end + flip_offset;
  flipped[at] = static_cast<char>(flipped[at] ^ 0x55);
  std::ofstream(dir / "flip.ckpt", std::ios::binary) << flipped;
  BOOST_CHECK_EQUAL(run("--checkpoint '" + (dir / "flip.ckpt").string() + "' --data-dir '" + (dir / "moved").string() + "'", log), 1);
  BOOST_CHECK_MESSAGE(slurp(log).find("flip.ckpt") != std::string::npos, slurp(log));
  std::ofstream(dir / "text.ckpt") << "not a checkpoint\n";
  BOOST_CHECK_EQUAL(run("--checkpoint '" + (dir / "text.ckpt").string() + "'", log), 1);
  BOOST_CHECK_MESSAGE(slurp(log).find("text.ckpt") != std::string::npos, slurp(log));
  {
    sg::io::Checkpoint other;
    std::int64_t k = 7;
    other.integer("epoch", k);
    sg::io::save_checkpoint((dir / "other.ckpt").string(), other);
  }
  BOOST_CHECK_EQUAL(run("--checkpoint '" + (dir / "other.ckpt").string() + "'", log), 1);
  BOOST_CHECK_MESSAGE(slurp(log).find("not written by the trainer") != std::string::npos, slurp(log));
  BOOST_CHECK_NE(run("--checkpoint '" + ckpt + "' --train-features '" + (f / "train_fb.npy").string() + "'", log), 0);
  BOOST_CHECK_EQUAL(run("--data-dir x", log), 1);
  BOOST_CHECK(slurp(log).find("need --checkpoint") != std::string::npos);
  fs::remove_all(dir);
}
