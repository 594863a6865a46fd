// MXNet `.params` files (NDArray lists): parsing, writing and the arg/aux checkpoint split.
// Layout: ../shared/reference/mxnet_formats.md Part B.
#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <type_traits>

#include "formats/mxnet/params_pending.h"
#include "core/file_io.h"
#include "mixprec/error.h"
#include "mixprec/limits.h"
#include "mixprec/mxnet.h"

namespace mixprec::mxnet {

// The format stores raw host-order bytes, which are little-endian in every file in existence.
static_assert(std::endian::native == std::endian::little, "the .params reader assumes a little-endian host");

namespace {

constexpr uint64_t kListMagic = 0x112;
constexpr uint32_t kMagicV1 = 0xF993FAC8u;
constexpr uint32_t kMagicV2 = 0xF993FAC9u;
constexpr uint32_t kMagicV3 = 0xF993FACAu;
// MXNet never builds arrays with more dims; a larger count means a corrupt file.
constexpr auto kMaxNdim = static_cast<int64_t>(limits::kMaxNdim);
// The smallest array on disk (legacy, one dim, no data) takes this many bytes.
constexpr size_t kMinArrayBytes = 4 + 4 + 12;

std::string hex(uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  do {
    s.insert(s.begin(), digits[v & 0xf]);
    v >>= 4;
  } while (v != 0);
  return "0x" + s;
}

const char* stype_name(int32_t stype) {
  switch (stype) {
    case -1: return "undefined";
    case 1: return "row_sparse";
    case 2: return "csr";
    default: return nullptr;
  }
}

// Bounds-checked little-endian cursor. Every failure names the source and the byte offset (and
// the array being read, when there is one).
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& source) : data_(data), size_(size), source_(source) {}

  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }
  void set_array(int64_t k) { array_ = k; }

  [[noreturn]] void fail(size_t at, const std::string& why) const {
    std::string place = "byte " + std::to_string(at);
    if (array_ >= 0) place = "array " + std::to_string(array_) + ", " + place;
    throw Error(source_, place, why);
  }

  const uint8_t* take(size_t n, const char* what) {
    if (n > left())
      fail(pos_, std::string("truncated file: ") + what + " needs " + std::to_string(n) + " bytes, " +
                     std::to_string(left()) + " remain");
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }

  template <typename T>
  T get(const char* what) {
    T v;
    std::memcpy(&v, take(sizeof(T), what), sizeof(T));
    return v;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& source_;
  int64_t array_ = -1;
};

// Overflow-safe byte count of `shape`; false when the element count or byte count overflows.
bool byte_count(const std::vector<int64_t>& shape, size_t elem_size, uint64_t& bytes) {
  int64_t n = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n)) return false;
  return !__builtin_mul_overflow(static_cast<uint64_t>(n), static_cast<uint64_t>(elem_size), &bytes);
}

std::vector<int64_t> read_dims(Reader& r, int64_t ndim, bool legacy) {
  std::vector<int64_t> shape(static_cast<size_t>(ndim));
  for (auto& d : shape) {
    const size_t at = r.pos();
    if (legacy) {
      d = r.get<uint32_t>("a dimension");
    } else {
      d = r.get<int64_t>("a dimension");
      if (d < 0) r.fail(at, "negative dimension " + std::to_string(d));
    }
  }
  return shape;
}

// Reads one array's header and checks that its data fits in what remains; the reader is left at
// the data, which the caller takes or skips.
ArrayInfo read_array_header(Reader& r) {
  ArrayInfo a;
  const size_t start = r.pos();
  const uint32_t head = r.get<uint32_t>("the array header");
  int64_t ndim = 0;
  size_t ndim_at = start;
  if (head == kMagicV1 || head == kMagicV2 || head == kMagicV3) {
    a.format = head == kMagicV1 ? ArrayFormat::V1 : head == kMagicV2 ? ArrayFormat::V2 : ArrayFormat::V3;
    if (a.format != ArrayFormat::V1) {
      const size_t at = r.pos();
      const int32_t stype = r.get<int32_t>("the storage type");
      if (stype != 0) {
        const char* name = stype_name(stype);
        if (!name) r.fail(at, "unknown storage type " + std::to_string(stype));
        r.fail(at, std::string("storage type ") + name + " is not supported (only dense arrays are)");
      }
    }
    ndim_at = r.pos();
    ndim = r.get<int32_t>("the number of dimensions");
  } else {
    // Pre-V1 arrays have no magic: the first word is already ndim.
    a.format = ArrayFormat::Legacy;
    ndim = head;
  }
  const bool np_shape = a.format == ArrayFormat::V3;
  if (ndim == (np_shape ? -1 : 0))
    r.fail(ndim_at, "empty (none) array is not supported");
  if (ndim < 0) r.fail(ndim_at, "negative number of dimensions " + std::to_string(ndim));
  if (ndim > kMaxNdim) {
    const std::string why = "number of dimensions " + std::to_string(ndim) + " exceeds " + std::to_string(kMaxNdim);
    r.fail(ndim_at, a.format == ArrayFormat::Legacy ? why + " (or unknown array magic " + hex(head) + ")" : why);
  }
  a.shape = read_dims(r, ndim, a.format == ArrayFormat::Legacy);
  a.dev_type = r.get<int32_t>("the device type");
  a.dev_id = r.get<int32_t>("the device id");
  const size_t dtype_at = r.pos();
  const int32_t code = r.get<int32_t>("the dtype code");
  const auto dtype = dtype_from_code(code);
  if (!dtype) r.fail(dtype_at, "unknown dtype code " + std::to_string(code));
  a.dtype = *dtype;
  // Sizes are checked against what the file holds before anything is allocated.
  if (!byte_count(a.shape, dtype_size(*dtype), a.nbytes))
    r.fail(ndim_at, "array size overflows (shape is impossibly large)");
  if (a.nbytes > r.left())
    r.fail(r.pos(), "truncated file: array data needs " + std::to_string(a.nbytes) + " bytes, " +
                        std::to_string(r.left()) + " remain");
  a.data_offset = r.pos();
  return a;
}

