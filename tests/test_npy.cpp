// .npy and .npz reading and writing: round trips for every dtype, headers byte-identical to
// numpy's, the layouts other writers produce (Fortran order, big-endian, v2/v3 headers, deflated
// and ZIP64 archives) and hostile input, which must raise mixprec::Error and never crash.
#include <gtest/gtest.h>

#include <cstdio>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/file_io.h"
#include "formats/numpy/npy_detail.h"
#include "mixprec/error.h"
#include "mixprec/numpy.h"

namespace np = mixprec::numpy;
using mixprec::DType;
using mixprec::Error;
using mixprec::Tensor;

namespace {

using Buf = std::vector<uint8_t>;
using Arrays = std::vector<std::pair<std::string, Tensor>>;

Buf to_buf(std::string_view s) { return Buf(s.begin(), s.end()); }
std::string to_str(const Buf& b, size_t n = std::string::npos) {
  return std::string(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(std::min(n, b.size())));
}

void put_le(Buf& b, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b.push_back(i < 8 ? static_cast<uint8_t>(v >> (8 * i)) : uint8_t{0});
}
uint32_t get_le32(const Buf& b, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | b[at + static_cast<size_t>(i)];
  return v;
}
void set_le(Buf& b, size_t at, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b[at + static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (8 * i));
}

// A tensor whose bytes follow a simple pattern, so that misplaced bytes show.
Tensor patterned(DType dt, std::vector<int64_t> shape) {
  Tensor t;
  t.dtype = dt;
  t.shape = std::move(shape);
  t.data.resize(static_cast<size_t>(t.numel()) * mixprec::dtype_size(dt));
  for (size_t i = 0; i < t.data.size(); ++i)
    t.data[i] = dt == DType::Bool ? static_cast<uint8_t>(i % 2) : static_cast<uint8_t>(i * 37 + 11);
  return t;
}

// An .npy built by hand around `dict`, padded the way numpy pads.
Buf npy_with(const std::string& dict, const Buf& data, uint8_t major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  const size_t body = dict.size() + 1;
  const size_t pad = 64 - (prefix + body) % 64;
  Buf b = to_buf(std::string_view("\x93NUMPY", 6));
  b.push_back(major);
  b.push_back(0);
  put_le(b, body + pad, major == 1 ? 2 : 4);
  b.insert(b.end(), dict.begin(), dict.end());
  b.insert(b.end(), pad, ' ');
  b.push_back('\n');
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

template <typename T>
Buf raw_bytes(const std::vector<T>& v) {
  Buf b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}
template <typename T>
Buf big_endian_bytes(const std::vector<T>& v) {
  Buf b = raw_bytes(v);
  for (size_t i = 0; i < b.size(); i += sizeof(T)) std::reverse(b.begin() + static_cast<std::ptrdiff_t>(i),
                                                                b.begin() + static_cast<std::ptrdiff_t>(i + sizeof(T)));
  return b;
}
template <typename T>
std::vector<T> values(const Tensor& t) {
  std::vector<T> v(t.data.size() / sizeof(T));
  std::memcpy(v.data(), t.data.data(), t.data.size());
  return v;
}

uint32_t crc(const Buf& b) { return static_cast<uint32_t>(crc32(0, b.data(), static_cast<uInt>(b.size()))); }

Buf deflate_raw(const Buf& in) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Buf out(deflateBound(&zs, static_cast<uLong>(in.size())));
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// A ZIP member as it goes into an archive built by make_zip, independently of the writer under
// test; the fields can be set to lie.
struct RawMember {
  std::string name;
  Buf payload;  // as stored: raw or deflated
  uint16_t method = 0;
  uint16_t flags = 0;
  uint32_t crc = 0;
  uint64_t usize = 0;
};
RawMember stored(const std::string& name, const Buf& npy) { return {name, npy, 0, 0, crc(npy), npy.size()}; }
RawMember deflated(const std::string& name, const Buf& npy) {
  return {name, deflate_raw(npy), 8, 0, crc(npy), npy.size()};
}

Buf make_zip(const std::vector<RawMember>& members) {
  Buf z, cd;
  for (const RawMember& m : members) {
    const size_t at = z.size();
    put_le(z, 0x04034b50, 4);
    put_le(z, 20, 2);
    put_le(z, m.flags, 2);
    put_le(z, m.method, 2);
    put_le(z, 0, 4);  // time, date
    put_le(z, m.crc, 4);
    put_le(z, m.payload.size(), 4);
    put_le(z, m.usize, 4);
    put_le(z, m.name.size(), 2);
    put_le(z, 0, 2);
    z.insert(z.end(), m.name.begin(), m.name.end());
    z.insert(z.end(), m.payload.begin(), m.payload.end());

    put_le(cd, 0x02014b50, 4);
    put_le(cd, 20, 2);
    put_le(cd, 20, 2);
    put_le(cd, m.flags, 2);
    put_le(cd, m.method, 2);
    put_le(cd, 0, 4);
    put_le(cd, m.crc, 4);
    put_le(cd, m.payload.size(), 4);
    put_le(cd, m.usize, 4);
    put_le(cd, m.name.size(), 2);
    put_le(cd, 0, 2 + 2 + 2 + 2 + 4);  // extra, comment, disk, attributes
    put_le(cd, at, 4);
    cd.insert(cd.end(), m.name.begin(), m.name.end());
  }
  const size_t cd_at = z.size();
  z.insert(z.end(), cd.begin(), cd.end());
  put_le(z, 0x06054b50, 4);
  put_le(z, 0, 4);
  put_le(z, members.size(), 2);
  put_le(z, members.size(), 2);
  put_le(z, cd.size(), 4);
  put_le(z, cd_at, 4);
  put_le(z, 0, 2);
  return z;
}

// Where the central directory starts, per the end record (which make_zip leaves uncommented).
size_t cd_offset(const Buf& zip) { return get_le32(zip, zip.size() - 22 + 16); }

Buf npz_bytes(const Arrays& a, bool force_zip64 = false) {
  Buf out;
  np::detail::write_npz_to(
      a, [&](const void* p, size_t n) { out.insert(out.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n); },
      force_zip64);
  return out;
}

Arrays sample_arrays() {
  return {{"arg:conv0_weight", patterned(DType::Float32, {4, 3, 2, 2})},
          {"aux:bn_moving_mean", patterned(DType::BFloat16, {4})},
          {"step", patterned(DType::Int64, {})}};
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}
std::string npy_error(const Buf& b) { return error_of([&] { np::parse_npy(b.data(), b.size(), "x.npy"); }); }
std::string npz_error(const Buf& b) { return error_of([&] { np::parse_npz(b.data(), b.size(), "x.npz"); }); }

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() / ("mixprec_npy_test_" + std::to_string(::getpid()) + "_" +
                                                     std::to_string(std::random_device{}()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

const std::vector<std::pair<DType, std::string>> kAllDtypes = {
    {DType::Float32, "<f4"}, {DType::Float64, "<f8"}, {DType::Float16, "<f2"}, {DType::BFloat16, "<b2"},
    {DType::UInt8, "|u1"},   {DType::Int8, "|i1"},    {DType::Bool, "|b1"},    {DType::Int16, "<i2"},
    {DType::Int32, "<i4"},   {DType::Int64, "<i8"},   {DType::UInt16, "<u2"},  {DType::UInt32, "<u4"},
    {DType::UInt64, "<u8"},
};

}  // namespace

// ---- .npy round trips and numpy's exact header ---------------------------------------------

TEST(NpyRoundTrip, EveryDtype) {
  for (const auto& [dt, descr] : kAllDtypes) {
    SCOPED_TRACE(descr);
    const Tensor t = patterned(dt, {2, 3});
    const Buf b = np::write_npy(t);
    EXPECT_NE(to_str(b, 128).find("'descr': '" + descr + "'"), std::string::npos);
    EXPECT_EQ(np::parse_npy(b.data(), b.size()), t);
  }
}

TEST(NpyRoundTrip, ScalarsAndEmptyDims) {
  for (const std::vector<int64_t>& shape : std::vector<std::vector<int64_t>>{{}, {0}, {5}, {3, 0, 2}, {1, 1, 1, 7}}) {
    const Tensor t = patterned(DType::Float16, shape);
    const Buf b = np::write_npy(t);
    EXPECT_EQ(np::parse_npy(b.data(), b.size()), t);
  }
}

TEST(NpyHeader, Float32MatchesNumpy) {
  const Buf b = np::write_npy(patterned(DType::Float32, {2, 3}));
  const std::string expected = std::string("\x93NUMPY\x01\x00v\x00", 10) +
                               "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + std::string(58, ' ') + "\n";
  ASSERT_EQ(expected.size(), 128u);
  EXPECT_EQ(to_str(b, 128), expected);
  EXPECT_EQ(b.size(), 128u + 24u);
}

TEST(NpyHeader, ScalarOneDimAndBfloat16MatchNumpy) {
  // 0-d arrays get no growth padding; 1-d shapes keep the tuple's trailing comma.
  EXPECT_EQ(to_str(np::write_npy(patterned(DType::Float64, {})), 128),
            std::string("\x93NUMPY\x01\x00v\x00", 10) + "{'descr': '<f8', 'fortran_order': False, 'shape': (), }" +
                std::string(62, ' ') + "\n");
  EXPECT_EQ(to_str(np::write_npy(patterned(DType::UInt8, {5})), 128),
            std::string("\x93NUMPY\x01\x00v\x00", 10) + "{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }" +
                std::string(60, ' ') + "\n");
  EXPECT_EQ(to_str(np::write_npy(patterned(DType::BFloat16, {3, 4})), 128),
            std::string("\x93NUMPY\x01\x00v\x00", 10) + "{'descr': '<b2', 'fortran_order': False, 'shape': (3, 4), }" +
                std::string(58, ' ') + "\n");
  // Growth room shrinks with the first dimension's digits.
  EXPECT_EQ(to_str(np::write_npy(patterned(DType::Int8, {1000000, 0})), 128),
            std::string("\x93NUMPY\x01\x00v\x00", 10) + "{'descr': '|i1', 'fortran_order': False, 'shape': (1000000, 0), }" +
                std::string(52, ' ') + "\n");
}

TEST(NpyHeader, AlreadyAlignedHeaderGetsAFull64Spaces) {
  // 10 + header + '\n' is exactly 128 here: numpy still pads with 64 spaces.
  const Buf b = np::write_npy(patterned(DType::UInt8, {2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 10, 10}));
  const std::string expected =
      std::string("\x93NUMPY\x01\x00\xb6\x00", 10) +
      "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 10, 10), }" +
      std::string(20 + 64, ' ') + "\n";
  ASSERT_EQ(expected.size(), 192u);
  EXPECT_EQ(to_str(b, 192), expected);
  EXPECT_EQ(b.size(), 192u + 200u);
}

TEST(NpyHeader, DataAlwaysStartsAtAMultipleOf64) {
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::vector<int64_t> shape(1 + rng() % 6);
    for (auto& d : shape) d = static_cast<int64_t>(rng() % 3 == 0 ? rng() % 100000 : rng() % 4);
    if (!shape.empty()) shape.back() = 0;  // keep the data empty: only the header matters
    Tensor t;  // no data: numel() could overflow before it reaches the zero
    t.shape = shape;
    const Buf b = np::write_npy(t);
    EXPECT_EQ(b.size() % 64, 0u);
    EXPECT_EQ(b.back(), '\n');
    EXPECT_EQ(b[8] | (b[9] << 8), static_cast<int>(b.size() - 10));
  }
}

// A header needs version 2.0 only beyond 65535 bytes, which takes thousands of dimensions; with
// at most limits::kMaxNdim (32) every header fits version 1.0, and more dimensions are refused.
TEST(NpyHeader, AtMost32DimensionsAlwaysFitAVersion1Header) {
  const Tensor t = patterned(DType::Int32, std::vector<int64_t>(32, 1));
  const Buf b = np::write_npy(t);
  EXPECT_EQ(b[6], 1);
  EXPECT_EQ(b[7], 0);
  EXPECT_EQ(np::parse_npy(b.data(), b.size()), t);
  EXPECT_THROW(np::write_npy(patterned(DType::Int32, std::vector<int64_t>(33, 1))), Error);
}

// The .npy bytes numpy writes for a C-order array (numpy/lib/format.py, version 1.0): magic, the
// header length, the dict with sorted keys, spaces leaving room for the first dimension to grow to
// 21 digits (none for 0-d arrays), padding to a multiple of 64 bytes and a newline; then the data.
// Built here from that description, independently of the library's writer.
Buf numpy_npy_bytes(const std::string& descr, const std::vector<int64_t>& shape, const Buf& data) {
  std::string tuple = "(";
  for (size_t i = 0; i < shape.size(); ++i) tuple += (i ? ", " : "") + std::to_string(shape[i]);
  tuple += shape.size() == 1 ? ",)" : ")";
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + tuple + ", }";
  if (!shape.empty()) dict += std::string(21 - std::to_string(shape[0]).size(), ' ');
  const size_t pad = 64 - (10 + dict.size() + 1) % 64;
  dict += std::string(pad == 64 ? 0 : pad, ' ') + "\n";
  const std::string prefix = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(dict.size() & 0xff) + static_cast<char>(dict.size() >> 8);
  const std::string head = prefix + dict;
  Buf b(head.size() + data.size());
  std::copy(head.begin(), head.end(), b.begin());
  std::copy(data.begin(), data.end(), b.begin() + static_cast<long>(head.size()));
  return b;
}

// save_npy writes the bytes numpy writes (not merely what write_npy returns, which it shares code
// with), and reads back.
TEST(NpyFile, SaveAndRead) {
  // The description above reproduces numpy's header for the case NpyHeader spells out by hand.
  ASSERT_EQ(to_str(numpy_npy_bytes("<f4", {2, 3}, {}), 128),
            std::string("\x93NUMPY\x01\x00v\x00", 10) + "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + std::string(58, ' ') + "\n");
  TempDir dir;
  const std::string path = (dir.path / "a.npy").string();
  const Tensor t = patterned(DType::BFloat16, {3, 5});
  np::save_npy(t, path);
  EXPECT_EQ(mixprec::read_file(path), numpy_npy_bytes("<b2", {3, 5}, t.data));
  EXPECT_EQ(np::read_npy(path), t);
  EXPECT_THROW(np::read_npy((dir.path / "missing.npy").string()), Error);
}

TEST(NpyWrite, RejectsInconsistentTensors) {
  Tensor t = patterned(DType::Float32, {2, 3});
  t.data.pop_back();
  EXPECT_THROW(np::write_npy(t), Error);
  Tensor u = patterned(DType::Float32, {2});
  u.dtype = DType::Unknown;
  EXPECT_THROW(np::write_npy(u), Error);
  Tensor v = patterned(DType::Float32, {0});
  v.shape = {-1, 0};
  EXPECT_THROW(np::write_npy(v), Error);
}

// ---- .npy layouts other writers produce -----------------------------------------------------

TEST(NpyRead, FortranOrderIsTransposed) {
  const Buf two_d = npy_with("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }", raw_bytes<int32_t>({0, 3, 1, 4, 2, 5}));
  const Tensor a = np::parse_npy(two_d.data(), two_d.size());
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(values<int32_t>(a), (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));

  std::vector<uint16_t> f(24);  // element (i, j, k) of a (2, 3, 4) array sits at i + 2j + 6k
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) f[static_cast<size_t>(i + 2 * j + 6 * k)] = static_cast<uint16_t>(i * 12 + j * 4 + k);
  const Buf three_d = npy_with("{'descr': '<u2', 'fortran_order': True, 'shape': (2, 3, 4), }", raw_bytes(f));
  const Tensor b = np::parse_npy(three_d.data(), three_d.size());
  std::vector<uint16_t> expected(24);
  for (size_t i = 0; i < 24; ++i) expected[i] = static_cast<uint16_t>(i);
  EXPECT_EQ(values<uint16_t>(b), expected);

  const Buf one_d = npy_with("{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }", raw_bytes<float>({1, 2, 3}));
  EXPECT_EQ(values<float>(np::parse_npy(one_d.data(), one_d.size())), (std::vector<float>{1, 2, 3}));
}

TEST(NpyRead, BigEndianIsSwapped) {
  const Buf f4 = npy_with("{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", big_endian_bytes<float>({1.5f, -2.0f, 3.25f}));
  const Tensor a = np::parse_npy(f4.data(), f4.size());
  EXPECT_EQ(a.dtype, DType::Float32);
  EXPECT_EQ(values<float>(a), (std::vector<float>{1.5f, -2.0f, 3.25f}));

  const Buf i8 = npy_with("{'descr': '>i8', 'fortran_order': False, 'shape': (2,), }",
                          big_endian_bytes<int64_t>({-2, 0x0102030405060708}));
  EXPECT_EQ(values<int64_t>(np::parse_npy(i8.data(), i8.size())), (std::vector<int64_t>{-2, 0x0102030405060708}));

  // Big-endian and Fortran order together: transpose, then swap.
  const Buf both = npy_with("{'descr': '>u2', 'fortran_order': True, 'shape': (2, 2), }",
                            big_endian_bytes<uint16_t>({0x0102, 0x0304, 0x0506, 0x0708}));
  EXPECT_EQ(values<uint16_t>(np::parse_npy(both.data(), both.size())),
            (std::vector<uint16_t>{0x0102, 0x0506, 0x0304, 0x0708}));

  const Buf u1 = npy_with("{'descr': '>u1', 'fortran_order': False, 'shape': (2,), }", Buf{7, 9});
  EXPECT_EQ(np::parse_npy(u1.data(), u1.size()).data, (Buf{7, 9}));
}

TEST(NpyRead, Versions2And3) {
  const Buf data = raw_bytes<double>({0.5, 1.5});
  for (const uint8_t major : {uint8_t{2}, uint8_t{3}}) {
    const Buf b = npy_with("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", data, major);
    const Tensor t = np::parse_npy(b.data(), b.size());
    EXPECT_EQ(t.dtype, DType::Float64);
    EXPECT_EQ(values<double>(t), (std::vector<double>{0.5, 1.5}));
  }
}

TEST(NpyRead, ToleratesHeaderVariants) {
  const Buf six = raw_bytes<int8_t>({1, 2, 3, 4, 5, 6});
  for (const std::string& dict : {
           std::string("{\"descr\": \"|i1\", \"shape\": (2, 3), \"fortran_order\": False}"),
           std::string("{ 'shape' : ( 2 , 3 ) , 'fortran_order':False,'descr':'<i1' , }"),
           std::string("{'fortran_order': False, 'shape': (2L, 3L), 'descr': '=i1'}"),
           std::string("{'descr': 'i1', 'fortran_order': False, 'shape': (2,3,),}"),
           std::string("{'descr':'|i1',\t'fortran_order':\tFalse,\n'shape':(2, 3)}"),
       }) {
    SCOPED_TRACE(dict);
    const Buf b = npy_with(dict, six);
    const Tensor t = np::parse_npy(b.data(), b.size());
    EXPECT_EQ(t.dtype, DType::Int8);
    EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(t.data, six);
  }
  const Buf lenient = npy_with("{'descr': '<u1', 'fortran_order': False, 'shape': (6), }", six);
  EXPECT_EQ(np::parse_npy(lenient.data(), lenient.size()).shape, (std::vector<int64_t>{6}));
  const Buf boolean = npy_with("{'descr': '<b1', 'fortran_order': False, 'shape': (1,), }", Buf{1});
  EXPECT_EQ(np::parse_npy(boolean.data(), boolean.size()).dtype, DType::Bool);
}

TEST(NpyRead, ZeroDimWinsOverHugeDims) {
  const Buf b = npy_with("{'descr': '<f4', 'fortran_order': True, 'shape': (1099511627776, 1099511627776, 0), }", {});
  const Tensor t = np::parse_npy(b.data(), b.size());
  EXPECT_EQ(t.shape, (std::vector<int64_t>{1099511627776, 1099511627776, 0}));
  EXPECT_TRUE(t.data.empty());
}

// ---- hostile .npy ------------------------------------------------------------------------------

TEST(NpyBadInput, EveryTruncationThrows) {
  const Buf b = np::write_npy(patterned(DType::Float32, {2, 3}));
  for (size_t n = 0; n < b.size(); ++n) EXPECT_THROW(np::parse_npy(b.data(), n), Error) << n << " bytes";
  EXPECT_THROW(np::parse_npy(nullptr, 0), Error);
}

TEST(NpyBadInput, BadMagic) {
  Buf b = np::write_npy(patterned(DType::Float32, {2}));
  b[1] = 'n';
  EXPECT_NE(npy_error(b).find("bad magic"), std::string::npos);
  const Buf zip = npz_bytes(sample_arrays());
  EXPECT_NE(npy_error(zip).find("npz"), std::string::npos);
}

TEST(NpyBadInput, UnsupportedVersion) {
  Buf b = np::write_npy(patterned(DType::Float32, {2}));
  b[6] = 4;
  EXPECT_NE(npy_error(b).find("version 4.0"), std::string::npos);
  b[6] = 1;
  b[7] = 1;
  EXPECT_NE(npy_error(b).find("version 1.1"), std::string::npos);
}

TEST(NpyBadInput, MalformedDict) {
  const Buf four = raw_bytes<float>({1});
  for (const std::string& dict : {
           std::string(""),
           std::string("{'descr': '<f4', 'fortran_order': False}"),
           std::string("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}"),
           std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}"),
           std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}"),
           std::string("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}"),
           std::string("{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}"),
           std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk"),
           std::string("{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}"),
           std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (1 1)}"),
           std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (1,"),
           std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}"),
           std::string("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}"),
           std::string("{'de\\'scr': '<f4', 'fortran_order': False, 'shape': (1,)}"),
           std::string("['descr', '<f4']"),
       }) {
    SCOPED_TRACE(dict);
    const std::string err = npy_error(npy_with(dict, four));
    EXPECT_NE(err.find("x.npy: byte "), std::string::npos) << err;
  }
}

