#include "io/npz.hpp"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <numeric>
#include <type_traits>

#include "engine/file_checks.hpp"
#include "engine/error.hpp"
#include "io/atomic_file.hpp"

namespace nqmd {
namespace {

std::vector<unsigned char> read_whole_file(const std::string& path) {
  require_regular_file(path, "a .npz archive");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot open '" + path + "'");
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw InputError("error reading '" + path + "'");
  return bytes;
}

std::uint64_t read_le(const unsigned char* p, int n) {
  std::uint64_t value = 0;
  for (int i = n - 1; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

// True if the `length` bytes from `offset` lie within `size` bytes (sizes read from a file can be anything, so the
// sum offset + length is never formed).
bool within(std::uint64_t offset, std::uint64_t length, std::uint64_t size) {
  return offset <= size && length <= size - offset;
}

// Element width of a numpy descr "<order><kind><bytes>" such as "<f8" or "|u1"; 0 if it is not of that form.
std::size_t descr_width(const std::string& descr) {
  if (descr.size() < 3 || descr.size() > 4) return 0;
  std::size_t width = 0;
  for (std::size_t k = 2; k < descr.size(); ++k) {
    if (!std::isdigit(static_cast<unsigned char>(descr[k]))) return 0;
    width = 10 * width + static_cast<std::size_t>(descr[k] - '0');
  }
  return width;
}

// Text from a file, for a one-line message: bytes outside printable ASCII as \xNN, at most 100 characters.
std::string printable(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (out.size() >= 100) return out + "...";
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += {'\\', 'x', kHex[byte >> 4], kHex[byte & 15]};
    }
  }
  return out;
}

// "where: " for the messages about an array: its file and entry, if it was read from one.
std::string array_where(const NpyArray& a) { return a.source.empty() ? "npy array: " : a.source + ": "; }

// Value of `key` in a numpy header dict such as {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }.
std::string header_value(const std::string& header, const std::string& key, const std::string& what) {
  const std::string quoted = "'" + key + "'";
  std::size_t pos = header.find(quoted);
  if (pos == std::string::npos) throw InputError(what + ": npy header has no '" + key + "'");
  pos = header.find(':', pos + quoted.size());
  if (pos == std::string::npos) throw InputError(what + ": malformed npy header");
  ++pos;
  while (pos < header.size() && header[pos] == ' ') ++pos;
  if (pos >= header.size()) throw InputError(what + ": malformed npy header");
  std::size_t end;
  if (header[pos] == '\'') {
    end = header.find('\'', pos + 1);
    if (end == std::string::npos) throw InputError(what + ": malformed npy header");
    return header.substr(pos + 1, end - pos - 1);
  }
  if (header[pos] == '(') {
    end = header.find(')', pos);
    if (end == std::string::npos) throw InputError(what + ": malformed npy header");
    return header.substr(pos, end - pos + 1);
  }
  end = header.find_first_of(",}", pos);
  if (end == std::string::npos) throw InputError(what + ": malformed npy header");
  std::string value = header.substr(pos, end - pos);
  while (!value.empty() && value.back() == ' ') value.pop_back();
  return value;
}

// A Python tuple of non-negative integers: (), (3,), (3, 4).
std::vector<std::size_t> parse_shape(const std::string& text, const std::string& what) {
  const auto bad = [&] {
    return InputError(what + ": bad npy shape '" + printable(text) + "' (expected a tuple of sizes)");
  };
  std::vector<std::size_t> shape;
  std::size_t pos = 1;  // after '('
  while (pos < text.size()) {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == ',')) ++pos;
    if (pos >= text.size() || text[pos] == ')') break;
    if (!std::isdigit(static_cast<unsigned char>(text[pos]))) throw bad();
    std::size_t dim = 0;
    for (; pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])); ++pos) {
      const auto digit = static_cast<std::size_t>(text[pos] - '0');
      if (dim > (std::numeric_limits<std::size_t>::max() - digit) / 10) throw bad();
      dim = 10 * dim + digit;
    }
    if (pos < text.size() && text[pos] != ' ' && text[pos] != ',' && text[pos] != ')') throw bad();
    shape.push_back(dim);
  }
  return shape;
}

