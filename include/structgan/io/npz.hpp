#pragma once
/// \file Reading and writing NumPy .npz archives: a zip file of .npy members named `<key>.npy`.
/// Reads what `np.savez` (members stored) and `np.savez_compressed` (members deflated) write; writes float64
/// arrays stored, as `np.savez` does, so that `np.load` and pytorch-fid read our files. The zip structures used
/// are those of PKWARE's APPNOTE.TXT (local file header, central directory, end of central directory record).
#include <zlib.h>

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "structgan/core/error.hpp"
#include "structgan/core/fid_statistics.hpp"
#include "structgan/core/row_matrix.hpp"
#include "structgan/io/atomic_file.hpp"
#include "structgan/io/npy.hpp"

namespace structgan::io {

/// A float64 array for write_npz: its key (the member is `<name>.npy`), shape (C order) and elements.
struct NpzArray {
  std::string name;
  std::vector<std::uint64_t> shape;
  std::vector<double> values;
};

namespace detail {

/// Appends what write_npy_stream writes to a string (a .npz member built in memory).
struct StringSink {
  std::string& bytes;
  void write(const void* data, std::size_t n) { bytes.append(static_cast<const char*>(data), n); }
  void write(std::string_view b) { bytes.append(b); }
};

inline std::uint32_t zip_u16(const std::string& b, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at]) | (static_cast<unsigned char>(b[at + 1]) << 8));
}
inline std::uint32_t zip_u32(const std::string& b, std::size_t at) { return zip_u16(b, at) | (zip_u16(b, at + 2) << 16); }
inline std::uint64_t zip_u64(const std::string& b, std::size_t at) {
  return zip_u32(b, at) | (static_cast<std::uint64_t>(zip_u32(b, at + 4)) << 32);
}
inline void put_u16(std::string& b, std::uint32_t v) {
  b.push_back(static_cast<char>(v & 0xff));
  b.push_back(static_cast<char>((v >> 8) & 0xff));
}
inline void put_u32(std::string& b, std::uint32_t v) {
  put_u16(b, v & 0xffff);
  put_u16(b, v >> 16);
}

inline std::uint32_t crc32_of(const std::string& bytes) {
  // zlib's crc32 takes uInt lengths: feed 1 GiB at a time
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::size_t at = 0; at < bytes.size();) {
    const std::size_t k = std::min<std::size_t>(bytes.size() - at, std::size_t(1) << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + at), static_cast<uInt>(k));
    at += k;
  }
  return static_cast<std::uint32_t>(crc);
}

// Raw deflate (zip method 8, no zlib/gzip wrapper) of exactly `size` output bytes from exactly `in`.
inline std::string inflate_member(const std::string& in, std::uint64_t size, const std::string& where) {
  require(size <= 0xffffffffu && in.size() <= 0xffffffffu, where, ": member over 4 GiB is not supported");
  // deflate cannot expand more than 1032:1: a larger announced size is a corrupt header, not a reason to allocate
  require(size <= static_cast<std::uint64_t>(in.size()) * 1032u + 1024u, where, ": announced size ", size,
          " bytes is impossible for ", in.size(), " compressed bytes (corrupt archive)");
  std::string out(static_cast<std::size_t>(size), '\0');
  z_stream zs{};
  require(inflateInit2(&zs, -MAX_WBITS) == Z_OK, where, ": zlib inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&zs, Z_FINISH);
  const std::string msg = zs.msg ? zs.msg : "";
  const std::uint64_t produced = zs.total_out, used = zs.total_in;
  inflateEnd(&zs);
  require(rc == Z_STREAM_END, where, ": corrupt deflate data (zlib: ",
          msg.empty() ? (rc == Z_BUF_ERROR ? std::string("data ends early or inflates past the announced size")
                                           : "error " + std::to_string(rc))
                      : msg,
          ")");
  require(produced == size && used == in.size(), where, ": deflate data inflate to ", produced, " bytes from ", used,
          ", the directory announces ", size, " from ", in.size());
  return out;
}

}  // namespace detail