TEST(NpyBadInput, UnknownDescr) {
  for (const std::string descr : {"<c8", "<f16", "O", "<U5", "<M8[s]", "", "<"}) {
    const std::string err = npy_error(npy_with("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (0,), }", {}));
    EXPECT_NE(err.find("unsupported dtype descr '" + descr + "'"), std::string::npos) << err;
  }
}

TEST(NpyBadInput, ShapeBiggerThanData) {
  const Buf b = npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", Buf(20));
  EXPECT_NE(npy_error(b).find("needs 24 bytes of data, the file has 20"), std::string::npos);
  const Buf more = npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", Buf(28));
  EXPECT_NE(npy_error(more).find("needs 24 bytes of data, the file has 28"), std::string::npos);
}

TEST(NpyBadInput, HugeShapesAllocateNothing) {
  // Both are rejected from the header alone: one overflows 64 bits, one exceeds the file.
  EXPECT_NE(npy_error(npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }", {}))
                .find("too large"),
            std::string::npos);
  EXPECT_NE(npy_error(npy_with("{'descr': '<f8', 'fortran_order': True, 'shape': (1000000000000,), }", {}))
                .find("needs 8000000000000 bytes"),
            std::string::npos);
  Buf b = np::write_npy(patterned(DType::Float32, {2}));
  set_le(b, 8, 0xFFFF, 2);  // header length beyond the file
  EXPECT_NE(npy_error(b).find("truncated"), std::string::npos);
}