// Position in C order -> position in storage order for a Fortran-ordered array.
std::vector<std::size_t> storage_order(const NpyArray& a) {
  const std::size_t n = a.size();
  std::vector<std::size_t> index(n);
  if (!a.fortran_order || a.shape.size() < 2) {
    std::iota(index.begin(), index.end(), std::size_t{0});
    return index;
  }
  const std::size_t rank = a.shape.size();
  std::vector<std::size_t> f_stride(rank, 1);
  for (std::size_t d = 1; d < rank; ++d) f_stride[d] = f_stride[d - 1] * a.shape[d - 1];
  std::vector<std::size_t> counter(rank, 0);
  for (std::size_t c = 0; c < n; ++c) {
    std::size_t f = 0;
    for (std::size_t d = 0; d < rank; ++d) f += counter[d] * f_stride[d];
    index[c] = f;
    for (std::size_t d = rank; d-- > 0;) {
      if (++counter[d] < a.shape[d]) break;
      counter[d] = 0;
    }
  }
  return index;
}

template <typename Out>
std::vector<Out> convert(const NpyArray& a) {
  const char kind = a.descr.size() >= 2 ? a.descr[1] : '?';
  const char order = a.descr.empty() ? '?' : a.descr[0];
  const std::size_t width = a.item_size();
  if (order == '>' && width > 1)
    throw InputError(array_where(a) + "big-endian npy data (" + a.descr + ") is not supported");
  if (std::string("fiub").find(kind) == std::string::npos || width == 0 || width > 8 ||
      a.bytes.size() / width < a.size())
    throw InputError(array_where(a) + "npy element type '" + a.descr + "' is not numeric");
  const std::vector<std::size_t> index = storage_order(a);
  std::vector<Out> out(index.size());
  for (std::size_t c = 0; c < index.size(); ++c) {
    const unsigned char* p = a.bytes.data() + index[c] * width;
    if (kind == 'f' && width == 8) {
      double v;
      std::memcpy(&v, p, 8);
      out[c] = static_cast<Out>(v);
    } else if (kind == 'f' && width == 4) {
      float v;
      std::memcpy(&v, p, 4);
      out[c] = static_cast<Out>(v);
    } else if (kind == 'i') {
      std::uint64_t raw = read_le(p, static_cast<int>(width));
      if (width < 8 && (raw >> (8 * width - 1)) & 1U) raw |= ~std::uint64_t{0} << (8 * width);
      out[c] = static_cast<Out>(static_cast<std::int64_t>(raw));
    } else if (kind == 'u' || kind == 'b') {
      const std::uint64_t raw = read_le(p, static_cast<int>(width));
      constexpr auto kInt64Max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
      if (std::is_same_v<Out, std::int64_t> && raw > kInt64Max)
        throw InputError(array_where(a) + "npy array of " + a.descr + " holds a value beyond the int64 range");
      out[c] = static_cast<Out>(raw);
    } else {
      throw InputError(array_where(a) + "npy element type '" + a.descr + "' is not numeric");
    }
  }
  return out;
}

}  // namespace

std::size_t NpyArray::size() const {
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  return n;
}

std::size_t NpyArray::item_size() const { return descr_width(descr); }

bool NpyArray::is_floating() const { return descr.size() >= 2 && descr[1] == 'f'; }
bool NpyArray::is_integer() const {
  return descr.size() >= 2 && (descr[1] == 'i' || descr[1] == 'u' || descr[1] == 'b');
}

std::vector<double> NpyArray::to_double() const { return convert<double>(*this); }

std::vector<std::int64_t> NpyArray::to_int64() const {
  if (!is_floating()) return convert<std::int64_t>(*this);
  std::vector<double> values = to_double();
  std::vector<std::int64_t> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i] != std::floor(values[i]))
      throw InputError(array_where(*this) + "npy array of " + descr + " holds non-integral values");
    // [-2^63, 2^63): the doubles that convert to int64 (beyond, the conversion is undefined).
    if (!(values[i] >= -9223372036854775808.0 && values[i] < 9223372036854775808.0))
      throw InputError(array_where(*this) + "npy array of " + descr + " holds a value beyond the int64 range");
    out[i] = static_cast<std::int64_t>(values[i]);
  }
  return out;
}

