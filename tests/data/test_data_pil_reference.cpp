#define BOOST_TEST_MODULE test_data_pil_reference
// The data pipeline against torchvision 0.14 on PIL images (the released code's pipeline): crops,
// flips and the test transform reproduce the committed outputs of scripts/make_pil_references.py,
// and RandomResizedCrop's box sampler matches the statistics of torchvision's get_params.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "structgan/data/detail/stb.hpp"
#include "structgan/data/image_folder.hpp"
#include "structgan/data/resize.hpp"
#include "structgan/data/transform.hpp"

#include "data_test_util.hpp"

using namespace structgan::data;

namespace {

const std::string kDir = STRUCTGAN_PIL_REFERENCE_DIR;

/// A committed PNG as C×H×W bytes (its own channel count: 1 for PIL "L", 3 for "RGB").
struct Chw {
  int c = 0, h = 0, w = 0;
  std::vector<std::uint8_t> px;
};

Chw read_png(const std::string& name) {
  const auto bytes = test_util::read_bytes(kDir + "/" + name);
  BOOST_REQUIRE_MESSAGE(!bytes.empty(), "missing " << kDir << "/" << name);
  int w = 0, h = 0, comp = 0;
  BOOST_REQUIRE(stbi_info_from_memory(bytes.data(), int(bytes.size()), &w, &h, &comp));
  const auto img = detail::decode_image(bytes, comp == 1 ? 1 : 3, name);
  Chw out{img.channels, img.height, img.width, std::vector<std::uint8_t>(img.hwc.size())};
  const std::size_t plane = std::size_t(h) * std::size_t(w);
  for (std::size_t p = 0; p < plane; ++p)
    for (int k = 0; k < out.c; ++k) out.px[std::size_t(k) * plane + p] = img.hwc[p * std::size_t(out.c) + std::size_t(k)];
  return out;
}

struct Case {
  std::string name, src, op, interp;
  int top = 0, left = 0, height = 0, width = 0, out_h = 0, out_w = 0, flip = 0;
  std::string out;
};

std::vector<Case> read_manifest() {
  std::ifstream in(kDir + "/manifest.txt");
  BOOST_REQUIRE_MESSAGE(in.good(), "missing " << kDir << "/manifest.txt");
  std::vector<Case> cases;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    Case c;
    s >> c.name >> c.src >> c.op >> c.interp >> c.top >> c.left >> c.height >> c.width >> c.out_h >> c.out_w >> c.flip >>
        c.out;
    BOOST_REQUIRE_MESSAGE(!s.fail(), "bad manifest line: " << line);
    cases.push_back(c);
  }
  BOOST_REQUIRE_GE(cases.size(), 10u);
  return cases;
}

void flip_rows(std::vector<std::uint8_t>& px, int c, int h, int w) {
  for (int r = 0; r < c * h; ++r) std::reverse(px.begin() + std::ptrdiff_t(r) * w, px.begin() + std::ptrdiff_t(r + 1) * w);
}

/// Runs one case through the library: crops with the training transform's filter settings (or
/// bilinear), the test case through transform_image with the ImageNet-10 test transform, whose
/// floats x/127.5 − 1 map back to bytes exactly.
std::vector<std::uint8_t> run_case(const Case& k, const Chw& src, const ResampleOptions* override_filter = nullptr) {
  std::vector<std::uint8_t> out(std::size_t(src.c) * std::size_t(k.out_h) * std::size_t(k.out_w));
  if (k.op == "resized_crop") {
    ResampleOptions o = train_transform(k.out_h).resample;  // the defaults under test
    if (k.interp == "bilinear") o.interpolation = Interpolation::bilinear;
    if (override_filter) o = *override_filter;
    resized_crop(src.px.data(), src.c, src.h, src.w, CropBox{k.top, k.left, k.height, k.width}, k.out_h, k.out_w,
                 out.data(), o);
    if (k.flip) flip_rows(out, src.c, k.out_h, k.out_w);
    return out;
  }
  BOOST_REQUIRE_EQUAL(k.op, "resize_center");
  Transform t = imagenet10_test_transform();
  BOOST_REQUIRE_EQUAL(t.resize_shorter, k.height);
  BOOST_REQUIRE(t.out_h == k.out_h && t.out_w == k.out_w);
  if (override_filter) t.resample = *override_filter;
  std::vector<float> f(out.size());
  std::mt19937_64 g(1);
  transform_image(t, src.px.data(), src.c, src.h, src.w, f.data(), g);
  for (std::size_t i = 0; i < f.size(); ++i) out[i] = static_cast<std::uint8_t>(std::lround((f[i] + 1.0f) * 127.5f));
  if (k.flip) flip_rows(out, src.c, k.out_h, k.out_w);
  return out;
}