// ---- .npz --------------------------------------------------------------------------------------

TEST(NpzRoundTrip, MembersKeepTheirNamesAndOrder) {
  const Arrays a = sample_arrays();
  const Buf z = np::write_npz(a);
  EXPECT_EQ(z, npz_bytes(a));
  // Members are stored "<name>.npy" files: the first local header holds the npy as is.
  EXPECT_EQ(to_str(z, 4), std::string("PK\x03\x04", 4));
  EXPECT_EQ(to_str(Buf(z.begin() + 30, z.begin() + 30 + 20)), "arg:conv0_weight.npy");
  const Buf first = np::write_npy(a[0].second);
  EXPECT_TRUE(std::equal(first.begin(), first.end(), z.begin() + 50));
  EXPECT_EQ(np::parse_npz(z.data(), z.size()), a);
  EXPECT_TRUE(np::parse_npz(np::write_npz({}).data(), 22).empty());
}

// save_npz writes what numpy.savez writes: one stored (uncompressed) zip member per array, in
// order, named KEY.npy, holding numpy's .npy bytes, with a matching CRC-32 (zlib's). The file is
// walked here through its local headers, without the library's reader.
TEST(NpzRoundTrip, EveryDtypeThroughAFile) {
  Arrays a;
  std::vector<std::string> descrs;
  for (const auto& [dt, descr] : kAllDtypes) {
    a.emplace_back("m" + descr, patterned(dt, {3, 2}));
    descrs.push_back(descr);
  }
  a.emplace_back("empty", patterned(DType::Float32, {0, 4}));
  descrs.push_back("<f4");
  a.emplace_back("dir/nested", patterned(DType::Float32, {1}));
  descrs.push_back("<f4");
  TempDir dir;
  const std::string path = (dir.path / "a.npz").string();
  np::save_npz(a, path);
  const Buf z = mixprec::read_file(path);
  size_t at = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    SCOPED_TRACE(a[k].first);
    ASSERT_LE(at + 30, z.size());
    EXPECT_EQ(get_le32(z, at), 0x04034b50u);                 // local file header
    EXPECT_EQ(get_le32(z, at + 8) & 0xffff, 0u);             // compression method: stored
    const uint32_t crc_field = get_le32(z, at + 14), size = get_le32(z, at + 18), usize = get_le32(z, at + 22);
    const size_t name_len = get_le32(z, at + 26) & 0xffff, extra_len = get_le32(z, at + 28) & 0xffff;
    EXPECT_EQ(std::string(z.begin() + static_cast<long>(at + 30), z.begin() + static_cast<long>(at + 30 + name_len)), a[k].first + ".npy");
    const size_t data_at = at + 30 + name_len + extra_len;
    ASSERT_LE(data_at + size, z.size());
    const Buf payload(z.begin() + static_cast<long>(data_at), z.begin() + static_cast<long>(data_at + size));
    EXPECT_EQ(size, usize);
    EXPECT_EQ(crc_field, crc(payload));
    EXPECT_EQ(payload, numpy_npy_bytes(descrs[k], a[k].second.shape, a[k].second.data));
    at = data_at + size;
  }
  EXPECT_EQ(get_le32(z, at), 0x02014b50u);  // then the central directory
  EXPECT_EQ(np::read_npz(path), a);
}

