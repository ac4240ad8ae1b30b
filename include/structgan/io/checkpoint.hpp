#pragma once
/// \file Checkpoints that never lose work: every parameter and buffer of the networks, the
/// optimizers' state, EMA copies, extra tensors (the memory bank), strings (RNG states) and
/// integers (epoch, iteration) in one file. Needs nlohmann_json (link structgan::io).
///
/// File layout (version 1, little-endian):
///   header (40 bytes): magic "SGANCKPT", u32 version, u32 reserved (0), u64 manifest size,
///                      u64 FNV-1a 64 of the manifest, u64 data size;
///   manifest: UTF-8 JSON {"format", "version", "entries": [{name, kind, role, dtype, shape,
///             offset, bytes, fnv1a64} or {name, kind: "integer", value}]};
///   data: the blobs (raw tensor elements, string bytes) at their offsets.
/// The file's size must be exactly 40 + manifest + data, so truncation is always detected; each
/// blob carries its own checksum.
///
/// Saving writes `<path>.tmp` in the same folder, fsyncs it, renames it over `<path>` and fsyncs
/// the folder: a crash at any moment leaves either the previous checkpoint or the new one, whole.
/// Loading reads and validates everything first (structure, names, kinds, dtypes, shapes,
/// checksums) and only then assigns, so a failed load (structgan::Error) changes nothing.
/// Every allocation is bounded by the real size of the file.
/// \code
///   io::Checkpoint ck;
///   ck.module("D", d).module("G", g).module("D_ema", d_ema).module("G_ema", g_ema)
///     .optimizer("D_opt", opt_d).optimizer("G_opt", opt_g)
///     .tensor("bank.keys", bank_keys).tensor("bank.values", bank_values)
///     .integer("bank.pointer", pointer).integer("epoch", epoch).rng("rng", rng);
///   io::save_checkpoint("run/last.ckpt", ck);   // atomic
///   io::load_checkpoint("run/last.ckpt", ck);   // all or nothing
/// \endcode
#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "structgan/backend/transfer.hpp"
#include "structgan/core/random.hpp"
#include "structgan/core/tensor.hpp"
#include "structgan/io/atomic_file.hpp"
#include "structgan/io/detail/file.hpp"

namespace structgan::io {

/// The checkpoint format version this build writes and reads.
inline constexpr std::uint32_t checkpoint_version = 1;
inline constexpr std::size_t checkpoint_header_bytes = 40;
inline constexpr char checkpoint_magic[8] = {'S', 'G', 'A', 'N', 'C', 'K', 'P', 'T'};

/// Options of load_checkpoint.
struct LoadOptions {
  /// Ignore entries of the file that the Checkpoint does not name (e.g. load only "D_ema" from a
  /// training checkpoint). Every entry the Checkpoint names must still be in the file.
  bool allow_unbound_entries = false;
};

/// One entry as the file's manifest describes it.
struct EntryInfo {
  std::string name, kind, role, dtype;  ///< kind: tensor, string or integer
  std::vector<std::int64_t> shape;      ///< tensors (strings: {length})
  std::uint64_t offset = 0, bytes = 0, checksum = 0;
  std::int64_t value = 0;  ///< integers
};

/// The named things a checkpoint saves and restores: references to live objects (modules,
/// optimizers, tensors, strings, integers, RNGs), which must stay alive while it is used.
class Checkpoint {
 public:
  /// Bytes of one blob to write; `keep` holds a host copy alive where one was needed.
  struct Blob {
    const unsigned char* data = nullptr;
    std::size_t size = 0;
    std::shared_ptr<const void> keep;
  };
  struct Entry {
    std::string name, kind, role, dtype;
    std::vector<std::int64_t> shape;
    std::function<Blob()> read;                                      ///< tensor, string
    std::function<void(const std::vector<unsigned char>&)> check;    ///< optional: throws if not assignable
    std::function<void(const std::vector<unsigned char>&)> assign;  ///< tensor, string (cannot fail)
    std::function<std::int64_t()> get_integer;
    std::function<void(std::int64_t)> set_integer;
  };