// The one parser of a whole list, behind both parse_params and scan_params. It calls
// `on_count(n)` once the array count is known to fit in the file, `on_array(info, data)` for each
// array (`data` points into the input, unread; the name comes later), and `on_name(k, name)` for
// each stored name. Returns whether the list has names.
template <typename OnCount, typename OnArray, typename OnName>
bool walk_list(Reader& r, OnCount&& on_count, OnArray&& on_array, OnName&& on_name) {
  const uint64_t magic = r.get<uint64_t>("the list magic");
  if (magic != kListMagic)
    r.fail(0, "not an MXNet .params file (list magic " + hex(magic) + ", expected " + hex(kListMagic) + ")");
  r.get<uint64_t>("the reserved word");  // MXNet ignores it too
  const size_t count_at = r.pos();
  const uint64_t n_arrays = r.get<uint64_t>("the array count");
  if (n_arrays > r.left() / kMinArrayBytes)
    r.fail(count_at, "array count " + std::to_string(n_arrays) + " cannot fit in the " + std::to_string(r.left()) +
                         " bytes that remain");
  on_count(static_cast<size_t>(n_arrays));
  for (uint64_t k = 0; k < n_arrays; ++k) {
    r.set_array(static_cast<int64_t>(k));
    ArrayInfo info = read_array_header(r);
    const uint8_t* data = r.take(static_cast<size_t>(info.nbytes), "array data");
    on_array(std::move(info), data);
  }
  r.set_array(-1);

  const size_t names_at = r.pos();
  const uint64_t n_names = r.get<uint64_t>("the name count");
  if (n_names != 0 && n_names != n_arrays)
    r.fail(names_at, "the file has " + std::to_string(n_arrays) + " arrays but " + std::to_string(n_names) + " names");
  for (uint64_t k = 0; k < n_names; ++k) {
    const size_t at = r.pos();
    const uint64_t len = r.get<uint64_t>("a name length");
    if (len > r.left())
      r.fail(at, "name " + std::to_string(k) + " is " + std::to_string(len) + " bytes long, only " +
                     std::to_string(r.left()) + " remain");
    const auto* p = reinterpret_cast<const char*>(r.take(static_cast<size_t>(len), "a name"));
    on_name(static_cast<size_t>(k), std::string_view(p, static_cast<size_t>(len)));
  }
  if (r.left() != 0) r.fail(r.pos(), std::to_string(r.left()) + " bytes of trailing data after the names");
  // An empty list is both named and nameless; call it named so that it splits into empty dicts.
  return n_names != 0 || n_arrays == 0;
}

// Copies an array's data out of the input. `progress(offset)` is told how far the copy has come,
// every few MB of a large array, so that a memory-mapped source can drop what was copied.
NamedArray copy_array(ArrayInfo&& info, const uint8_t* p, const std::function<void(size_t)>& progress) {
  NamedArray a;
  a.format = info.format;
  a.dev_type = info.dev_type;
  a.dev_id = info.dev_id;
  a.tensor.dtype = info.dtype;
  a.tensor.shape = std::move(info.shape);
  const auto bytes = static_cast<size_t>(info.nbytes);
  constexpr size_t kChunk = size_t{32} << 20;
  if (!progress || bytes <= kChunk) {
    a.tensor.data.assign(p, p + bytes);
  } else {
    a.tensor.data.reserve(bytes);
    for (size_t off = 0; off < bytes; off += kChunk) {
      const size_t n = std::min(kChunk, bytes - off);
      a.tensor.data.insert(a.tensor.data.end(), p + off, p + off + n);
      progress(static_cast<size_t>(info.data_offset) + off + n);
    }
  }
  return a;
}