/// Reads every member of a .npz (zip) file: key (the member name without ".npy") -> the member's .npy bytes.
/// Members must be stored or deflated, unencrypted; each one's CRC-32 is checked. Throws structgan::Error
/// naming the file and the problem: unreadable, not a zip (no end-of-central-directory record), truncated,
/// ZIP64 or multi-disk archives, bad local or central headers, other compression methods, CRC mismatch.
inline std::map<std::string, std::string> read_npz_members(const std::string& path) {
  std::string file;
  {
    std::ifstream in(path, std::ios::binary);
    require(static_cast<bool>(in), "read_npz: cannot open '", path, "'");
    std::ostringstream s;
    s << in.rdbuf();
    file = s.str();
  }
  const std::string where = "read_npz: " + path;
  // The end-of-central-directory record (22 bytes + a comment of at most 65535) closes the file.
  require(file.size() >= 22, where, ": not a zip archive (", file.size(), " bytes, too short)");
  std::size_t eocd = std::string::npos;
  const std::size_t lowest = file.size() > 22 + 65535 ? file.size() - 22 - 65535 : 0;
  for (std::size_t at = file.size() - 22 + 1; at-- > lowest;)
    if (detail::zip_u32(file, at) == 0x06054b50u && at + 22 + detail::zip_u16(file, at + 20) == file.size()) {
      eocd = at;
      break;
    }
  require(eocd != std::string::npos, where,
          ": not a zip archive or truncated (no end-of-central-directory record at its end)");
  const std::uint32_t disk = detail::zip_u16(file, eocd + 4), cd_disk = detail::zip_u16(file, eocd + 6);
  const std::uint32_t entries = detail::zip_u16(file, eocd + 10);
  const std::uint64_t cd_size = detail::zip_u32(file, eocd + 12), cd_offset = detail::zip_u32(file, eocd + 16);
  require(disk == 0 && cd_disk == 0 && detail::zip_u16(file, eocd + 8) == entries, where,
          ": multi-disk zip archives are not supported");
  require(entries != 0xffff && cd_size != 0xffffffffu && cd_offset != 0xffffffffu, where,
          ": ZIP64 archives (over 65535 members or 4 GiB) are not supported");
  require(cd_offset + cd_size <= eocd, where, ": truncated or corrupt: the central directory (", cd_size,
          " bytes at offset ", cd_offset, ") does not fit before its end record at ", eocd);
  std::map<std::string, std::string> out;
  std::size_t at = static_cast<std::size_t>(cd_offset);
  for (std::uint32_t e = 0; e < entries; ++e) {
    require(at + 46 <= cd_offset + cd_size && detail::zip_u32(file, at) == 0x02014b50u, where,
            ": corrupt central directory at entry ", e, " (offset ", at, ")");
    const std::uint32_t flags = detail::zip_u16(file, at + 8), method = detail::zip_u16(file, at + 10);
    const std::uint32_t crc = detail::zip_u32(file, at + 16);
    std::uint64_t csize = detail::zip_u32(file, at + 20), usize = detail::zip_u32(file, at + 24);
    const std::size_t name_len = detail::zip_u16(file, at + 28), extra_len = detail::zip_u16(file, at + 30),
                      comment_len = detail::zip_u16(file, at + 32);
    std::uint64_t local = detail::zip_u32(file, at + 42);
    const std::size_t next = at + 46 + name_len + extra_len + comment_len;
    require(next <= cd_offset + cd_size, where, ": corrupt central directory at entry ", e, " (names overrun it)");
    const std::string name = file.substr(at + 46, name_len);
    const std::string member = where + ": member '" + name + "'";
    // np.savez passes force_zip64, but Python's zipfile writes the ZIP64 extra field only in local headers; the
    // central directory holds 32-bit sizes unless a member really exceeds 4 GiB.
    require(csize != 0xffffffffu && usize != 0xffffffffu && local != 0xffffffffu, member,
            ": ZIP64 sizes (over 4 GiB) are not supported");
    require((flags & 1u) == 0, member, ": encrypted members are not supported");
    require(method == 0 || method == 8, member, ": compression method ", method,
            " is not supported (0 stored, as np.savez writes, or 8 deflate, as np.savez_compressed)");
    require(local + 30 <= cd_offset && detail::zip_u32(file, static_cast<std::size_t>(local)) == 0x04034b50u, member,
            ": bad local header at offset ", local);
    // the data follow the local header's own name and extra field (its sizes may be ZIP64 placeholders)
    const std::size_t lh = static_cast<std::size_t>(local);
    const std::size_t local_name_len = detail::zip_u16(file, lh + 26);
    const std::uint64_t data = local + 30 + local_name_len + detail::zip_u16(file, lh + 28);
    require(data <= cd_offset && detail::zip_u16(file, lh + 8) == method &&
                file.compare(lh + 30, local_name_len, name) == 0,
            member, ": bad local header at offset ", local, " (its name or method differs from the directory's)");
    require(data + csize <= cd_offset, member, ": truncated: ", csize, " bytes at offset ", data,
            " do not fit before the central directory at ", cd_offset);
    std::string bytes = file.substr(static_cast<std::size_t>(data), static_cast<std::size_t>(csize));
    if (method == 0) require(csize == usize, member, ": stored member with different sizes (", csize, " vs ", usize, ")");
    else bytes = detail::inflate_member(bytes, usize, member);
    const std::uint32_t actual = detail::crc32_of(bytes);
    require(actual == crc, member, ": CRC-32 mismatch (stored ", crc, ", data ", actual, "): the archive is corrupt");
    require(name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0, member, ": not a .npy member");
    require(out.emplace(name.substr(0, name.size() - 4), std::move(bytes)).second, member, ": duplicate member");
    at = next;
  }
  return out;
}