NpyArray parse_npy(const std::vector<unsigned char>& file, const std::string& what) {
  static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (file.size() < 10 || std::memcmp(file.data(), magic, 6) != 0) throw InputError(what + ": not an npy array");
  const int major = file[6];
  std::size_t header_length;
  std::size_t header_start;
  if (major == 1) {
    header_length = static_cast<std::size_t>(read_le(file.data() + 8, 2));
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (file.size() < 12) throw InputError(what + ": truncated npy header");
    header_length = static_cast<std::size_t>(read_le(file.data() + 8, 4));
    header_start = 12;
  } else {
    throw InputError(what + ": unsupported npy format version " + std::to_string(major));
  }
  if (header_start + header_length > file.size()) throw InputError(what + ": truncated npy header");
  const std::string header(reinterpret_cast<const char*>(file.data() + header_start), header_length);

  NpyArray array;
  array.descr = header_value(header, "descr", what);
  const std::string fortran = header_value(header, "fortran_order", what);
  if (fortran != "True" && fortran != "False")
    throw InputError(what + ": bad fortran_order '" + printable(fortran) + "'");
  array.fortran_order = fortran == "True";
  const std::string shape = header_value(header, "shape", what);
  if (shape.empty() || shape.front() != '(') throw InputError(what + ": bad npy shape '" + printable(shape) + "'");
  array.shape = parse_shape(shape, what);
  // Little-endian ('<', '=' on this machine, '|' for single bytes) floats of 4 or 8 bytes, integers of 1 to 8
  // bytes, bools of one.
  const char order = array.descr.empty() ? '?' : array.descr[0];
  const char kind = array.descr.size() >= 3 ? array.descr[1] : '?';
  const std::size_t width = array.item_size();
  const bool supported = std::string("fiub").find(kind) != std::string::npos &&
                         (width == 1 || width == 2 || width == 4 || width == 8) &&
                         (kind != 'f' || width >= 4) && (kind != 'b' || width == 1) &&
                         (order == '<' || order == '=' || ((order == '|' || order == '>') && width == 1));
  if (!supported) {
    throw InputError(what + ": unsupported npy element type '" + printable(array.descr) +
                     "' (expected little-endian float32/64, (u)int8 to (u)int64 or bool)");
  }
  // The data must hold every element of the shape (whose product must not overflow).
  const std::size_t data_start = header_start + header_length;
  const std::size_t available = file.size() - data_start;
  std::size_t elements = 1;
  const bool empty = std::find(array.shape.begin(), array.shape.end(), std::size_t{0}) != array.shape.end();
  for (const std::size_t dim : array.shape) {
    if (empty) {
      elements = 0;
      break;
    }
    if (elements > available / width / dim) {
      throw InputError(what + ": truncated npy data (" + std::to_string(available) + " bytes, fewer than shape " +
                       printable(shape) + " of " + array.descr + " needs)");
    }
    elements *= dim;
  }
  if (elements > available / width) {
    throw InputError(what + ": truncated npy data (" + std::to_string(available) + " bytes, fewer than shape " +
                     printable(shape) + " of " + array.descr + " needs)");
  }
  const std::size_t data_size = elements * width;
  array.bytes.assign(file.begin() + static_cast<std::ptrdiff_t>(data_start),
                     file.begin() + static_cast<std::ptrdiff_t>(data_start + data_size));
  array.source = what;
  return array;
}


