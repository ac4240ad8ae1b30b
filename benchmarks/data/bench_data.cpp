// bench_data: throughput of structgan's data pipeline on synthetic data (issue 28).
//   bench_data cifar [--threads 2] [--batches 40]              BatchLoader, 50,000 3×32×32, RandomResizedCrop 32 + flip, batch 512
//   bench_data imagenet [--threads 2] [--files 400] [--batches 20]
//       writes --files JPEGs of 500×375 (ImageNet's most common size) in ImageNet-10's layout, times
//       load_imagenet10 (decode + shorter side to 210, kept whole), then BatchLoader with
//       RandomResizedCrop 128 + flip, batch 320; also times decoding alone (what lazy decoding
//       would pay every epoch)
// Each mode prints JSON lines: {"what", "images", "seconds", "images_per_second", ...}.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>
#include <unistd.h>

#include "structgan/data/all.hpp"
#include "structgan/io/detail/stb_write.hpp"  // synthetic JPEGs to decode

namespace sd = structgan::data;
namespace fs = std::filesystem;

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

int option(int argc, char** argv, const std::string& name, int fallback) {
  for (int i = 2; i + 1 < argc; ++i)
    if (argv[i] == name) return std::stoi(argv[i + 1]);
  return fallback;
}

/// Smooth colours, an edge and noise: JPEG sizes like photographs' (about 100 KB at 500×375).
std::vector<std::uint8_t> natural_hwc(int h, int w, std::uint64_t seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> noise(0.0, 10.0);
  std::vector<std::uint8_t> v(std::size_t(h) * w * 3);
  const double a = double(g() % 100) / 30.0, b = double(g() % 100) / 40.0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < 3; ++k) {
        double p = 128 + 70 * std::sin(a * x / w * 6 + b * y / h * 5 + k) + (x > w / 3 ? 40 : -40) + noise(g);
        v[(std::size_t(y) * w + x) * 3 + k] = static_cast<std::uint8_t>(std::clamp(p, 0.0, 255.0));
      }
  return v;
}

/// Times `batches` batches of a loader whose consumer does nothing: the loader's own rate.
void time_loader(const std::string& what, const sd::ImageSet& set, int size, int batch, int threads, int batches) {
  sd::LoaderOptions o;
  o.batch_size = batch;
  o.drop_last = true;
  o.seed = 1;
  o.threads = threads;
  sd::BatchLoader loader(set, sd::train_transform(size), o);
  sd::Batch b;
  loader.next(b);  // the first batch: worker start-up
  const double t0 = now();
  for (int k = 0; k < batches; ++k) loader.next(b);
  const double s = now() - t0;
  std::cout << "{\"what\": \"" << what << "\", \"images\": " << batches * batch << ", \"seconds\": " << s
            << ", \"images_per_second\": " << batches * batch / s << ", \"batch\": " << batch
            << ", \"threads\": " << threads << "}" << std::endl;
}
}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  const int threads = option(argc, argv, "--threads", 2);
  if (mode == "cifar") {
    sd::ImageSet set;
    set.channels = 3;
    set.height = set.width = 32;
    set.class_names = {"a"};
    const std::size_t n = 50000;
    set.labels.assign(n, 0);
    set.pixels.resize(n * 3 * 32 * 32);
    std::mt19937_64 g(3);
    for (auto& p : set.pixels) p = static_cast<std::uint8_t>(g());
    time_loader("cifar_loader_32_b512", set, 32, 512, threads, option(argc, argv, "--batches", 40));
    return 0;
  }
  if (mode == "imagenet") {
    const int files = option(argc, argv, "--files", 400);
    const fs::path dir = fs::temp_directory_path() / ("structgan_bench_data_" + std::to_string(::getpid()));
    const auto syn = sd::imagenet10_synsets();
    std::uintmax_t jpeg_bytes = 0;
    for (int i = 0; i < files; ++i) {
      const fs::path p = dir / "train" / syn[std::size_t(i) % syn.size()] / ("img_" + std::to_string(i) + ".JPEG");
      fs::create_directories(p.parent_path());
      const bool portrait = i % 4 == 3;  // a quarter of ImageNet's photos stand upright
      const int h = portrait ? 500 : 375, w = portrait ? 375 : 500;
      const auto px = natural_hwc(h, w, std::uint64_t(i));
      if (!stbi_write_jpg(p.string().c_str(), w, h, 3, px.data(), 90)) return 1;
      jpeg_bytes += fs::file_size(p);
    }
    // Decoding alone, as a lazily decoding loader would do every epoch.
    std::vector<fs::path> all;
    for (const auto& s : syn)
      for (const auto& e : fs::directory_iterator(dir / "train" / s)) all.push_back(e.path());
    double t0 = now();
    const auto errs = sd::detail::for_each_file(all.size(), threads, [&](std::size_t i) {
      (void)sd::detail::decode_image(sd::detail::read_raw(all[i]), 3, all[i].string());
    });
    const double decode_s = now() - t0;
    for (const auto& e : errs)
      if (e) std::rethrow_exception(e);
    sd::ImageNet10Options o;
    o.threads = threads;
    t0 = now();
    const sd::ImageSet set = sd::load_imagenet10(dir.string(), sd::Split::train, o);
    const double load_s = now() - t0;
    fs::remove_all(dir);
    std::cout << "{\"what\": \"imagenet10_decode_only\", \"images\": " << files << ", \"seconds\": " << decode_s
              << ", \"images_per_second\": " << files / decode_s << ", \"threads\": " << threads
              << ", \"mean_jpeg_bytes\": " << double(jpeg_bytes) / files << "}" << std::endl;
    std::cout << "{\"what\": \"imagenet10_load_whole_210\", \"images\": " << files << ", \"seconds\": " << load_s
              << ", \"images_per_second\": " << files / load_s << ", \"threads\": " << threads
              << ", \"bytes_per_image\": " << double(set.pixels.size()) / double(set.size())
              << ", \"seconds_for_13000\": " << load_s / files * 13000
              << ", \"gib_for_13000\": " << double(set.pixels.size()) / double(set.size()) * 13000 / (1 << 30) << "}"
              << std::endl;
    time_loader("imagenet10_loader_128_b320", set, 128, 320, threads, option(argc, argv, "--batches", 20));
    return 0;
  }
  std::cerr << "usage: bench_data cifar|imagenet [--threads 2] [--files 400] [--batches N]\n";
  return 2;
}