// ---- writing ----

// Header fields go to the sink one by one; the sink batches them.
template <typename T>
void put(const ByteSink& out, T v) {
  out(&v, sizeof(T));
}

[[noreturn]] void bad_array(size_t k, const NamedArray& a, const std::string& why) {
  throw Error("", "array " + std::to_string(k) + " ('" + a.name + "')", why);
}

// Checks that `a` can be stored in its format and returns its size on disk.
size_t array_disk_size(size_t k, const NamedArray& a) {
  const Tensor& t = a.tensor;
  const size_t elem = dtype_size(t.dtype);
  if (elem == 0) bad_array(k, a, "unknown dtype");
  const auto ndim = static_cast<int64_t>(t.shape.size());
  if (ndim > kMaxNdim) bad_array(k, a, "more than " + std::to_string(kMaxNdim) + " dimensions");
  if (ndim == 0 && a.format != ArrayFormat::V3)
    bad_array(k, a, "a 0-d array can only be stored in the V3 format (ndim 0 means 'none' in older formats)");
  for (int64_t d : t.shape) {
    if (d < 0) bad_array(k, a, "negative dimension " + std::to_string(d));
    if (a.format == ArrayFormat::Legacy && d > std::numeric_limits<uint32_t>::max())
      bad_array(k, a, "dimension " + std::to_string(d) + " does not fit the legacy format's uint32");
  }
  uint64_t bytes = 0;
  if (!byte_count(t.shape, elem, bytes) || bytes != t.data.size())
    bad_array(k, a, "holds " + std::to_string(t.data.size()) + " bytes, its shape and dtype need " +
                        std::to_string(bytes));
  const size_t magic = 4;
  const size_t stype = a.format == ArrayFormat::V2 || a.format == ArrayFormat::V3 ? 4 : 0;
  const size_t shape = 4 + t.shape.size() * (a.format == ArrayFormat::Legacy ? 4 : 8);
  return (a.format == ArrayFormat::Legacy ? 0 : magic) + stype + shape + 12 + t.data.size();
}

void write_array(const ByteSink& out, const NamedArray& a) {
  const Tensor& t = a.tensor;
  switch (a.format) {
    case ArrayFormat::Legacy:
      put(out, static_cast<uint32_t>(t.shape.size()));
      for (int64_t d : t.shape) put(out, static_cast<uint32_t>(d));
      break;
    case ArrayFormat::V1:
    case ArrayFormat::V2:
    case ArrayFormat::V3:
      put(out, a.format == ArrayFormat::V1 ? kMagicV1 : a.format == ArrayFormat::V2 ? kMagicV2 : kMagicV3);
      if (a.format != ArrayFormat::V1) put(out, int32_t{0});  // dense storage
      put(out, static_cast<int32_t>(t.shape.size()));
      for (int64_t d : t.shape) put(out, d);
      break;
  }
  put(out, a.dev_type);
  put(out, a.dev_id);
  put(out, static_cast<int32_t>(t.dtype));
  if (!t.data.empty()) out(t.data.data(), t.data.size());  // an empty vector's data() may be null
}

}  // namespace

namespace {

// `progress(offset)` is told after each array how far the parse has read.
ParamsFile parse_params_impl(const uint8_t* data, size_t size, const std::string& source,
                             const std::function<void(size_t)>& progress) {
  Reader r(data, size, source);
  ParamsFile file;
  file.has_names = walk_list(
      r, [&](size_t n) { file.arrays.reserve(n); },
      [&](ArrayInfo&& info, const uint8_t* p) {
        const size_t end = static_cast<size_t>(info.data_offset + info.nbytes);
        file.arrays.push_back(copy_array(std::move(info), p, progress));
        if (progress) progress(end);
      },
      [&](size_t k, std::string_view name) { file.arrays[k].name.assign(name); });
  return file;
}

ParamsIndex scan_params_impl(const uint8_t* data, size_t size, const std::string& source) {
  Reader r(data, size, source);
  ParamsIndex index;
  index.has_names = walk_list(
      r, [&](size_t n) { index.arrays.reserve(n); },
      [&](ArrayInfo&& info, const uint8_t*) { index.arrays.push_back(std::move(info)); },
      [&](size_t k, std::string_view name) { index.arrays[k].name.assign(name); });
  return index;
}

}  // namespace

ParamsFile parse_params(const uint8_t* data, size_t size, const std::string& source) {
  return parse_params_impl(data, size, source, nullptr);
}