  /// Every parameter and buffer of module m (anything with visit(), an Ema included), named
  /// `<prefix>.<name>`.
  template <class M>
  Checkpoint& module(const std::string& prefix, M& m) {
    m.visit(ModuleVisitor{*this}, prefix);
    return *this;
  }
  /// An optimizer's state (anything with visit_state(): moments as tensors, steps as integers).
  template <class O>
  Checkpoint& optimizer(const std::string& prefix, O& opt) {
    opt.visit_state(OptimizerVisitor{*this}, prefix);
    return *this;
  }
  /// A tensor (defined, of fixed shape: loading fills its storage in place).
  template <class T, class D>
  Checkpoint& tensor(const std::string& name, Tensor<T, D>& t) {
    add_tensor(name, t, "tensor");
    return *this;
  }
  /// A string of any bytes.
  Checkpoint& string(const std::string& name, std::string& s) {
    Entry e = string_entry(name, s, "string");
    add(std::move(e));
    return *this;
  }
  /// An integer.
  Checkpoint& integer(const std::string& name, std::int64_t& v) {
    add_integer(name, v, "integer");
    return *this;
  }
  /// A random number generator's whole state (Rng::state()).
  Checkpoint& rng(const std::string& name, Rng& r) {
    Entry e;
    e.name = name;
    e.kind = "string";
    e.role = "rng";
    e.dtype = "bytes";
    e.read = [&r] {
      auto s = std::make_shared<std::string>(r.state());
      return Blob{reinterpret_cast<const unsigned char*>(s->data()), s->size(), s};
    };
    e.check = [name](const std::vector<unsigned char>& b) {
      Rng probe;
      try {
        probe.set_state(std::string(b.begin(), b.end()));
      } catch (const std::exception&) {
        fail("checkpoint entry '", name, "': not a valid Rng state");
      }
    };
    e.assign = [&r](const std::vector<unsigned char>& b) { r.set_state(std::string(b.begin(), b.end())); };
    add(std::move(e));
    return *this;
  }

  const std::vector<Entry>& entries() const { return entries_; }
  std::size_t size() const { return entries_.size(); }
  /// The entry names, in order.
  std::vector<std::string> names() const {
    std::vector<std::string> n;
    for (const auto& e : entries_) n.push_back(e.name);
    return n;
  }

 private:
  struct ModuleVisitor {
    Checkpoint& ck;
    // Any parameter type with a `value` tensor (autodiff's Parameter): io/ does not depend on autodiff.
    template <class P>
    void parameter(const std::string& n, P& p) { ck.add_tensor(n, p.value, "parameter"); }
    template <class T, class D>
    void buffer(const std::string& n, Tensor<T, D>& b) { ck.add_tensor(n, b, "buffer"); }
  };
  struct OptimizerVisitor {
    Checkpoint& ck;
    template <class T, class D>
    void buffer(const std::string& n, Tensor<T, D>& b) { ck.add_tensor(n, b, "optimizer"); }
    void counter(const std::string& n, std::int64_t& c) { ck.add_integer(n, c, "optimizer"); }
  };

  template <class T, class D>
  void add_tensor(const std::string& name, Tensor<T, D>& t, const char* role) {
    require(t.defined(), "Checkpoint: tensor '", name, "' is undefined (allocate it, with its shape, before saving or loading)");
    Entry e;
    e.name = name;
    e.kind = "tensor";
    e.role = role;
    e.dtype = std::is_same_v<T, float> ? "float32" : "float64";
    for (int i = 0; i < t.shape().rank(); ++i) e.shape.push_back(t.shape()[i]);
    Tensor<T, D> handle = t;  // shares the storage
    // The host's values (the tensor itself on the CPU) and back, through the device's transfers.
    e.read = [handle] {
      const auto host = std::make_shared<Tensor<T, Cpu>>(to_host(handle));
      return Blob{reinterpret_cast<const unsigned char*>(host->data()), static_cast<std::size_t>(host->numel()) * sizeof(T), host};
    };
    e.assign = [handle](const std::vector<unsigned char>& b) mutable {
      if (b.empty()) return;
      // the staged bytes come from new[], aligned for any scalar
      copy_from_host(D{}, static_cast<index_t>(b.size() / sizeof(T)), reinterpret_cast<const T*>(b.data()), handle.data());
    };
    add(std::move(e));
  }
  void add_integer(const std::string& name, std::int64_t& v, const char* role) {
    Entry e;
    e.name = name;
    e.kind = "integer";
    e.role = role;
    e.dtype = "int64";
    e.get_integer = [&v] { return v; };
    e.set_integer = [&v](std::int64_t x) { v = x; };
    add(std::move(e));
  }
  static Entry string_entry(const std::string& name, std::string& s, const char* role) {
    Entry e;
    e.name = name;
    e.kind = "string";
    e.role = role;
    e.dtype = "bytes";
    e.read = [&s] { return Blob{reinterpret_cast<const unsigned char*>(s.data()), s.size(), nullptr}; };
    e.assign = [&s](const std::vector<unsigned char>& b) { s.assign(b.begin(), b.end()); };
    return e;
  }
  void add(Entry e) {
    require(!e.name.empty(), "Checkpoint: empty entry name");
    require(index_.emplace(e.name, entries_.size()).second, "Checkpoint: entry '", e.name, "' added twice");
    entries_.push_back(std::move(e));
  }

