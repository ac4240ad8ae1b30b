#define BOOST_TEST_MODULE io_checkpoint
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "../common/temp_dir.hpp"
#include "structgan/autodiff.hpp"
#include "structgan/io/checkpoint.hpp"
#include "structgan/nn/biggan.hpp"
#include "structgan/nn/ema.hpp"
#include "structgan/nn/mlp.hpp"
#include "structgan/nn/optim.hpp"

using namespace structgan;
namespace fs = std::filesystem;

using structgan::testing::TempDir;

namespace {

std::vector<unsigned char> read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
}
void write_file(const std::string& p, const std::vector<unsigned char>& b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

/// Everything a training run holds, as in SPEC §5 (small sizes): D and G with their optimizers,
/// EMA copies, a BigGAN-deep generator (for BatchNorm statistics and spectral-norm vectors), a
/// memory bank with its pointer, the epoch and the RNG.
template <class T>
struct Run {
  Rng rng;
  nn::MlpDiscriminator<T> d;
  nn::MlpGenerator<T> g;
  nn::BigGANDeepGenerator<T> big;
  nn::AdamW<T> opt_d;
  nn::Adam<T> opt_g;
  nn::Ema<nn::MlpDiscriminator<T>> d_ema;
  nn::Ema<nn::BigGANDeepGenerator<T>> big_ema;
  Tensor<T> bank;
  std::int64_t pointer = 0, epoch = 0;
  std::string note = "structural adversarial objectives";

  static nn::MlpDiscriminatorOptions d_options(index_t hidden) {
    nn::MlpDiscriminatorOptions o;
    o.hidden = hidden;
    o.embed_dim = 8;
    o.depth = 2;
    return o;
  }
  static nn::MlpGeneratorOptions g_options() {
    nn::MlpGeneratorOptions o;
    o.hidden = 32;
    o.z_dim = 4;
    o.depth = 2;
    return o;
  }
  static nn::GeneratorOptions big_options() {
    nn::GeneratorOptions o;
    o.ch = 4;
    o.z_dim = 8;
    return o;
  }
  explicit Run(std::uint64_t seed, index_t hidden = 32)
      : rng(seed),
        d(d_options(hidden), rng),
        g(g_options(), rng),
        big(big_options(), rng),
        opt_d(nn::named_parameters(d), {2e-3, 0.5, 0.999, 1e-8, 0.1}),
        opt_g(nn::named_parameters(g), {2e-3, 0.5, 0.999, 1e-8, 0.0}),
        d_ema(d, 0.99),
        big_ema(big, 0.99),
        bank(randn<T>(Shape{16, 8}, rng)) {}

  /// One iteration: a D step, a G step, EMA updates, the bank write.
  void step() {
    const Tensor<T> x = randn<T>(Shape{4, 2}, rng);
    const Tensor<T> z = g.sample_latent(4, rng);
    opt_d.zero_grad();
    auto real = d(Var<T>(x));
    auto fake = d(Var<T>(g(z)));
    Var<T> loss = add(sub(mean_all(square(real.f_tilde)), mean_all(fake.f_tilde)), softmax_cross_entropy(real.logits, {0, 1, 1, 0}));
    backward(loss);
    opt_d.step();
    opt_g.zero_grad();
    backward(mean_all(d.embed(g(Var<T>(z)))));
    opt_g.step();
    big(big.sample_latent(2, rng));  // training pass: BN statistics and SN vectors move
    d_ema.update(d);
    big_ema.update(big);
    const Tensor<T> f = value_of(real.f);
    std::copy(f.data(), f.data() + f.numel(), bank.data() + pointer * 8);
    pointer = (pointer + 4) % 16;
    ++epoch;
  }
  io::Checkpoint checkpoint(bool with_bank = true) {
    io::Checkpoint ck;
    ck.module("D", d).module("G", g).module("big", big).module("D_ema", d_ema).module("big_ema", big_ema);
    ck.optimizer("D_opt", opt_d).optimizer("G_opt", opt_g);
    if (with_bank) ck.tensor("bank", bank).integer("bank.pointer", pointer);
    ck.integer("epoch", epoch).string("note", note).rng("rng", rng);
    return ck;
  }
};

/// Every byte a checkpoint of `ck` would hold (tensors, strings, integers).
std::vector<std::vector<unsigned char>> snapshot(const io::Checkpoint& ck) {
  std::vector<std::vector<unsigned char>> out;
  for (const auto& e : ck.entries()) {
    if (e.kind == "integer") {
      const std::int64_t v = e.get_integer();
      out.emplace_back(reinterpret_cast<const unsigned char*>(&v), reinterpret_cast<const unsigned char*>(&v) + 8);
    } else {
      const auto b = e.read();
      out.emplace_back(b.data, b.data + b.size);
    }
  }
  return out;
}

template <class Pred>
bool message_has(const Error& e, const Pred& words) {
  const std::string m = e.what();
  for (const std::string& w : words)
    if (m.find(w) == std::string::npos) {
      BOOST_TEST_MESSAGE("message lacks '" << w << "': " << m);
      return false;
    }
  return true;
}
#define CHECK_ERROR_WITH(stmt, ...)                                                                                 \
  BOOST_CHECK_EXCEPTION(stmt, Error, [&](const Error& e) { return message_has(e, std::vector<std::string>{__VA_ARGS__}); })

}  // namespace