TEST(NpzRoundTrip, ForcedZip64Records) {
  const Arrays a = sample_arrays();
  const Buf z = npz_bytes(a, true);
  // The classic end record is saturated, so only the ZIP64 records can have been used.
  EXPECT_EQ(get_le32(z, z.size() - 22 + 16), 0xFFFFFFFFu);
  EXPECT_EQ(get_le32(z, z.size() - 22 - 20), 0x07064b50u);
  EXPECT_EQ(np::parse_npz(z.data(), z.size()), a);
}

TEST(NpzRead, DeflatedMembers) {
  const Tensor big = patterned(DType::Float32, {64, 64});  // compressible, repetitive bytes
  const Tensor small = patterned(DType::Int16, {3});
  const Buf z = make_zip({deflated("w.npy", np::write_npy(big)), stored("b.npy", np::write_npy(small)),
                          deflated("scalar.npy", np::write_npy(patterned(DType::Float64, {})))});
  const Arrays got = np::parse_npz(z.data(), z.size());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].first, "w");
  EXPECT_EQ(got[0].second, big);
  EXPECT_EQ(got[1].first, "b");
  EXPECT_EQ(got[1].second, small);
  EXPECT_EQ(got[2].first, "scalar");
  EXPECT_LT(z.size(), big.data.size());
}