  std::vector<Entry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
};

namespace detail {

inline void check_little_endian() {
  require(host_is_little_endian(), "checkpoint: big-endian hosts are not supported (the format is little-endian)");
}
inline void put_u32(unsigned char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
inline void put_u64(unsigned char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
inline std::uint32_t get_u32(const unsigned char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(p[i]) << (8 * i);
  return v;
}
inline std::uint64_t get_u64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}
inline std::string hex64(std::uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = digits[v & 15];
  return s;
}
inline std::string shape_text(const std::vector<std::int64_t>& s) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}
inline std::size_t dtype_size(const std::string& dtype) {
  if (dtype == "float32") return 4;
  if (dtype == "float64") return 8;
  if (dtype == "bytes") return 1;
  return 0;
}

/// Parses and validates a manifest against the data size; every field checked.
inline std::vector<EntryInfo> parse_manifest(const std::string& text, std::uint32_t version, std::uint64_t data_size,
                                             const std::string& what) {
  using nlohmann::json;
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail(what, ": the manifest is not valid JSON (", e.what(), ")");
  }
  auto field = [&](const json& o, const char* key, json::value_t type, const std::string& where) -> const json& {
    const auto it = o.find(key);
    require(it != o.end(), what, ": manifest ", where, " lacks '", key, "'");
    const bool ok = it->type() == type ||
                    (type == json::value_t::number_integer && it->type() == json::value_t::number_unsigned) ||
                    (type == json::value_t::number_unsigned && it->type() == json::value_t::number_integer && it->get<std::int64_t>() >= 0);
    require(ok, what, ": manifest ", where, " has a '", key, "' of the wrong type");
    return *it;
  };
  require(j.is_object(), what, ": the manifest is not a JSON object");
  require(field(j, "format", json::value_t::string, "").get<std::string>() == "structgan-checkpoint", what,
          ": not a structgan checkpoint manifest");
  const std::uint64_t mv = field(j, "version", json::value_t::number_unsigned, "").get<std::uint64_t>();
  require(mv == version, what, ": manifest version ", mv, " differs from the header's ", version);
  const json& entries = field(j, "entries", json::value_t::array, "");
  std::vector<EntryInfo> out;
  std::unordered_map<std::string, bool> seen;
  for (const json& e : entries) {
    require(e.is_object(), what, ": a manifest entry is not an object");
    EntryInfo info;
    info.name = field(e, "name", json::value_t::string, "entry").get<std::string>();
    const std::string where = "entry '" + info.name + "'";
    require(seen.emplace(info.name, true).second, what, ": entry '", info.name, "' appears twice");
    info.kind = field(e, "kind", json::value_t::string, where).get<std::string>();
    if (e.contains("role") && e["role"].is_string()) info.role = e["role"].get<std::string>();
    if (info.kind == "integer") {
      info.dtype = "int64";
      info.value = field(e, "value", json::value_t::number_integer, where).get<std::int64_t>();
      out.push_back(std::move(info));
      continue;
    }
    require(info.kind == "tensor" || info.kind == "string", what, ": ", where, " has unknown kind '", info.kind, "'");
    info.dtype = field(e, "dtype", json::value_t::string, where).get<std::string>();
    const std::size_t es = dtype_size(info.dtype);
    require(es != 0 && (info.kind == "tensor") == (es != 1), what, ": ", where, " has unknown dtype '", info.dtype, "'");
    const json& shape = field(e, "shape", json::value_t::array, where);
    require(shape.size() <= 4, what, ": ", where, " has rank ", shape.size(), " > 4");
    std::uint64_t numel = 1;
    for (const json& d : shape) {
      require(d.is_number_integer() && d.get<std::int64_t>() >= 0, what, ": ", where, " has a bad dimension");
      const auto dv = static_cast<std::uint64_t>(d.get<std::int64_t>());
      require(dv == 0 || numel <= data_size / dv, what, ": ", where, " has shape larger than the file");
      numel *= dv;
      info.shape.push_back(static_cast<std::int64_t>(dv));
    }
    info.offset = field(e, "offset", json::value_t::number_unsigned, where).get<std::uint64_t>();
    info.bytes = field(e, "bytes", json::value_t::number_unsigned, where).get<std::uint64_t>();
    require(numel <= data_size / es && info.bytes == numel * es, what, ": ", where, " declares ", info.bytes, " bytes for ",
            shape_text(info.shape), " of ", info.dtype);
    require(info.offset <= data_size && info.bytes <= data_size - info.offset, what, ": ", where,
            " lies outside the file's data (truncated or corrupted)");
    const std::string sum = field(e, "fnv1a64", json::value_t::string, where).get<std::string>();
    require(sum.size() == 16 && sum.find_first_not_of("0123456789abcdef") == std::string::npos, what, ": ", where,
            " has a malformed checksum");
    info.checksum = std::stoull(sum, nullptr, 16);
    out.push_back(std::move(info));
  }
  return out;
}

/// The header and the manifest of an open checkpoint file.
struct OpenedCheckpoint {
  Fd fd;
  std::uint64_t data_start = 0, data_size = 0;
  std::vector<EntryInfo> entries;
};

inline OpenedCheckpoint open_checkpoint(const std::string& path, const std::string& what) {
  check_little_endian();
  OpenedCheckpoint oc;
  oc.fd = Fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (oc.fd.get() < 0) fail(what, ": cannot open: ", errno_text());
  struct stat st {};
  if (::fstat(oc.fd.get(), &st) != 0) fail(what, ": cannot stat: ", errno_text());
  require(S_ISREG(st.st_mode), what, ": not a regular file");
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  require(file_size >= checkpoint_header_bytes, what, ": ", file_size, " bytes is shorter than the header (truncated or not a checkpoint)");
  unsigned char h[checkpoint_header_bytes];
  read_at(oc.fd.get(), h, sizeof h, 0, what);
  require(std::memcmp(h, checkpoint_magic, 8) == 0, what, ": not a structgan checkpoint (bad magic bytes)");
  const std::uint32_t version = get_u32(h + 8);
  require(version == checkpoint_version, what, ": checkpoint format version ", version, " is not supported (this build reads version ",
          checkpoint_version, ")");
  const std::uint64_t manifest_size = get_u64(h + 16), manifest_sum = get_u64(h + 24);
  oc.data_size = get_u64(h + 32);
  const std::uint64_t rest = file_size - checkpoint_header_bytes;
  require(manifest_size <= rest && oc.data_size <= rest - manifest_size, what, ": the header declares ", manifest_size,
          " manifest and ", oc.data_size, " data bytes but the file has only ", rest, " after the header (truncated)");
  require(manifest_size + oc.data_size == rest, what, ": ", rest - manifest_size - oc.data_size,
          " unexpected bytes after the data (corrupted)");
  std::string manifest(static_cast<std::size_t>(manifest_size), '\0');
  read_at(oc.fd.get(), manifest.data(), manifest.size(), checkpoint_header_bytes, what);
  require(fnv1a64(manifest.data(), manifest.size()) == manifest_sum, what, ": the manifest fails its checksum (corrupted)");
  oc.data_start = checkpoint_header_bytes + manifest_size;
  oc.entries = parse_manifest(manifest, version, oc.data_size, what);
  return oc;
}

}  // namespace detail