int max_diff(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b, std::size_t* differing = nullptr) {
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  int m = 0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const int d = std::abs(int(a[i]) - int(b[i]));
    m = std::max(m, d);
    n += d != 0;
  }
  if (differing) *differing = n;
  return m;
}

}  // namespace

BOOST_AUTO_TEST_CASE(crops_flips_and_test_transform_match_torchvision) {
  std::size_t total = 0, total_diff = 0;
  int worst = 0;
  for (const Case& k : read_manifest()) {
    const Chw src = read_png(k.src), ref = read_png(k.out);
    BOOST_REQUIRE(ref.c == src.c && ref.h == k.out_h && ref.w == k.out_w);
    std::size_t differing = 0;
    const int d = max_diff(run_case(k, src), ref.px, &differing);
    BOOST_TEST_MESSAGE(k.name << ": max |diff| " << d << ", " << differing << " of " << ref.px.size() << " bytes differ");
    BOOST_TEST(d <= 1, k.name << ": max |diff| " << d << " grey levels");
    worst = std::max(worst, d);
    total += ref.px.size();
    total_diff += differing;
  }
  BOOST_TEST_MESSAGE("all cases: max |diff| " << worst << ", " << total_diff << " of " << total << " bytes differ");
}

// The comparison discriminates: OpenCV's cubic (a = −0.75) and filters that read outside the crop
// box (PIL's resize(box=...) on the uncropped image) are both caught.
BOOST_AUTO_TEST_CASE(other_resamplers_do_not_match) {
  const ResampleOptions opencv{Interpolation::bicubic, -0.75};
  int worst_opencv = 0, worst_box = 0;
  for (const Case& k : read_manifest()) {
    if (k.op != "resized_crop" || k.interp != "bicubic") continue;
    const Chw src = read_png(k.src), ref = read_png(k.out);
    worst_opencv = std::max(worst_opencv, max_diff(run_case(k, src, &opencv), ref.px));
    std::vector<std::uint8_t> boxed(ref.px.size());
    resample(src.px.data(), src.c, src.h, src.w, Box{double(k.left), double(k.top), double(k.width), double(k.height)},
             k.out_h, k.out_w, boxed.data());
    if (k.flip) flip_rows(boxed, src.c, k.out_h, k.out_w);
    worst_box = std::max(worst_box, max_diff(boxed, ref.px));
  }
  BOOST_TEST(worst_opencv > 1);
  BOOST_TEST(worst_box > 1);
}