BOOST_AUTO_TEST_CASE(round_trip_is_bit_identical_and_training_resumes_exactly) {
  TempDir dir;
  const std::string path = dir.file("last.ckpt");
  Run<float> a(1);
  for (int i = 0; i < 3; ++i) a.step();
  io::save_checkpoint(path, a.checkpoint());
  BOOST_TEST(!fs::exists(path + ".tmp"));
  const auto saved = snapshot(a.checkpoint());

  Run<float> b(99);  // different initialization
  BOOST_TEST((snapshot(b.checkpoint()) != saved));
  io::load_checkpoint(path, b.checkpoint());
  BOOST_TEST((snapshot(b.checkpoint()) == saved));  // bit-identical: every parameter, buffer, state, string
  BOOST_TEST(b.epoch == 3);
  BOOST_TEST(b.opt_d.groups()[0].slots[0].step == 3);

  // Uninterrupted and resumed runs stay bit-identical.
  for (int i = 0; i < 2; ++i) {
    a.step();
    b.step();
  }
  BOOST_TEST((snapshot(a.checkpoint()) == snapshot(b.checkpoint())));
  BOOST_TEST(a.rng.next_u64() == b.rng.next_u64());

  // The manifest describes the entries.
  const auto info = io::read_checkpoint_info(path);
  BOOST_TEST(info.size() == a.checkpoint().size());
  bool found = false;
  for (const auto& e : info)
    if (e.name == "D.backbone.0.fc.weight") {
      found = true;
      BOOST_TEST(e.kind == "tensor");
      BOOST_TEST(e.role == "parameter");
      BOOST_TEST(e.dtype == "float32");
      BOOST_TEST((e.shape == std::vector<std::int64_t>{32, 2}));
    }
  BOOST_TEST(found);
}

BOOST_AUTO_TEST_CASE(double_networks_round_trip) {
  TempDir dir;
  Run<double> a(2), b(3);
  a.step();
  io::save_checkpoint(dir.file("d.ckpt"), a.checkpoint());
  io::load_checkpoint(dir.file("d.ckpt"), b.checkpoint());
  BOOST_TEST((snapshot(a.checkpoint()) == snapshot(b.checkpoint())));
}

BOOST_AUTO_TEST_CASE(truncated_corrupted_and_foreign_files_are_rejected_without_changes) {
  TempDir dir;
  const std::string good = dir.file("good.ckpt"), bad = dir.file("bad.ckpt");
  Run<float> a(4);
  a.step();
  io::save_checkpoint(good, a.checkpoint());
  const std::vector<unsigned char> bytes = read_file(good);
  const std::uint64_t manifest = io::detail::get_u64(bytes.data() + 16), data = io::detail::get_u64(bytes.data() + 32);
  BOOST_REQUIRE(bytes.size() == 40 + manifest + data);

  Run<float> b(5);
  const auto before = snapshot(b.checkpoint());
  auto expect_rejected = [&](const std::vector<unsigned char>& file, const std::string& word) {
    write_file(bad, file);
    io::Checkpoint ck = b.checkpoint();
    CHECK_ERROR_WITH(io::load_checkpoint(bad, ck), "load_checkpoint", word);
    BOOST_TEST((snapshot(b.checkpoint()) == before), "memory changed by a failed load");
  };
  // Truncated anywhere: in the header, the manifest, the data, one byte short.
  for (std::uint64_t cut : {std::uint64_t(0), std::uint64_t(7), std::uint64_t(39), std::uint64_t(40), 40 + manifest / 2,
                            40 + manifest, 40 + manifest + data / 2, bytes.size() - 1})
    expect_rejected(std::vector<unsigned char>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut)), "");
  // Bytes appended.
  {
    auto f = bytes;
    f.push_back(0);
    expect_rejected(f, "unexpected bytes");
  }
  // A flipped byte: in the magic, the manifest, the data (first, middle, last blob byte).
  for (std::uint64_t at : {std::uint64_t(3), 40 + manifest / 3, 40 + manifest + 1, 40 + manifest + data / 2, bytes.size() - 1}) {
    auto f = bytes;
    f[at] ^= 0x10;
    expect_rejected(f, at < 8 ? "magic" : "checksum");
  }
  // A header that claims more than the file has (no huge allocation: bounded by the real size).
  {
    auto f = bytes;
    io::detail::put_u64(f.data() + 16, std::uint64_t(1) << 60);
    expect_rejected(f, "truncated");
  }
  // Another format version.
  {
    auto f = bytes;
    io::detail::put_u32(f.data() + 8, 2);
    expect_rejected(f, "version 2");
  }
  // Not a checkpoint at all.
  expect_rejected(std::vector<unsigned char>(100, 'x'), "magic");
  // A missing file.
  io::Checkpoint ck = b.checkpoint();
  CHECK_ERROR_WITH(io::load_checkpoint(dir.file("absent.ckpt"), ck), "cannot open");
  BOOST_TEST((snapshot(b.checkpoint()) == before));
}

