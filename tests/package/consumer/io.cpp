// A user's program: a checkpoint saved and loaded through structgan/io.hpp (structgan::io alone).
#include <structgan/io.hpp>

#include <cstdio>
#include <iostream>

int main() {
  using namespace structgan;
  std::int64_t saved = 42, loaded = 0;
  const std::string path = "consumer_io.ckpt";
  io::Checkpoint out;
  out.integer("step", saved);
  io::save_checkpoint(path, out);
  io::Checkpoint in;
  in.integer("step", loaded);
  io::load_checkpoint(path, in);
  std::remove(path.c_str());
  const bool ok = loaded == 42;
  std::cout << "checkpoint step " << loaded << (ok ? " ok" : " FAILED") << "\n";
  return ok ? 0 : 1;
}
