// numpy .npy files: a magic string, a Python-dict header and raw array bytes.
// Layout: ../shared/reference/mxnet_formats.md §B.7 and numpy's lib/format.py.
#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>

#include "core/file_io.h"
#include "formats/numpy/npy_detail.h"
#include "mixprec/error.h"
#include "mixprec/limits.h"
#include "mixprec/numpy.h"

namespace mixprec::numpy {

// Tensor bytes are little-endian; the code below copies them to and from files unchanged.
static_assert(std::endian::native == std::endian::little, "the npy code assumes a little-endian host");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// numpy aligns the data to this many bytes and leaves room for this many digits in the first
// dimension, so that an array can grow in place (lib/format.py ARRAY_ALIGN, GROWTH_AXIS_MAX_DIGITS).
constexpr size_t kAlign = 64;
constexpr size_t kGrowthDigits = 21;

struct DescrEntry {
  std::string_view code;  // kind and size, without the byte-order mark
  DType dtype;
};
constexpr DescrEntry kDescrs[] = {
    {"f2", DType::Float16}, {"f4", DType::Float32}, {"f8", DType::Float64}, {"b2", DType::BFloat16},
    {"i1", DType::Int8},    {"i2", DType::Int16},   {"i4", DType::Int32},   {"i8", DType::Int64},
    {"u1", DType::UInt8},   {"u2", DType::UInt16},  {"u4", DType::UInt32},  {"u8", DType::UInt64},
    {"b1", DType::Bool},
};

std::string place_at(const std::string& where, size_t byte) {
  std::string p = "byte " + std::to_string(byte);
  return where.empty() ? p : where + ", " + p;
}

[[noreturn]] void fail_at(const std::string& source, const std::string& where, size_t byte, const std::string& why) {
  throw Error(source, place_at(where, byte), why);
}

// numpy's repr of a shape tuple: "()", "(5,)", "(2, 3)".
std::string shape_repr(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

// Overflow-safe byte count; nullopt when it does not fit in 64 bits.
std::optional<uint64_t> byte_count(const std::vector<int64_t>& shape, size_t elem_size) {
  // An empty array is empty whatever its other dims, even ones whose product overflows.
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  uint64_t n = elem_size;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return std::nullopt;
  return n;
}

struct Header {
  DType dtype = DType::Unknown;
  bool swap = false;  // big-endian data of a multi-byte type
  bool fortran = false;
  std::vector<int64_t> shape;
};

// The subset of Python literal syntax np.save produces: a dict of strings, booleans and int
// tuples. Whitespace and key order are free; the keys are the three numpy defines.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, size_t base, const std::string& source, const std::string& where)
      : s_(text), base_(base), source_(source), where_(where) {}

  Header parse() {
    Header h;
    bool have_descr = false, have_order = false, have_shape = false;
    skip_ws();
    expect('{');
    for (;;) {
      skip_ws();
      if (peek() == '}') break;
      const size_t key_at = pos_;
      const std::string key = parse_string();
      skip_ws();
      expect(':');
      skip_ws();
      auto once = [&](bool& seen) {
        if (seen) fail(key_at, "key '" + key + "' appears twice");
        seen = true;
      };
      if (key == "descr") {
        once(have_descr);
        const size_t at = pos_;
        if (peek() == '[') fail(at, "structured dtypes are not supported");
        set_descr(parse_string(), at, h);
      } else if (key == "fortran_order") {
        once(have_order);
        h.fortran = parse_bool();
      } else if (key == "shape") {
        once(have_shape);
        h.shape = parse_shape();
      } else {
        fail(key_at, "unexpected key '" + key + "' (numpy headers hold 'descr', 'fortran_order', 'shape')");
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') fail(pos_, "expected ',' or '}' after the value of '" + key + "'");
    }
    ++pos_;  // '}'
    skip_ws();
    if (pos_ != s_.size()) fail(pos_, "unexpected text after the header dict");
    if (!have_descr) fail(pos_, "the header lacks 'descr'");
    if (!have_order) fail(pos_, "the header lacks 'fortran_order'");
    if (!have_shape) fail(pos_, "the header lacks 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(size_t at, const std::string& why) const {
    fail_at(source_, where_, base_ + at, "malformed npy header: " + why);
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  void expect(char c) {
    if (peek() != c) fail(pos_, std::string("expected '") + c + "'");
    ++pos_;
  }

  std::string parse_string() {
    const char q = peek();
    if (q != '\'' && q != '"') fail(pos_, "expected a quoted string");
    const size_t start = ++pos_;
    while (pos_ < s_.size() && s_[pos_] != q) {
      if (s_[pos_] == '\\') fail(pos_, "escapes in strings are not supported");
      ++pos_;
    }
    if (pos_ >= s_.size()) fail(start - 1, "unterminated string");
    return std::string(s_.substr(start, pos_++ - start));
  }

  bool word(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }
  bool parse_bool() {
    if (word("True")) return true;
    if (word("False")) return false;
    fail(pos_, "expected True or False");
  }

  int64_t parse_dim() {
    const size_t at = pos_;
    if (peek() == '-') fail(at, "negative dimension");
    if (peek() < '0' || peek() > '9') fail(at, "expected a dimension");
    int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, peek() - '0', &v))
        fail(at, "dimension too large");
      ++pos_;
    }
    if (peek() == 'L' || peek() == 'l') ++pos_;  // Python 2 longs, as old numpy wrote them
    return v;
  }