/// The manifest of the checkpoint at `path` (names, kinds, dtypes, shapes), after checking its
/// header and manifest. Throws structgan::Error for a bad or truncated file.
inline std::vector<EntryInfo> read_checkpoint_info(const std::string& path) {
  return detail::open_checkpoint(path, "read_checkpoint_info(" + path + ")").entries;
}

/// Writes every entry of `ck` to `path` with io::write_file_atomically (a temporary file in the
/// same folder, fsync, rename, fsync of the folder). Throws structgan::Error on any failure,
/// leaving the previous file at `path` untouched.
inline void save_checkpoint(const std::string& path, const Checkpoint& ck) {
  detail::check_little_endian();
  using nlohmann::json;
  std::vector<Checkpoint::Blob> blobs;
  json entries = json::array();
  std::uint64_t offset = 0;
  for (const auto& e : ck.entries()) {
    json j;
    j["name"] = e.name;
    j["kind"] = e.kind;
    j["role"] = e.role;
    if (e.kind == "integer") {
      j["value"] = e.get_integer();
      entries.push_back(std::move(j));
      continue;
    }
    Checkpoint::Blob b = e.read();
    j["dtype"] = e.dtype;
    j["shape"] = e.kind == "string" ? std::vector<std::int64_t>{static_cast<std::int64_t>(b.size)} : e.shape;
    j["offset"] = offset;
    j["bytes"] = static_cast<std::uint64_t>(b.size);
    j["fnv1a64"] = detail::hex64(detail::fnv1a64(b.data, b.size));
    offset += b.size;
    entries.push_back(std::move(j));
    blobs.push_back(std::move(b));
  }
  json manifest;
  manifest["format"] = "structgan-checkpoint";
  manifest["version"] = checkpoint_version;
  manifest["entries"] = std::move(entries);
  const std::string text = manifest.dump(1);
  unsigned char h[checkpoint_header_bytes] = {};
  std::memcpy(h, checkpoint_magic, 8);
  detail::put_u32(h + 8, checkpoint_version);
  detail::put_u32(h + 12, 0);
  detail::put_u64(h + 16, text.size());
  detail::put_u64(h + 24, detail::fnv1a64(text.data(), text.size()));
  detail::put_u64(h + 32, offset);

  write_file_atomically(path, [&](FileSink& out) {
    out.write(h, sizeof h);
    out.write(text);
    for (const auto& b : blobs) out.write(b.data, b.size);
  });
}