ParamsFile read_params(const std::string& path) {
  // Mapped rather than read: each array is copied once, and the pages of arrays already copied
  // are dropped, so reading costs about one file's worth of memory rather than two.
  MappedFile f(path);
  return parse_params_impl(f.data(), f.size(), path, [&](size_t done) { f.release_before(done); });
}

ParamsIndex scan_params(const uint8_t* data, size_t size, const std::string& source) {
  return scan_params_impl(data, size, source);
}

ParamsIndex scan_params_file(const std::string& path) {
  // Mapped: the data pages are never touched, so they are never read or counted as ours.
  MappedFile f(path);
  return scan_params_impl(f.data(), f.size(), path);
}

void write_params_to(const ParamsFile& file, const ByteSink& out) {
  for (size_t k = 0; k < file.arrays.size(); ++k) array_disk_size(k, file.arrays[k]);  // validate before any byte
  put(out, kListMagic);
  put(out, uint64_t{0});
  put(out, static_cast<uint64_t>(file.arrays.size()));
  for (const NamedArray& a : file.arrays) write_array(out, a);
  put(out, static_cast<uint64_t>(file.has_names ? file.arrays.size() : 0));
  if (file.has_names) {
    for (const NamedArray& a : file.arrays) {
      put(out, static_cast<uint64_t>(a.name.size()));
      out(a.name.data(), a.name.size());
    }
  }
}

std::vector<uint8_t> write_params(const ParamsFile& file) {
  size_t total = 8 * 4;  // magic, reserved, n_arrays, n_names
  for (size_t k = 0; k < file.arrays.size(); ++k) {
    total += array_disk_size(k, file.arrays[k]);
    if (file.has_names) total += 8 + file.arrays[k].name.size();
  }
  std::vector<uint8_t> out(total);
  size_t at = 0;
  write_params_to(file, [&](const void* p, size_t n) {
    if (n == 0) return;
    std::memcpy(out.data() + at, p, n);
    at += n;
  });
  return out;
}

PendingFile params_file(std::string path, const ParamsFile& file) {
  return {path, [&file, path](const ByteSink& sink) {
            try {
              write_params_to(file, sink);
            } catch (const Error& e) {
              if (!e.file().empty()) throw;
              throw Error(path, e.place(), e.reason());
            }
          }};
}

void save_params(const ParamsFile& file, const std::string& path) { write_files_atomic({params_file(path, file)}); }

namespace {

template <typename File>
void split_into(File&& file, TensorMap& arg, TensorMap& aux, const std::string& source) {
  if (!file.has_names && !file.arrays.empty())
    throw Error(source, "the name list",
                "the file has no parameter names (it was saved as a plain list); a model checkpoint needs names");
  // Built aside so that the caller's maps are untouched when this throws.
  TensorMap new_arg, new_aux;
  for (size_t k = 0; k < file.arrays.size(); ++k) {
    auto& a = file.arrays[k];
    const size_t colon = a.name.find(':');
    const std::string prefix = colon == std::string::npos ? "" : a.name.substr(0, colon);
    const bool is_aux = prefix == "aux";
    // Only the two known prefixes are stripped; anything else is taken as a bare name.
    const std::string name = prefix == "arg" || is_aux ? a.name.substr(colon + 1) : a.name;
    if (new_arg.count(name) || new_aux.count(name))
      throw Error(source, "array " + std::to_string(k) + " ('" + a.name + "')", "duplicate parameter name '" + name + "'");
    // vector::operator[] has no rvalue overload, so the move is spelled out.
    if constexpr (std::is_rvalue_reference_v<File&&>) (is_aux ? new_aux : new_arg).emplace(name, std::move(a.tensor));
    else (is_aux ? new_aux : new_arg).emplace(name, a.tensor);
  }
  arg.swap(new_arg);
  aux.swap(new_aux);
}

}  // namespace

void split_params(const ParamsFile& file, TensorMap& arg, TensorMap& aux, const std::string& source) {
  split_into(file, arg, aux, source);
}

void split_params(ParamsFile&& file, TensorMap& arg, TensorMap& aux, const std::string& source) {
  split_into(std::move(file), arg, aux, source);
}

ParamsFile make_checkpoint(const TensorMap& arg, const TensorMap& aux) { return make_checkpoint(TensorMap(arg), TensorMap(aux)); }

ParamsFile make_checkpoint(TensorMap&& arg, TensorMap&& aux) {
  ParamsFile file;
  file.has_names = true;
  file.arrays.reserve(arg.size() + aux.size());
  for (auto& [name, t] : arg) file.arrays.push_back({"arg:" + name, std::move(t), ArrayFormat::V2, 1, 0});
  for (auto& [name, t] : aux) file.arrays.push_back({"aux:" + name, std::move(t), ArrayFormat::V2, 1, 0});
  arg.clear();
  aux.clear();
  return file;
}

}  // namespace mixprec::mxnet