  // "()", "(5,)", "(2, 3)" and, leniently, "(5)".
  std::vector<int64_t> parse_shape() {
    std::vector<int64_t> shape;
    expect('(');
    skip_ws();
    while (peek() != ')') {
      if (shape.size() == limits::kMaxNdim)
        fail(pos_, "the shape has more than " + std::to_string(limits::kMaxNdim) + " dimensions");
      shape.push_back(parse_dim());
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        skip_ws();
      } else if (peek() != ')') {
        fail(pos_, "expected ',' or ')' in the shape");
      }
    }
    ++pos_;
    return shape;
  }

  void set_descr(const std::string& d, size_t at, Header& h) const {
    std::string_view code = d;
    char order = '=';
    if (!code.empty() && std::string_view("<>|=").find(code.front()) != std::string_view::npos) {
      order = code.front();
      code.remove_prefix(1);
    }
    for (const DescrEntry& e : kDescrs)
      if (e.code == code) {
        h.dtype = e.dtype;
        h.swap = order == '>' && dtype_size(e.dtype) > 1;
        return;
      }
    fail_at(source_, where_, base_ + at, "unsupported dtype descr '" + d + "'");
  }

  std::string_view s_;
  size_t pos_ = 0;
  size_t base_;
  const std::string& source_;
  const std::string& where_;
};

// Copies Fortran-order (first index fastest) elements into C order.
void fortran_to_c(const uint8_t* in, uint8_t* out, const std::vector<int64_t>& shape, size_t esz) {
  struct Axis {
    size_t dim, cstride, idx;  // cstride in elements
  };
  std::vector<Axis> axes(shape.size());
  size_t n = 1;
  for (size_t k = shape.size(); k-- > 0;) {
    axes[k] = {static_cast<size_t>(shape[k]), n, 0};
    n *= axes[k].dim;
  }
  size_t off = 0;
  for (size_t e = 0; e < n; ++e) {
    std::memcpy(out + off * esz, in + e * esz, esz);
    for (Axis& a : axes) {
      if (++a.idx < a.dim) {
        off += a.cstride;
        break;
      }
      off -= (a.dim - 1) * a.cstride;
      a.idx = 0;
    }
  }
}

void swap_elements(uint8_t* p, size_t bytes, size_t esz) {
  for (size_t i = 0; i + esz <= bytes; i += esz) std::reverse(p + i, p + i + esz);
}

std::string_view descr_of(DType t) {
  switch (t) {
    case DType::Float32: return "<f4";
    case DType::Float64: return "<f8";
    case DType::Float16: return "<f2";
    case DType::BFloat16: return "<b2";  // MXNet's own spelling; stock numpy rejects it
    case DType::UInt8: return "|u1";
    case DType::Int8: return "|i1";
    case DType::Bool: return "|b1";
    case DType::Int16: return "<i2";
    case DType::Int32: return "<i4";
    case DType::Int64: return "<i8";
    case DType::UInt16: return "<u2";
    case DType::UInt32: return "<u4";
    case DType::UInt64: return "<u8";
    default: return {};
  }
}

}  // namespace