/// Decodes the bytes of a .npy file (a .npz member) holding a float32/float64 array into an NpzArray (values
/// converted to double, C order). `name` is used in messages. The header is parsed by read_npy_header (same
/// checks as for .npy files: magic, version, dict, dtype, fortran order, overflow, truncated data).
inline NpzArray npy_bytes_to_array(const std::string& bytes, const std::string& name) {
  std::istringstream in(bytes);
  const NpyHeader h = read_npy_header(in, bytes.size(), name);
  require(h.type == NpyType::float32 || h.type == NpyType::float64, "read_npz: ", name,
          ": expected a float32 or float64 array, got an integer dtype");
  require(detail::host_is_little_endian(), "read_npz: big-endian hosts are not supported");
  NpzArray out{name, h.shape, std::vector<double>(static_cast<std::size_t>(h.elements))};
  const char* src = bytes.data() + h.data_offset;
  for (std::size_t i = 0; i < out.values.size(); ++i) {
    if (h.type == NpyType::float64) {
      std::memcpy(&out.values[i], src + 8 * i, 8);
    } else {
      float v;
      std::memcpy(&v, src + 4 * i, 4);
      out.values[i] = v;
    }
  }
  return out;
}

/// Writes float64 arrays as an uncompressed .npz (members `<name>.npy`, stored, as np.savez does), atomically
/// (temporary file renamed into place). Throws structgan::Error naming the path on write errors, on duplicate
/// names, and when an array's element count differs from its shape's.
inline void write_npz(const std::string& path, const std::vector<NpzArray>& arrays) {
  require(arrays.size() < 0xffff, "write_npz: ", path, ": more than 65534 arrays");
  std::string zip, directory;
  for (std::size_t k = 0; k < arrays.size(); ++k) {
    const NpzArray& a = arrays[k];
    std::uint64_t elements = 1;
    for (std::uint64_t d : a.shape) elements *= d;
    require(elements == a.values.size(), "write_npz: ", path, ": array '", a.name, "' has ", a.values.size(),
            " values for ", elements, " elements of its shape");
    for (std::size_t j = 0; j < k; ++j)
      require(arrays[j].name != a.name, "write_npz: ", path, ": duplicate array name '", a.name, "'");
    // the member's .npy bytes, through the same writer as write_npy
    std::string npy;
    detail::StringSink sink{npy};
    detail::write_npy_stream(sink, "<f8", a.shape, a.values.data(), 8);
    require(zip.size() + npy.size() < 0xffffffffu, "write_npz: ", path, ": archives over 4 GiB are not supported");
    const std::string name = a.name + ".npy";
    const std::uint32_t crc = detail::crc32_of(npy), size = static_cast<std::uint32_t>(npy.size());
    const std::uint32_t offset = static_cast<std::uint32_t>(zip.size());
    // fields shared by the local header (from "version needed") and the central directory entry
    std::string common;
    detail::put_u16(common, 20);      // version needed to extract: 2.0
    detail::put_u16(common, 0);       // flags
    detail::put_u16(common, 0);       // method: stored
    detail::put_u16(common, 0);       // time
    detail::put_u16(common, 0x21);    // date: 1980-01-01
    detail::put_u32(common, crc);
    detail::put_u32(common, size);    // compressed size
    detail::put_u32(common, size);    // uncompressed size
    detail::put_u16(common, static_cast<std::uint32_t>(name.size()));
    detail::put_u16(common, 0);       // extra field length
    detail::put_u32(zip, 0x04034b50u);
    zip += common + name + npy;
    detail::put_u32(directory, 0x02014b50u);
    detail::put_u16(directory, 20);   // version made by
    directory += common;
    detail::put_u16(directory, 0);    // comment length
    detail::put_u16(directory, 0);    // disk
    detail::put_u16(directory, 0);    // internal attributes
    detail::put_u32(directory, 0);    // external attributes
    detail::put_u32(directory, offset);
    directory += name;
  }
  const std::uint32_t cd_offset = static_cast<std::uint32_t>(zip.size());
  zip += directory;
  detail::put_u32(zip, 0x06054b50u);
  detail::put_u16(zip, 0);  // this disk
  detail::put_u16(zip, 0);  // disk of the central directory
  detail::put_u16(zip, static_cast<std::uint32_t>(arrays.size()));
  detail::put_u16(zip, static_cast<std::uint32_t>(arrays.size()));
  detail::put_u32(zip, static_cast<std::uint32_t>(directory.size()));
  detail::put_u32(zip, cd_offset);
  detail::put_u16(zip, 0);  // comment length
  write_file_atomically(path, zip);
}