std::map<std::string, std::vector<unsigned char>> read_zip(const std::string& path) {
  const std::vector<unsigned char> zip = read_whole_file(path);
  const std::string where = "'" + path + "'";
  const std::size_t n = zip.size();
  // End of central directory: signature 0x06054b50 within the last 22 + 65535 bytes.
  if (n < 22) throw InputError(where + ": not a zip archive (too short)");
  std::size_t eocd = std::string::npos;
  const std::size_t lowest = n > 22 + 65535 ? n - 22 - 65535 : 0;
  for (std::size_t p = n - 22 + 1; p-- > lowest;) {
    if (read_le(zip.data() + p, 4) == 0x06054b50) {
      eocd = p;
      break;
    }
  }
  if (eocd == std::string::npos) throw InputError(where + ": not a zip archive (no end of central directory)");
  std::uint64_t entries = read_le(zip.data() + eocd + 10, 2);
  std::uint64_t cd_size = read_le(zip.data() + eocd + 12, 4);
  std::uint64_t cd_offset = read_le(zip.data() + eocd + 16, 4);
  if (entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
    // Zip64 end of central directory, found through its locator just before the classic record.
    if (eocd < 20 || read_le(zip.data() + eocd - 20, 4) != 0x07064b50) {
      throw InputError(where + ": zip64 archive without a zip64 locator");
    }
    const std::uint64_t z64 = read_le(zip.data() + eocd - 20 + 8, 8);
    if (!within(z64, 56, n) || read_le(zip.data() + z64, 4) != 0x06064b50)
      throw InputError(where + ": bad zip64 record");
    entries = read_le(zip.data() + z64 + 32, 8);
    cd_size = read_le(zip.data() + z64 + 40, 8);
    cd_offset = read_le(zip.data() + z64 + 48, 8);
  }
  if (!within(cd_offset, cd_size, n)) throw InputError(where + ": truncated zip archive (central directory)");

  std::map<std::string, std::vector<unsigned char>> members;
  std::uint64_t member_bytes = 0;  // stored bytes of the members so far
  std::size_t p = static_cast<std::size_t>(cd_offset);
  for (std::uint64_t e = 0; e < entries; ++e) {
    if (!within(p, 46, n) || read_le(zip.data() + p, 4) != 0x02014b50) {
      throw InputError(where + ": corrupt zip central directory");
    }
    const unsigned flags = static_cast<unsigned>(read_le(zip.data() + p + 8, 2));
    const unsigned method = static_cast<unsigned>(read_le(zip.data() + p + 10, 2));
    const std::uint32_t crc = static_cast<std::uint32_t>(read_le(zip.data() + p + 16, 4));
    std::uint64_t compressed = read_le(zip.data() + p + 20, 4);
    std::uint64_t uncompressed = read_le(zip.data() + p + 24, 4);
    const std::size_t name_length = static_cast<std::size_t>(read_le(zip.data() + p + 28, 2));
    const std::size_t extra_length = static_cast<std::size_t>(read_le(zip.data() + p + 30, 2));
    const std::size_t comment_length = static_cast<std::size_t>(read_le(zip.data() + p + 32, 2));
    std::uint64_t local_offset = read_le(zip.data() + p + 42, 4);
    if (!within(p + 46, name_length + extra_length + comment_length, n)) {
      throw InputError(where + ": corrupt zip central directory");
    }
    const std::string name(reinterpret_cast<const char*>(zip.data() + p + 46), name_length);
    // Zip64 extended information: the fields saturated in the fixed record, in this order.
    std::size_t x = p + 46 + name_length;
    const std::size_t x_end = x + extra_length;
    while (x + 4 <= x_end) {
      const unsigned id = static_cast<unsigned>(read_le(zip.data() + x, 2));
      const std::size_t size = static_cast<std::size_t>(read_le(zip.data() + x + 2, 2));
      if (id == 0x0001) {
        std::size_t q = x + 4;
        if (uncompressed == 0xFFFFFFFF && q + 8 <= x_end) uncompressed = read_le(zip.data() + q, 8), q += 8;
        if (compressed == 0xFFFFFFFF && q + 8 <= x_end) compressed = read_le(zip.data() + q, 8), q += 8;
        if (local_offset == 0xFFFFFFFF && q + 8 <= x_end) local_offset = read_le(zip.data() + q, 8);
      }
      x += 4 + size;
    }
    p += 46 + name_length + extra_length + comment_length;

    const std::string member = where + " member '" + printable(name) + "'";
    if (flags & 1U) throw InputError(member + " is encrypted");
    if (!within(local_offset, 30, n) || read_le(zip.data() + local_offset, 4) != 0x04034b50) {
      throw InputError(member + ": bad local header");
    }
    const std::uint64_t data_offset = local_offset + 30 + read_le(zip.data() + local_offset + 26, 2) +
                                      read_le(zip.data() + local_offset + 28, 2);
    if (!within(data_offset, compressed, n)) throw InputError(member + " is truncated");
    // Members cannot share bytes: entries pointing at the same data many times would multiply its size in memory.
    member_bytes += compressed;
    if (member_bytes > n)
      throw InputError(where + ": corrupt zip archive (its members claim more bytes than it holds)");
    const unsigned char* data = zip.data() + data_offset;

    // The size a member claims is checked against what its bytes can hold before anything is allocated for it.
    std::vector<unsigned char> out;
    if (method == 0) {
      if (compressed != uncompressed) throw InputError(member + ": stored sizes disagree");
      out.assign(data, data + compressed);
    } else if (method == 8) {
      // Deflate expands at most 1032-fold (a 258-byte match coded in two bits), plus a few bytes of block headers.
      if (uncompressed / 1032 > compressed + 64) {
        throw InputError(member + ": claims " + std::to_string(uncompressed) + " bytes, more than its " +
                         std::to_string(compressed) + " deflated bytes can hold");
      }
      out.resize(static_cast<std::size_t>(uncompressed));
      z_stream stream{};
      if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) throw InputError(member + ": cannot start inflate");
      // zlib counts in uInt (32 bits): a member over 4 GiB is fed and drained in pieces.
      unsigned char spare = 0;  // inflate needs an output pointer even for an empty member
      std::uint64_t in_left = compressed, out_left = uncompressed;
      stream.next_in = const_cast<Bytef*>(data);
      stream.next_out = out.empty() ? &spare : out.data();
      int status = Z_OK;
      while (status == Z_OK) {
        const std::uint64_t in_piece = std::min<std::uint64_t>(in_left, UINT_MAX - stream.avail_in);
        stream.avail_in += static_cast<uInt>(in_piece);
        in_left -= in_piece;
        const std::uint64_t out_piece = std::min<std::uint64_t>(out_left, UINT_MAX - stream.avail_out);
        stream.avail_out += static_cast<uInt>(out_piece);
        out_left -= out_piece;
        status = inflate(&stream, Z_NO_FLUSH);
      }
      const std::uint64_t produced = stream.total_out;
      inflateEnd(&stream);
      if (status != Z_STREAM_END || produced != uncompressed) throw InputError(member + ": corrupt deflate data");
    } else {
      throw InputError(member + ": unsupported compression method " + std::to_string(method));
    }
    const auto actual_crc = static_cast<std::uint32_t>(crc32_z(crc32_z(0L, Z_NULL, 0), out.data(), out.size()));
    if (actual_crc != crc) throw InputError(member + ": CRC mismatch");
    // Python's zipfile (numpy.load) would take the last of two members of one name; no choice is made here.
    if (!members.emplace(name, std::move(out)).second)
      throw InputError(where + ": member '" + printable(name) + "' appears twice");
  }
  return members;
}