TEST(NpzRead, SkipsDirectoryEntriesAndKeepsOtherNames) {
  const Tensor t = patterned(DType::UInt8, {2});
  const Buf z = make_zip({stored("dir/", {}), stored("dir/x.npy", np::write_npy(t)), stored("raw", np::write_npy(t))});
  const Arrays got = np::parse_npz(z.data(), z.size());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].first, "dir/x");
  EXPECT_EQ(got[1].first, "raw");
}

// ---- hostile .npz ------------------------------------------------------------------------------

TEST(NpzBadInput, EveryTruncationThrows) {
  const Buf z = np::write_npz({{"a", patterned(DType::Float32, {3})}, {"b", patterned(DType::Int8, {})}});
  for (size_t n = 0; n < z.size(); ++n) EXPECT_THROW(np::parse_npz(z.data(), n), Error) << n << " bytes";
}

// Every byte of a stored (zip64) and a deflated archive flipped three ways: the reader either
// refuses it with an Error naming the file, or returns exactly the original arrays. Member data are
// covered by CRC-32 and sizes and names by their records, so no corruption may change a value,
// dtype, shape or name silently; only bytes no reader needs (timestamps, version fields, ...) may
// change and still parse.
TEST(NpzBadInput, EveryCorruptedByteThrowsOrParsesToTheOriginal) {
  const Arrays stored_arrays{{"a", patterned(DType::Float32, {3})}, {"b", patterned(DType::Int8, {})}};
  const Arrays deflated_arrays{{"a", patterned(DType::Float32, {40})}};
  const std::vector<std::pair<Buf, Arrays>> cases = {{npz_bytes(stored_arrays, true), stored_arrays},
                                                     {make_zip({deflated("a.npy", np::write_npy(deflated_arrays[0].second))}), deflated_arrays}};
  for (const auto& [good, original] : cases) {
    ASSERT_EQ(np::parse_npz(good.data(), good.size()), original);
    size_t refused = 0, same = 0;
    for (size_t i = 0; i < good.size(); ++i)
      for (const uint8_t x : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xFF}}) {
        Buf b = good;
        b[i] ^= x;
        try {
          const Arrays got = np::parse_npz(b.data(), b.size(), "x.npz");
          EXPECT_TRUE(got == original) << "byte " << i << " ^ " << int{x} << " parsed to different arrays";
          ++same;
        } catch (const Error& e) {
          EXPECT_EQ(std::string(e.what()).rfind("x.npz: ", 0), 0u) << "byte " << i << ": " << e.what();
          ++refused;
        }
      }
    EXPECT_GT(refused, good.size());  // most flips are refused: every data, size and signature byte
    std::printf("[ npz      ] %zu-byte archive: %zu corruptions refused, %zu harmless\n", good.size(), refused, same);
  }
}