BOOST_AUTO_TEST_CASE(mismatched_checkpoints_are_rejected_without_changes) {
  TempDir dir;
  const std::string path = dir.file("run.ckpt");
  Run<float> a(6);
  a.step();
  io::save_checkpoint(path, a.checkpoint());

  // Another architecture: a wider discriminator.
  Run<float> wide(7, 48);
  const auto wide_before = snapshot(wide.checkpoint());
  io::Checkpoint ckw = wide.checkpoint();
  CHECK_ERROR_WITH(io::load_checkpoint(path, ckw), "shape", "D.backbone.0.fc.weight", "[32, 2]", "[48, 2]");
  BOOST_TEST((snapshot(wide.checkpoint()) == wide_before));

  // Another dtype.
  Run<double> dbl(8);
  const auto dbl_before = snapshot(dbl.checkpoint());
  io::Checkpoint ckd = dbl.checkpoint();
  CHECK_ERROR_WITH(io::load_checkpoint(path, ckd), "float32", "float64");
  BOOST_TEST((snapshot(dbl.checkpoint()) == dbl_before));

  // An entry the file lacks; entries the binding lacks.
  Run<float> b(9);
  const auto before = snapshot(b.checkpoint());
  std::int64_t extra = 5;
  io::Checkpoint more = b.checkpoint();
  more.integer("extra", extra);
  CHECK_ERROR_WITH(io::load_checkpoint(path, more), "lacks", "'extra'");
  io::Checkpoint fewer = b.checkpoint(false);
  CHECK_ERROR_WITH(io::load_checkpoint(path, fewer), "not expected", "'bank'");
  BOOST_TEST((snapshot(b.checkpoint()) == before));
  BOOST_TEST(extra == 5);

  // Unless allowed: loading part of a checkpoint (e.g. only the EMA discriminator for evaluation).
  io::LoadOptions partial;
  partial.allow_unbound_entries = true;
  nn::MlpDiscriminator<float> eval_d = nn::clone_module(b.d);
  io::Checkpoint only;
  only.module("D_ema", eval_d);
  io::load_checkpoint(path, only, partial);
  io::Checkpoint from_a, from_eval;
  from_a.module("D_ema", a.d_ema);
  from_eval.module("D_ema", eval_d);
  BOOST_TEST((snapshot(from_a) == snapshot(from_eval)));

  // A kind mismatch (a tensor where the file has an integer) and a bad RNG state.
  Tensor<float> t = zeros<float>(Shape{1});
  io::Checkpoint kinds;
  kinds.tensor("epoch", t);
  CHECK_ERROR_WITH(io::load_checkpoint(path, kinds, partial), "integer", "tensor");
  std::string not_rng = "not an rng state";
  io::Checkpoint s;
  s.string("rng", not_rng);
  io::save_checkpoint(dir.file("s.ckpt"), s);
  Rng r(1);
  const std::string rs = r.state();
  io::Checkpoint rc;
  rc.rng("rng", r);
  CHECK_ERROR_WITH(io::load_checkpoint(dir.file("s.ckpt"), rc), "Rng");
  BOOST_TEST(r.state() == rs);
}

BOOST_AUTO_TEST_CASE(binding_errors) {
  io::Checkpoint ck;
  std::int64_t i = 0;
  ck.integer("a", i);
  BOOST_CHECK_THROW(ck.integer("a", i), Error);  // duplicate name
  Tensor<float> undefined;
  BOOST_CHECK_THROW(ck.tensor("t", undefined), Error);
}