// RandomResizedCrop's boxes against torchvision's get_params: per image size, the mean of the area
// fraction and of log(w/h) within 5 standard errors of the difference of two independent means
// of 100,000 draws (sd·√(2/N)); each reference quantile x_q must bracket q between our empirical
// P(v < x_q) and P(v ≤ x_q) within 5·√(2q(1−q)/N) (the binomial sd of both samples' CDFs; the
// bracket copes with the discrete areas of a 32×32 image). A uniform (not log-uniform) ratio
// moves the log-ratio mean by about 0.023, 7 of these tolerances.
BOOST_AUTO_TEST_CASE(crop_box_statistics_match_torchvision_get_params) {
  std::ifstream in(kDir + "/rrc_stats.txt");
  BOOST_REQUIRE(in.good());
  const std::vector<double> qs{0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99};
  const Transform t = train_transform(32);
  int sizes = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    std::string tag, bar;
    int H = 0, W = 0;
    s >> tag >> H >> W >> bar;
    BOOST_REQUIRE(tag == "size" && bar == "|");
    double ref_mean[2];
    std::vector<double> ref_q[2];
    for (int m = 0; m < 2; ++m) {
      s >> ref_mean[m];
      ref_q[m].resize(qs.size());
      for (auto& v : ref_q[m]) s >> v;
      if (m == 0) s >> bar;
    }
    BOOST_REQUIRE(!s.fail());
    const std::size_t N = 100000;
    std::vector<double> v[2];
    std::mt19937_64 g(2024 + std::uint64_t(H) * 1000 + std::uint64_t(W));
    for (std::size_t n = 0; n < N; ++n) {
      const CropBox b = random_resized_crop_box(H, W, t, g);
      BOOST_REQUIRE(b.top >= 0 && b.left >= 0 && b.top + b.height <= H && b.left + b.width <= W);
      v[0].push_back(double(b.height) * b.width / (double(H) * W));
      v[1].push_back(std::log(double(b.width) / b.height));
    }
    for (int m = 0; m < 2; ++m) {
      const char* what = m == 0 ? "area fraction" : "log aspect ratio";
      double mean = 0, var = 0;
      for (double x : v[m]) mean += x;
      mean /= N;
      for (double x : v[m]) var += (x - mean) * (x - mean);
      const double sd = std::sqrt(var / (N - 1));
      const double tol = std::max(5.0 * sd * std::sqrt(2.0 / N), 1e-8);
      BOOST_TEST(std::abs(mean - ref_mean[m]) <= tol, H << "x" << W << " " << what << " mean " << mean << " vs torchvision "
                                                         << ref_mean[m] << " (tolerance " << tol << ")");
      for (std::size_t qi = 0; qi < qs.size(); ++qi) {
        const double q = qs[qi], x = ref_q[m][qi];
        const double lt = double(std::count_if(v[m].begin(), v[m].end(), [&](double y) { return y < x - 1e-7; })) / N;
        const double le = double(std::count_if(v[m].begin(), v[m].end(), [&](double y) { return y <= x + 1e-7; })) / N;
        const double qtol = 5.0 * std::sqrt(2.0 * q * (1 - q) / N);
        BOOST_TEST((lt - qtol <= q && q <= le + qtol), H << "x" << W << " " << what << " quantile " << q << " = " << x
                                                         << ": ours P(<) " << lt << ", P(<=) " << le << " (tolerance "
                                                         << qtol << ")");
      }
    }
    ++sizes;
  }
  BOOST_TEST(sizes == 5);
}

// End to end through load_imagenet10: the committed RGB sources (PNG: decoded exactly) as every
// synset's files. The test split (stored as the 144×144 centre) through the test transform, and
// crops of the train split (kept whole), equal torchvision's results on the original images.
BOOST_AUTO_TEST_CASE(imagenet10_splits_as_loaded_match_torchvision) {
  test_util::TempDir tmp("pil_in10");
  const std::vector<std::string> rgb{"in_rgb_tall", "in_rgb_wide"};  // file-name order in a class
  for (const auto& syn : imagenet10_synsets())
    for (const auto& src : rgb)
      for (const char* split : {"train", "val"}) {
        std::filesystem::create_directories(tmp.path / split / syn);
        std::filesystem::copy_file(kDir + "/src_" + src + ".png", tmp.path / split / syn / (src + ".png"));
      }
  ImageNet10Options o;
  o.threads = 2;
  const ImageSet test = load_imagenet10(tmp.str(), Split::test, o);
  const ImageSet train = load_imagenet10(tmp.str(), Split::train, o);
  BOOST_REQUIRE(test.size() == 20u && train.size() == 20u && train.variable_size());
  int checked = 0;
  for (const Case& k : read_manifest()) {
    const auto it = std::find(rgb.begin(), rgb.end(), k.src.substr(4, k.src.size() - 8));  // src_<name>.png
    if (it == rgb.end()) continue;
    const std::size_t i = std::size_t(it - rgb.begin()) + 2 * 7;  // any synset: the 8th
    const Chw ref = read_png(k.out);
    std::vector<std::uint8_t> got(ref.px.size());
    if (k.op == "resize_center") {
      std::vector<float> f(got.size());
      std::mt19937_64 g(1);
      transform_image(imagenet10_test_transform(), test.image(i), 3, test.height, test.width, f.data(), g);
      for (std::size_t n = 0; n < f.size(); ++n) got[n] = static_cast<std::uint8_t>(std::lround((f[n] + 1.0f) * 127.5f));
    } else {
      ResampleOptions ro = train_transform(k.out_h).resample;
      if (k.interp == "bilinear") ro.interpolation = Interpolation::bilinear;
      resized_crop(train.image(i), 3, train.image_height(i), train.image_width(i),
                   CropBox{k.top, k.left, k.height, k.width}, k.out_h, k.out_w, got.data(), ro);
      if (k.flip) flip_rows(got, 3, k.out_h, k.out_w);
    }
    BOOST_TEST(max_diff(got, ref.px) == 0, k.name);
    ++checked;
  }
  BOOST_TEST(checked == 8);
}