TEST(NpzBadInput, NotAnArchive) {
  const Buf npy = np::write_npy(patterned(DType::Float32, {2}));
  EXPECT_NE(npz_error(npy).find("this is an .npy file"), std::string::npos);
  EXPECT_NE(npz_error(to_buf("hello")).find("not a zip"), std::string::npos);
}

TEST(NpzBadInput, CrcMismatch) {
  Buf z = np::write_npz({{"a", patterned(DType::Float32, {3})}});
  z[30 + 5 + 128] ^= 1;  // first data byte of member a
  const std::string err = npz_error(z);
  EXPECT_NE(err.find("x.npz: member 'a.npy': CRC-32 mismatch"), std::string::npos) << err;
}

TEST(NpzBadInput, LocalHeaderOffsetOutsideTheFile) {
  Buf z = make_zip({stored("a.npy", np::write_npy(patterned(DType::Float32, {3})))});
  set_le(z, cd_offset(z) + 42, 0x7FFFFFF0, 4);
  EXPECT_NE(npz_error(z).find("local header offset"), std::string::npos);
  set_le(z, cd_offset(z) + 42, 1, 4);  // inside the file, but no local header there
  EXPECT_NE(npz_error(z).find("bad local header signature"), std::string::npos);
}

TEST(NpzBadInput, CentralDirectoryOutsideTheFile) {
  Buf z = make_zip({stored("a.npy", np::write_npy(patterned(DType::Float32, {3})))});
  const size_t end = z.size() - 22;
  Buf far = z;
  set_le(far, end + 16, 0xFFFFFF00, 4);
  EXPECT_NE(npz_error(far).find("lies outside the file"), std::string::npos);
  Buf many = z;
  set_le(many, end + 8, 1000, 2);
  set_le(many, end + 10, 1000, 2);
  EXPECT_NE(npz_error(many).find("claims 1000 members"), std::string::npos);
}