NpzFile::NpzFile(const std::string& path) : path_(path) {
  for (auto& [name, bytes] : read_zip(path)) {
    std::string key = name;
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    const std::string what = "'" + path + "' entry '" + printable(name) + "'";
    if (!arrays_.emplace(key, parse_npy(bytes, what)).second)
      throw InputError(what + ": a second entry for the array '" + printable(key) + "'");
  }
}

std::vector<std::string> NpzFile::keys() const {
  std::vector<std::string> out;
  out.reserve(arrays_.size());
  for (const auto& entry : arrays_) out.push_back(entry.first);
  return out;
}

const NpyArray& NpzFile::get(const std::string& key) const {
  auto it = arrays_.find(key);
  if (it == arrays_.end()) throw InputError("'" + path_ + "' has no array '" + key + "'");
  return it->second;
}

namespace {

void put_le(std::vector<unsigned char>& out, std::uint64_t value, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<unsigned char>((value >> (8 * i)) & 0xff));
}

}  // namespace

std::vector<unsigned char> npy_bytes(const NpyArray& array) {
  // Python's tuple syntax: (), (8,), (8, 16).
  std::string shape = "(";
  for (std::size_t k = 0; k < array.shape.size(); ++k) shape += (k > 0 ? ", " : "") + std::to_string(array.shape[k]);
  shape += array.shape.size() == 1 ? ",)" : ")";
  std::string header = "{'descr': '" + array.descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic (6) + version (2) + header length (2) + header, padded with spaces and ended by a newline to 64 bytes.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::vector<unsigned char> out{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  put_le(out, header.size(), 2);
  out.insert(out.end(), header.begin(), header.end());
  if (array.fortran_order) {
    const std::vector<std::size_t> order = storage_order(array);
    const std::size_t item = array.item_size();
    for (std::size_t k = 0; k < order.size(); ++k)
      out.insert(out.end(), array.bytes.begin() + static_cast<std::ptrdiff_t>(order[k] * item),
                 array.bytes.begin() + static_cast<std::ptrdiff_t>((order[k] + 1) * item));
  } else {
    out.insert(out.end(), array.bytes.begin(), array.bytes.end());
  }
  return out;
}

NpyArray text_array(const std::string& text) {
  NpyArray a;
  a.descr = "|u1";
  a.shape = {text.size()};
  a.bytes.assign(text.begin(), text.end());
  return a;
}

void write_npz(const std::string& path, const std::vector<std::pair<std::string, NpyArray>>& arrays) {
  std::vector<unsigned char> file, directory;
  for (const auto& [name, array] : arrays) {
    const std::string member = name + ".npy";
    const std::vector<unsigned char> data = npy_bytes(array);
    const auto crc = crc32(0L, data.data(), static_cast<uInt>(data.size()));
    if (data.size() >= 0xffffffffULL || file.size() >= 0xffffffffULL)
      throw InputError("'" + path + "': entry '" + name + "' is too large for a zip archive without zip64");
    const std::uint64_t offset = file.size();
    // Local file header: stored (method 0), DOS date 1980-01-01.
    put_le(file, 0x04034b50, 4);
    put_le(file, 20, 2);
    put_le(file, 0, 2);
    put_le(file, 0, 2);
    put_le(file, 0, 2);
    put_le(file, 0x21, 2);
    put_le(file, crc, 4);
    put_le(file, data.size(), 4);
    put_le(file, data.size(), 4);
    put_le(file, member.size(), 2);
    put_le(file, 0, 2);
    file.insert(file.end(), member.begin(), member.end());
    file.insert(file.end(), data.begin(), data.end());
    // Central directory entry.
    put_le(directory, 0x02014b50, 4);
    put_le(directory, 20, 2);
    put_le(directory, 20, 2);
    put_le(directory, 0, 2);
    put_le(directory, 0, 2);
    put_le(directory, 0, 2);
    put_le(directory, 0x21, 2);
    put_le(directory, crc, 4);
    put_le(directory, data.size(), 4);
    put_le(directory, data.size(), 4);
    put_le(directory, member.size(), 2);
    put_le(directory, 0, 2);
    put_le(directory, 0, 2);
    put_le(directory, 0, 2);
    put_le(directory, 0, 2);
    put_le(directory, 0, 4);
    put_le(directory, offset, 4);
    directory.insert(directory.end(), member.begin(), member.end());
  }
  const std::uint64_t directory_offset = file.size();
  file.insert(file.end(), directory.begin(), directory.end());
  put_le(file, 0x06054b50, 4);
  put_le(file, 0, 2);
  put_le(file, 0, 2);
  put_le(file, arrays.size(), 2);
  put_le(file, arrays.size(), 2);
  put_le(file, directory.size(), 4);
  put_le(file, directory_offset, 4);
  put_le(file, 0, 2);
  replace_file_atomically(path, [&](const std::string& temporary) {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw InputError("cannot write '" + path + "' (through '" + temporary + "')");
    out.write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size()));
    out.close();
    if (!out) throw InputError("error writing '" + path + "' (through '" + temporary + "'; disk full?)");
  });
}

std::string first_zip_member(const std::string& path) {
  require_regular_file(path, "a model file");
  std::ifstream in(path, std::ios::binary);
  unsigned char header[30];
  if (!in.read(reinterpret_cast<char*>(header), sizeof header)) return "";
  if (read_le(header, 4) != 0x04034b50) return "";
  const auto length = static_cast<std::size_t>(read_le(header + 26, 2));
  std::string name(length, '\0');
  if (!in.read(name.data(), static_cast<std::streamsize>(length))) return "";
  return name;
}

}  // namespace nqmd