// ---- pytorch-fid's statistics files --------------------------------------------------------------

/// Reads pytorch-fid statistics: a .npz with `mu` (D, 1-D) and `sigma` (D×D), float64 (float32 accepted), as
/// np.savez or np.savez_compressed write them. Other members are ignored. Throws structgan::Error naming the
/// file for corrupt archives (see read_npz_members), a missing `mu` or `sigma`, wrong shapes and NaN/Inf.
inline FidStatistics read_fid_statistics(const std::string& path) {
  const auto members = read_npz_members(path);
  auto get = [&](const char* key) {
    const auto it = members.find(key);
    require(it != members.end(), "read_fid_statistics: ", path, ": no '", key,
            "' member (pytorch-fid statistics hold 'mu' and 'sigma')");
    return npy_bytes_to_array(it->second, path + ": member '" + key + ".npy'");
  };
  const NpzArray mu = get("mu"), sigma = get("sigma");
  require(mu.shape.size() == 1 && mu.shape[0] > 0, "read_fid_statistics: ", path,
          ": 'mu' must be a non-empty 1-D array, got ", mu.shape.size(), " dimensions");
  const std::uint64_t d = mu.shape[0];
  require(sigma.shape.size() == 2 && sigma.shape[0] == d && sigma.shape[1] == d, "read_fid_statistics: ", path,
          ": 'sigma' must be ", d, "x", d, " for a ", d, "-entry 'mu'");
  FidStatistics s;
  s.mu = Eigen::Map<const Eigen::VectorXd>(mu.values.data(), static_cast<Eigen::Index>(d));
  s.sigma = Eigen::Map<const RowMatrixD>(sigma.values.data(), static_cast<Eigen::Index>(d), static_cast<Eigen::Index>(d));
  require(s.mu.allFinite(), "read_fid_statistics: ", path, ": 'mu' holds NaN or Inf");
  require(s.sigma.allFinite(), "read_fid_statistics: ", path, ": 'sigma' holds NaN or Inf (non-finite covariance)");
  return s;
}

/// Writes statistics as pytorch-fid does (np.savez(path, mu=mu, sigma=sigma): float64, uncompressed).
inline void write_fid_statistics(const std::string& path, const FidStatistics& s) {
  require(s.sigma.rows() == s.mu.size() && s.sigma.cols() == s.mu.size(), "write_fid_statistics: ", path,
          ": sigma is ", s.sigma.rows(), "x", s.sigma.cols(), " for a ", s.mu.size(), "-entry mu");
  const auto d = static_cast<std::uint64_t>(s.mu.size());
  const RowMatrixD sigma = s.sigma;
  write_npz(path, {{"mu", {d}, std::vector<double>(s.mu.data(), s.mu.data() + s.mu.size())},
                   {"sigma", {d, d}, std::vector<double>(sigma.data(), sigma.data() + sigma.size())}});
}

}  // namespace structgan::io