TEST(NpzBadInput, MemberDataRunsPastItsEnd) {
  RawMember m = stored("a.npy", np::write_npy(patterned(DType::Float32, {3})));
  Buf z = make_zip({m});
  set_le(z, cd_offset(z) + 20, 100000, 4);  // compressed size
  set_le(z, cd_offset(z) + 24, 100000, 4);
  EXPECT_NE(npz_error(z).find("run past"), std::string::npos);
}

TEST(NpzBadInput, DuplicateNames) {
  const Buf npy = np::write_npy(patterned(DType::Float32, {1}));
  const Buf z = make_zip({stored("a.npy", npy), stored("a", npy)});
  EXPECT_NE(npz_error(z).find("duplicate member name 'a'"), std::string::npos);
  const Tensor t = patterned(DType::Float32, {1});
  EXPECT_NE(error_of([&] { np::write_npz({{"a", t}, {"a", t}}); }).find("duplicate member name"), std::string::npos);
}

TEST(NpzBadInput, UnsupportedCompression) {
  RawMember m = stored("a.npy", np::write_npy(patterned(DType::Float32, {1})));
  m.method = 12;
  EXPECT_NE(npz_error(make_zip({m})).find("bzip2"), std::string::npos);
}

TEST(NpzBadInput, EncryptedMember) {
  RawMember m = stored("a.npy", np::write_npy(patterned(DType::Float32, {1})));
  m.flags = 1;
  EXPECT_NE(npz_error(make_zip({m})).find("encrypted"), std::string::npos);
}