/// Restores every entry of `ck` from `path`, all or nothing: the file's structure, the names
/// (no entry missing; no unexpected one unless allowed), kinds, dtypes, shapes and every
/// checksum are verified before anything is assigned. Throws structgan::Error naming the problem.
inline void load_checkpoint(const std::string& path, const Checkpoint& ck, const LoadOptions& options = {}) {
  const std::string what = "load_checkpoint(" + path + ")";
  detail::OpenedCheckpoint oc = detail::open_checkpoint(path, what);
  std::unordered_map<std::string, const EntryInfo*> by_name;
  for (const auto& e : oc.entries) by_name.emplace(e.name, &e);

  // 1. Names: what is missing, what is unexpected.
  std::vector<std::string> missing, unexpected;
  std::unordered_map<std::string, bool> bound;
  for (const auto& e : ck.entries()) {
    bound.emplace(e.name, true);
    if (!by_name.count(e.name)) missing.push_back(e.name);
  }
  for (const auto& e : oc.entries)
    if (!bound.count(e.name)) unexpected.push_back(e.name);
  auto listing = [](const std::vector<std::string>& names) {
    std::ostringstream os;
    for (std::size_t i = 0; i < names.size() && i < 5; ++i) os << (i ? ", " : "") << "'" << names[i] << "'";
    if (names.size() > 5) os << " and " << names.size() - 5 << " more";
    return os.str();
  };
  require(missing.empty(), what, ": the file lacks ", missing.size(), " expected entries: ", listing(missing),
          " (saved from a different architecture or configuration?)");
  require(unexpected.empty() || options.allow_unbound_entries, what, ": the file has ", unexpected.size(),
          " entries not expected here: ", listing(unexpected),
          " (a different architecture? LoadOptions::allow_unbound_entries ignores them)");

  // 2. Kinds, dtypes, shapes.
  for (const auto& e : ck.entries()) {
    const EntryInfo& f = *by_name.at(e.name);
    require(f.kind == e.kind, what, ": entry '", e.name, "' is a ", f.kind, " in the file but a ", e.kind, " is expected");
    if (e.kind == "integer") continue;
    require(f.dtype == e.dtype, what, ": entry '", e.name, "' holds ", f.dtype, " but ", e.dtype, " is expected");
    if (e.kind == "tensor")
      require(f.shape == e.shape, what, ": entry '", e.name, "' has shape ", detail::shape_text(f.shape), " in the file but ",
              detail::shape_text(e.shape), " here (architecture mismatch)");
  }

  // 3. Blobs: read, verify checksums and assignability.
  std::vector<std::vector<unsigned char>> staged(ck.entries().size());
  for (std::size_t i = 0; i < ck.entries().size(); ++i) {
    const auto& e = ck.entries()[i];
    if (e.kind == "integer") continue;
    const EntryInfo& f = *by_name.at(e.name);
    staged[i].resize(static_cast<std::size_t>(f.bytes));  // bounded by the file's size (parse_manifest)
    if (f.bytes) detail::read_at(oc.fd.get(), staged[i].data(), staged[i].size(), oc.data_start + f.offset, what);
    require(detail::fnv1a64(staged[i].data(), staged[i].size()) == f.checksum, what, ": entry '", e.name,
            "' fails its checksum (corrupted)");
    if (e.check) {
      try {
        e.check(staged[i]);
      } catch (const std::exception& err) {
        fail(what, ": ", err.what());
      }
    }
  }

  // 4. Assign (nothing below can fail for a validated file).
  for (std::size_t i = 0; i < ck.entries().size(); ++i) {
    const auto& e = ck.entries()[i];
    if (e.kind == "integer") e.set_integer(by_name.at(e.name)->value);
    else e.assign(staged[i]);
  }
}

}  // namespace structgan::io