namespace detail {

Tensor parse_npy_in(const uint8_t* data, size_t size, const std::string& source, const std::string& where) {
  auto fail = [&](size_t at, const std::string& why) { fail_at(source, where, at, why); };
  if (size == 0 || std::memcmp(data, kMagic, std::min(size, kMagicLen)) != 0) {
    const bool zip = size >= 2 && data[0] == 'P' && data[1] == 'K';
    fail(0, zip ? "not an .npy file (this looks like a zip/.npz archive)" : "not an .npy file (bad magic)");
  }
  if (size < 8) fail(size, "truncated file: the magic string and version need 8 bytes");
  const uint8_t major = data[6], minor = data[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    fail(6, "unsupported npy version " + std::to_string(major) + "." + std::to_string(minor));
  const size_t len_size = major == 1 ? 2 : 4;
  if (size < 8 + len_size) fail(size, "truncated file: the header length is cut off");
  uint64_t header_len = 0;
  for (size_t i = 0; i < len_size; ++i) header_len |= static_cast<uint64_t>(data[8 + i]) << (8 * i);
  const size_t header_at = 8 + len_size;
  if (header_len > size - header_at)
    fail(size, "truncated file: the header needs " + std::to_string(header_len) + " bytes, " +
                   std::to_string(size - header_at) + " remain");
  const std::string_view text(reinterpret_cast<const char*>(data + header_at), static_cast<size_t>(header_len));
  const Header h = HeaderParser(text, header_at, source, where).parse();

  const size_t data_at = header_at + static_cast<size_t>(header_len);
  const size_t esz = dtype_size(h.dtype);
  const std::optional<uint64_t> need = byte_count(h.shape, esz);
  const size_t have = size - data_at;
  if (!need) fail(header_at, "shape " + shape_repr(h.shape) + " is too large");
  if (need != have)
    fail(data_at, "shape " + shape_repr(h.shape) + " of " + std::string(dtype_name(h.dtype)) + " needs " +
                      std::to_string(*need) + " bytes of data, the file has " + std::to_string(have));

  Tensor t;
  t.dtype = h.dtype;
  t.shape = h.shape;
  t.data.resize(have);
  if (have > 0) {
    if (h.fortran && h.shape.size() > 1)
      fortran_to_c(data + data_at, t.data.data(), h.shape, esz);
    else
      std::memcpy(t.data.data(), data + data_at, have);
    if (h.swap) swap_elements(t.data.data(), have, esz);
  }
  return t;
}

std::string npy_header(const Tensor& t, const std::string& source, const std::string& place) {
  const std::string_view descr = descr_of(t.dtype);
  if (descr.empty()) throw Error(source, place, "cannot write a tensor of dtype " + std::string(dtype_name(t.dtype)));
  if (t.shape.size() > limits::kMaxNdim)
    throw Error(source, place, "a tensor with more than " + std::to_string(limits::kMaxNdim) + " dimensions");
  for (int64_t d : t.shape)
    if (d < 0) throw Error(source, place, "negative dimension in shape " + shape_repr(t.shape));
  const std::optional<uint64_t> need = byte_count(t.shape, dtype_size(t.dtype));
  if (!need || *need != t.data.size())
    throw Error(source, place, "tensor of shape " + shape_repr(t.shape) + " holds " + std::to_string(t.data.size()) +
                                   " bytes, expected " + (need ? std::to_string(*need) : std::string("more")));

  // numpy: keys sorted, each "'key': repr(value), ", then the spare room for the first dim.
  std::string dict = "{'descr': '";
  dict.append(descr).append("', 'fortran_order': False, 'shape': ").append(shape_repr(t.shape)).append(", }");
  if (!t.shape.empty()) {
    const size_t digits = std::to_string(t.shape.front()).size();
    if (digits < kGrowthDigits) dict.append(kGrowthDigits - digits, ' ');
  }
  // Padding (always 1..64 spaces, as numpy) and '\n' end the header at a multiple of 64.
  const size_t body = dict.size() + 1;
  size_t prefix = kMagicLen + 2 + 2;
  size_t pad = kAlign - (prefix + body) % kAlign;
  uint8_t major = 1;
  if (body + pad > std::numeric_limits<uint16_t>::max()) {
    major = 2;
    prefix = kMagicLen + 2 + 4;
    pad = kAlign - (prefix + body) % kAlign;
  }
  const uint64_t header_len = body + pad;
  std::string out(kMagic, kMagicLen);
  out += static_cast<char>(major);
  out += '\0';
  for (size_t i = 0; i < prefix - kMagicLen - 2; ++i) out += static_cast<char>((header_len >> (8 * i)) & 0xff);
  out += dict;
  out.append(pad, ' ');
  out += '\n';
  return out;
}

}  // namespace detail

Tensor parse_npy(const uint8_t* data, size_t size, const std::string& source) {
  return detail::parse_npy_in(data, size, source, "");
}

Tensor read_npy(const std::string& path) {
  const MappedFile file(path);
  return parse_npy(file.data(), file.size(), path);
}

std::vector<uint8_t> write_npy(const Tensor& tensor) {
  const std::string header = detail::npy_header(tensor, "", "");
  std::vector<uint8_t> out;
  out.reserve(header.size() + tensor.data.size());
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), tensor.data.begin(), tensor.data.end());
  return out;
}

void save_npy(const Tensor& tensor, const std::string& path) {
  const std::string header = detail::npy_header(tensor, path, "");
  write_files_atomic({{path, [&](const ByteSink& sink) {
                         sink(header.data(), header.size());
                         if (!tensor.data.empty()) sink(tensor.data.data(), tensor.data.size());
                       }}});
}

}  // namespace mixprec::numpy