TEST(NpzBadInput, DeflateExpandsBeyondDeclaredSize) {
  RawMember m = deflated("a.npy", np::write_npy(patterned(DType::Float32, {256})));
  m.usize = 300;
  EXPECT_NE(npz_error(make_zip({m})).find("expands beyond the declared 300 bytes"), std::string::npos);
}

TEST(NpzBadInput, DeflateShorterThanDeclaredSize) {
  RawMember m = deflated("a.npy", np::write_npy(patterned(DType::Float32, {256})));
  m.usize += 10;
  EXPECT_NE(npz_error(make_zip({m})).find("the archive declares"), std::string::npos);
}

TEST(NpzBadInput, ImpossibleDeclaredSizeIsRejectedBeforeAllocating) {
  // A few bytes claiming 4 GB: more than deflate can encode in them, so nothing is inflated.
  RawMember m = deflated("a.npy", Buf(10, 0));
  m.usize = 0xFFFFFFF0u;
  EXPECT_NE(npz_error(make_zip({m})).find("more than deflate can encode"), std::string::npos);
}

TEST(NpzBadInput, TruncatedDeflateStream) {
  RawMember m = deflated("a.npy", np::write_npy(patterned(DType::Float32, {256})));
  m.payload.resize(m.payload.size() / 2);
  EXPECT_NE(npz_error(make_zip({m})).find("member 'a.npy'"), std::string::npos);
}

TEST(NpzBadInput, OverlappingMembers) {
  const Buf npy = np::write_npy(patterned(DType::Float32, {1}));
  Buf z = make_zip({stored("a.npy", npy), stored("b.npy", npy)});
  // Point both entries at the first member: the trick behind small archives that inflate hugely.
  const size_t second = cd_offset(z) + 46 + 5;
  set_le(z, second + 42, 0, 4);
  z[second + 46] = 'a';
  EXPECT_NE(npz_error(z).find("overlaps member 'a.npy'"), std::string::npos);
}

TEST(NpzBadInput, BadMemberNpyNamesTheMember) {
  Buf npy = np::write_npy(patterned(DType::Float32, {1}));
  npy[0] = 'X';
  const std::string err = npz_error(make_zip({stored("w.npy", npy)}));
  EXPECT_NE(err.find("x.npz: member 'w.npy', byte 0: not an .npy file"), std::string::npos) << err;
}
