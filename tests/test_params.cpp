// .params reading and writing: real files from every format generation, synthetic round trips,
// the arg/aux split, and hostile input (which must raise mixprec::Error, never crash).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "mixprec/error.h"
#include "mixprec/mxnet.h"

namespace mx = mixprec::mxnet;
using mixprec::DType;
using mixprec::Error;
using mixprec::Tensor;
using mixprec::TensorMap;

namespace {

std::string model(const std::string& rel) { return std::string(MIXPREC_SHARED_DIR) + "/models/mxnet/" + rel; }

const char* const kCifarV1 = "gluoncv_cifar_resnet20_v1/cifar_resnet20_v1-0000.params";
const char* const kDet1 = "insightface_mtcnn/det1-0001.params";
const char* const kLegacyV0 = "apache_mxnet_test_fixtures/legacy_ndarray.v0";

const std::vector<std::string> kRealFiles = {
    kCifarV1,
    "gluoncv_cifar_resnet20_v2/cifar_resnet20_v2-0000.params",
    kDet1,
    "insightface_mtcnn/det2-0001.params",
    "insightface_mtcnn/det3-0001.params",
    "insightface_mtcnn/det4-0001.params",
    kLegacyV0,
};

// Builds files byte by byte, independently of the writer under test.
struct Bytes {
  std::vector<uint8_t> b;
  template <typename T>
  Bytes& put(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    b.insert(b.end(), tmp, tmp + sizeof(T));
    return *this;
  }
  Bytes& u32(uint32_t v) { return put(v); }
  Bytes& i32(int32_t v) { return put(v); }
  Bytes& u64(uint64_t v) { return put(v); }
  Bytes& i64(int64_t v) { return put(v); }
  Bytes& raw(const std::vector<uint8_t>& v) {
    b.insert(b.end(), v.begin(), v.end());
    return *this;
  }
  Bytes& str(const std::string& s) {
    u64(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& header(uint64_t n) { return u64(0x112).u64(0).u64(n); }
  // A dense V2 float32 array of shape `dims` filled with zeros.
  Bytes& v2_array(const std::vector<int64_t>& dims, int32_t dtype = 0, size_t elem = 4) {
    u32(0xF993FAC9u).i32(0).i32(static_cast<int32_t>(dims.size()));
    size_t n = 1;
    for (int64_t d : dims) {
      i64(d);
      n *= static_cast<size_t>(d);
    }
    i32(1).i32(0).i32(dtype);
    b.insert(b.end(), n * elem, uint8_t{0});
    return *this;
  }
};

mx::ParamsFile parse(const std::vector<uint8_t>& b, const std::string& source = "test.params") {
  return mx::parse_params(b.data(), b.size(), source);
}

// Parses `b`, expecting a mixprec::Error whose message names the source, a place and `needle`.
Error parse_error(const std::vector<uint8_t>& b, const std::string& needle = "") {
  try {
    parse(b, "bad.params");
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), "bad.params");
    EXPECT_TRUE(e.place().starts_with("byte ") || e.place().starts_with("array ")) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.params"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "missing '" << needle << "' in: " << e.what();
    return e;
  }
  ADD_FAILURE() << "no error for input of " << b.size() << " bytes";
  return Error("none");
}

Tensor patterned(DType dt, std::vector<int64_t> shape) {
  Tensor t;
  t.dtype = dt;
  t.shape = std::move(shape);
  t.data.resize(static_cast<size_t>(t.numel()) * mixprec::dtype_size(dt));
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = static_cast<uint8_t>(i * 37 + 11);
  return t;
}

template <typename T>
void poke(std::vector<uint8_t>& b, size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof(T));
}

}  // namespace

// ---- real files --------------------------------------------------------------------------------

TEST(ParamsReal, EveryFileLoadsAndRewritesByteIdentically) {
  for (const std::string& rel : kRealFiles) {
    SCOPED_TRACE(rel);
    const std::vector<uint8_t> bytes = mixprec::read_file(model(rel));
    const mx::ParamsFile f = mx::read_params(model(rel));
    EXPECT_FALSE(f.arrays.empty());
    for (const auto& a : f.arrays) {
      EXPECT_EQ(a.tensor.data.size(), static_cast<size_t>(a.tensor.numel()) * mixprec::dtype_size(a.tensor.dtype));
      EXPECT_EQ(a.dev_type, 1);
      EXPECT_EQ(a.dev_id, 0);
    }
    EXPECT_TRUE(mx::write_params(f) == bytes);
  }
}

TEST(ParamsReal, CifarResnet20V1) {
  const mx::ParamsFile f = mx::read_params(model(kCifarV1));
  ASSERT_EQ(f.arrays.size(), 107u);
  EXPECT_TRUE(f.has_names);
  const auto& first = f.arrays.front();
  EXPECT_EQ(first.name, "arg:cifarresnetv10_conv0_weight");
  EXPECT_EQ(first.tensor.shape, (std::vector<int64_t>{16, 3, 3, 3}));
  EXPECT_EQ(first.tensor.dtype, DType::Float32);
  EXPECT_EQ(first.format, mx::ArrayFormat::V2);
  EXPECT_EQ(f.arrays[1].name, "arg:cifarresnetv10_batchnorm0_gamma");
  EXPECT_EQ(f.arrays[1].tensor.shape, (std::vector<int64_t>{16}));
  EXPECT_EQ(f.arrays.back().name, "arg:cifarresnetv10_dense0_bias");
  EXPECT_EQ(f.arrays.back().tensor.shape, (std::vector<int64_t>{10}));
  for (const auto& a : f.arrays) {
    EXPECT_TRUE(a.name.starts_with("arg:") || a.name.starts_with("aux:")) << a.name;
    EXPECT_EQ(a.format, mx::ArrayFormat::V2);
  }
  // The first weight's bytes sit right after its 56-byte header, 80 bytes into the file.
  const std::vector<uint8_t> bytes = mixprec::read_file(model(kCifarV1));
  EXPECT_EQ(std::memcmp(first.tensor.data.data(), bytes.data() + 80, first.tensor.data.size()), 0);

  TensorMap arg, aux;
  mx::split_params(f, arg, aux, model(kCifarV1));
  EXPECT_EQ(arg.size(), 65u);
  EXPECT_EQ(aux.size(), 42u);
  EXPECT_TRUE(arg.count("cifarresnetv10_conv0_weight"));
  EXPECT_TRUE(aux.count("cifarresnetv10_batchnorm0_running_mean"));
  EXPECT_TRUE(aux.count("cifarresnetv10_batchnorm0_running_var"));
}

TEST(ParamsReal, CifarResnet20V2) {
  const mx::ParamsFile f = mx::read_params(model("gluoncv_cifar_resnet20_v2/cifar_resnet20_v2-0000.params"));
  ASSERT_EQ(f.arrays.size(), 103u);
  EXPECT_EQ(f.arrays[0].name, "arg:cifarresnetv20_batchnorm0_gamma");
  EXPECT_EQ(f.arrays[0].tensor.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(f.arrays[2].name, "aux:cifarresnetv20_batchnorm0_running_mean");
}

TEST(ParamsReal, MtcnnIsLegacyFormat) {
  const mx::ParamsFile f = mx::read_params(model(kDet1));
  ASSERT_EQ(f.arrays.size(), 13u);
  EXPECT_TRUE(f.has_names);
  for (const auto& a : f.arrays) {
    EXPECT_EQ(a.format, mx::ArrayFormat::Legacy);
    EXPECT_EQ(a.tensor.dtype, DType::Float32);
  }
  EXPECT_EQ(f.arrays[0].name, "arg:prelu2_gamma");
  EXPECT_EQ(f.arrays[0].tensor.shape, (std::vector<int64_t>{16}));
  EXPECT_EQ(f.arrays.back().name, "arg:conv2_weight");
  EXPECT_EQ(f.arrays.back().tensor.shape, (std::vector<int64_t>{16, 10, 3, 3}));

  const mx::ParamsFile det4 = mx::read_params(model("insightface_mtcnn/det4-0001.params"));
  ASSERT_EQ(det4.arrays.size(), 73u);
  EXPECT_EQ(det4.arrays.back().name, "arg:fc4_3_weight");
  EXPECT_EQ(det4.arrays.back().tensor.shape, (std::vector<int64_t>{64, 256}));
}

TEST(ParamsReal, LegacyNdarrayFixtureHasNoNames) {
  const mx::ParamsFile f = mx::read_params(model(kLegacyV0));
  ASSERT_EQ(f.arrays.size(), 6u);
  EXPECT_FALSE(f.has_names);
  for (const auto& a : f.arrays) {
    EXPECT_EQ(a.format, mx::ArrayFormat::Legacy);
    EXPECT_EQ(a.tensor.dtype, DType::Float32);
    EXPECT_EQ(a.tensor.shape, (std::vector<int64_t>{128}));
    EXPECT_TRUE(a.name.empty());
  }
  // The first array holds 0, 1, 2, ..., 127.
  const float* v = f.arrays[0].tensor.as<float>();
  for (int i = 0; i < 128; ++i) EXPECT_EQ(v[i], static_cast<float>(i));

  TensorMap arg, aux;
  try {
    mx::split_params(f, arg, aux, "legacy_ndarray.v0");
    ADD_FAILURE() << "split_params accepted a nameless list";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), "legacy_ndarray.v0");
    EXPECT_NE(e.reason().find("no parameter names"), std::string::npos) << e.what();
  }
}

// ---- synthetic round trips ----------------------------------------------------------------------

TEST(ParamsSynthetic, EveryFormatTimesEveryDtypeRoundTrips) {
  const mx::ArrayFormat formats[] = {mx::ArrayFormat::Legacy, mx::ArrayFormat::V1, mx::ArrayFormat::V2,
                                     mx::ArrayFormat::V3};
  for (mx::ArrayFormat fmt : formats) {
    mx::ParamsFile f;
    for (int code = 0; code <= 12; ++code) {
      const DType dt = *mixprec::dtype_from_code(code);
      f.arrays.push_back({"arg:a" + std::to_string(code), patterned(dt, {2, 3, static_cast<int64_t>(code) + 1}), fmt,
                          code % 3 + 1, code});
    }
    const std::vector<uint8_t> b = mx::write_params(f);
    const mx::ParamsFile g = parse(b);
    ASSERT_EQ(g.arrays.size(), f.arrays.size());
    for (size_t k = 0; k < f.arrays.size(); ++k) {
      SCOPED_TRACE(k);
      EXPECT_EQ(g.arrays[k].name, f.arrays[k].name);
      EXPECT_EQ(g.arrays[k].format, fmt);
      EXPECT_EQ(g.arrays[k].dev_type, f.arrays[k].dev_type);
      EXPECT_EQ(g.arrays[k].dev_id, f.arrays[k].dev_id);
      EXPECT_TRUE(g.arrays[k].tensor == f.arrays[k].tensor);
    }
    EXPECT_TRUE(mx::write_params(g) == b);
  }
}

TEST(ParamsSynthetic, WriterLayoutMatchesTheSpec) {
  const Tensor t = patterned(DType::Float16, {2, 3});
  const std::vector<std::pair<mx::ArrayFormat, Bytes>> cases = [&] {
    std::vector<std::pair<mx::ArrayFormat, Bytes>> c;
    Bytes legacy, v1, v2, v3;
    legacy.header(1).u32(2).u32(2).u32(3);
    v1.header(1).u32(0xF993FAC8u).i32(2).i64(2).i64(3);
    v2.header(1).u32(0xF993FAC9u).i32(0).i32(2).i64(2).i64(3);
    v3.header(1).u32(0xF993FACAu).i32(0).i32(2).i64(2).i64(3);
    for (Bytes* b : {&legacy, &v1, &v2, &v3}) b->i32(1).i32(0).i32(2).raw(t.data).u64(1).str("arg:w");
    c.emplace_back(mx::ArrayFormat::Legacy, legacy);
    c.emplace_back(mx::ArrayFormat::V1, v1);
    c.emplace_back(mx::ArrayFormat::V2, v2);
    c.emplace_back(mx::ArrayFormat::V3, v3);
    return c;
  }();
  for (const auto& [fmt, expected] : cases) {
    mx::ParamsFile f;
    f.arrays.push_back({"arg:w", t, fmt, 1, 0});
    EXPECT_TRUE(mx::write_params(f) == expected.b) << static_cast<int>(fmt);
  }
}

TEST(ParamsSynthetic, NamelessListRoundTrips) {
  mx::ParamsFile f;
  f.has_names = false;
  f.arrays.push_back({"", patterned(DType::Float32, {4}), mx::ArrayFormat::V2, 1, 0});
  f.arrays.push_back({"", patterned(DType::Int64, {1, 2}), mx::ArrayFormat::V1, 1, 0});
  const std::vector<uint8_t> b = mx::write_params(f);
  // The list ends with n_names = 0.
  uint64_t n_names = 1;
  std::memcpy(&n_names, b.data() + b.size() - 8, 8);
  EXPECT_EQ(n_names, 0u);
  const mx::ParamsFile g = parse(b);
  EXPECT_FALSE(g.has_names);
  ASSERT_EQ(g.arrays.size(), 2u);
  EXPECT_TRUE(g.arrays[1].tensor == f.arrays[1].tensor);
  EXPECT_TRUE(mx::write_params(g) == b);
}

TEST(ParamsSynthetic, EmptyListRoundTrips) {
  const mx::ParamsFile f;
  const std::vector<uint8_t> b = mx::write_params(f);
  EXPECT_EQ(b.size(), 32u);
  const mx::ParamsFile g = parse(b);
  EXPECT_TRUE(g.arrays.empty());
  TensorMap arg, aux;
  mx::split_params(g, arg, aux);
  EXPECT_TRUE(arg.empty() && aux.empty());
}

TEST(ParamsSynthetic, V3ScalarAndZeroSizedArrays) {
  mx::ParamsFile f;
  f.arrays.push_back({"arg:scalar", patterned(DType::Float64, {}), mx::ArrayFormat::V3, 1, 0});
  f.arrays.push_back({"arg:empty", patterned(DType::Float32, {0, 5}), mx::ArrayFormat::V2, 1, 0});
  f.arrays.push_back({"arg:empty_legacy", patterned(DType::Int8, {3, 0}), mx::ArrayFormat::Legacy, 1, 0});
  const std::vector<uint8_t> b = mx::write_params(f);
  const mx::ParamsFile g = parse(b);
  ASSERT_EQ(g.arrays.size(), 3u);
  EXPECT_TRUE(g.arrays[0].tensor.shape.empty());
  EXPECT_EQ(g.arrays[0].tensor.data.size(), 8u);
  EXPECT_TRUE(g.arrays[0].tensor == f.arrays[0].tensor);
  EXPECT_TRUE(g.arrays[1].tensor.data.empty());
  EXPECT_TRUE(g.arrays[2].tensor == f.arrays[2].tensor);
  EXPECT_TRUE(mx::write_params(g) == b);
}

TEST(ParamsSynthetic, WriterRejectsArraysItCannotStore) {
  auto expect_throw = [](mx::NamedArray a, const std::string& needle) {
    mx::ParamsFile f;
    f.arrays.push_back({"arg:ok", patterned(DType::Float32, {1}), mx::ArrayFormat::V2, 1, 0});
    f.arrays.push_back(std::move(a));
    try {
      mx::write_params(f);
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.place(), "array 1 ('arg:bad')");
      EXPECT_NE(e.reason().find(needle), std::string::npos) << e.what();
    }
  };
  Tensor short_data = patterned(DType::Float32, {4});
  short_data.data.pop_back();
  expect_throw({"arg:bad", short_data, mx::ArrayFormat::V2, 1, 0}, "bytes");
  expect_throw({"arg:bad", patterned(DType::Float32, {}), mx::ArrayFormat::V2, 1, 0}, "0-d");
  Tensor wide = patterned(DType::Float32, {0});
  wide.shape = {int64_t{1} << 33, 0};
  expect_throw({"arg:bad", wide, mx::ArrayFormat::Legacy, 1, 0}, "uint32");
  Tensor deep = patterned(DType::Float32, {});
  deep.shape.assign(33, 1);
  expect_throw({"arg:bad", deep, mx::ArrayFormat::V2, 1, 0}, "dimensions");
  Tensor unknown = patterned(DType::Float32, {1});
  unknown.dtype = DType::Unknown;
  expect_throw({"arg:bad", unknown, mx::ArrayFormat::V2, 1, 0}, "dtype");
}

// ---- split / checkpoint -------------------------------------------------------------------------

TEST(ParamsSplit, PrefixesAndBareNames) {
  mx::ParamsFile f;
  f.arrays.push_back({"arg:w", patterned(DType::Float32, {1}), mx::ArrayFormat::V2, 1, 0});
  f.arrays.push_back({"aux:bn_mean", patterned(DType::Float32, {2}), mx::ArrayFormat::V2, 1, 0});
  f.arrays.push_back({"bare_name", patterned(DType::Float32, {3}), mx::ArrayFormat::V2, 1, 0});
  f.arrays.push_back({"arg:ns:inner", patterned(DType::Float32, {4}), mx::ArrayFormat::V2, 1, 0});
  TensorMap arg = {{"stale", Tensor{}}}, aux;
  mx::split_params(f, arg, aux);
  EXPECT_EQ(arg.size(), 3u);
  EXPECT_EQ(aux.size(), 1u);
  EXPECT_FALSE(arg.count("stale"));
  EXPECT_TRUE(arg.at("w") == f.arrays[0].tensor);
  EXPECT_TRUE(aux.at("bn_mean") == f.arrays[1].tensor);
  EXPECT_TRUE(arg.count("bare_name"));
  EXPECT_TRUE(arg.count("ns:inner"));  // split at the first ':'
}

TEST(ParamsSplit, DuplicateNamesAreErrors) {
  for (const auto& [first, second] : std::vector<std::pair<std::string, std::string>>{
           {"arg:w", "w"}, {"arg:w", "arg:w"}, {"arg:w", "aux:w"}, {"aux:m", "aux:m"}}) {
    mx::ParamsFile f;
    f.arrays.push_back({first, patterned(DType::Float32, {1}), mx::ArrayFormat::V2, 1, 0});
    f.arrays.push_back({second, patterned(DType::Float32, {1}), mx::ArrayFormat::V2, 1, 0});
    TensorMap arg = {{"keep", Tensor{}}}, aux;
    try {
      mx::split_params(f, arg, aux, "dup.params");
      ADD_FAILURE() << first << " / " << second;
    } catch (const Error& e) {
      EXPECT_EQ(e.file(), "dup.params");
      EXPECT_EQ(e.place(), "array 1 ('" + second + "')");
      EXPECT_NE(e.reason().find("duplicate"), std::string::npos);
    }
    EXPECT_TRUE(arg.count("keep"));  // untouched on failure
  }
}

TEST(ParamsSplit, CheckpointRoundTrip) {
  const TensorMap arg = {{"conv_weight", patterned(DType::Float16, {2, 2})}, {"a_bias", patterned(DType::Float32, {2})}};
  const TensorMap aux = {{"bn_var", patterned(DType::Float32, {3})}};
  const mx::ParamsFile f = mx::make_checkpoint(arg, aux);
  ASSERT_EQ(f.arrays.size(), 3u);
  EXPECT_TRUE(f.has_names);
  EXPECT_EQ(f.arrays[0].name, "arg:a_bias");
  EXPECT_EQ(f.arrays[1].name, "arg:conv_weight");
  EXPECT_EQ(f.arrays[2].name, "aux:bn_var");
  for (const auto& a : f.arrays) {
    EXPECT_EQ(a.format, mx::ArrayFormat::V2);
    EXPECT_EQ(a.dev_type, 1);
    EXPECT_EQ(a.dev_id, 0);
  }
  TensorMap arg2, aux2;
  mx::split_params(parse(mx::write_params(f)), arg2, aux2);
  EXPECT_TRUE(arg2 == arg);
  EXPECT_TRUE(aux2 == aux);
}

TEST(ParamsSplit, RealCheckpointSurvivesSplitAndRebuild) {
  const mx::ParamsFile f = mx::read_params(model(kDet1));
  TensorMap arg, aux;
  mx::split_params(f, arg, aux);
  const mx::ParamsFile g = mx::make_checkpoint(arg, aux);
  TensorMap arg2, aux2;
  mx::split_params(parse(mx::write_params(g)), arg2, aux2);
  EXPECT_TRUE(arg2 == arg);
  EXPECT_TRUE(aux2 == aux);
}

// ---- hostile input ------------------------------------------------------------------------------

TEST(ParamsBad, EveryTruncationOfSmallFilesThrows) {
  for (const char* rel : {kDet1, kLegacyV0}) {
    const std::vector<uint8_t> bytes = mixprec::read_file(model(rel));
    for (size_t n = 0; n < bytes.size(); ++n) {
      // An exact-size copy, so that a read past the end would be caught by sanitizers.
      const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      EXPECT_THROW(parse(prefix), Error) << rel << " cut at " << n;
    }
  }
}

TEST(ParamsBad, TruncationsOfALargeFileThrow) {
  const std::vector<uint8_t> bytes = mixprec::read_file(model(kCifarV1));
  std::vector<size_t> cuts;
  for (size_t n = 0; n < 2048; ++n) cuts.push_back(n);
  for (size_t n = 2048; n < bytes.size(); n += 4999) cuts.push_back(n);
  for (size_t n = bytes.size() - 256; n < bytes.size(); ++n) cuts.push_back(n);
  for (size_t n : cuts) {
    const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    try {
      parse(prefix, "cut.params");
      ADD_FAILURE() << "cut at " << n;
    } catch (const Error& e) {
      EXPECT_EQ(e.file(), "cut.params");
      EXPECT_TRUE(e.place().starts_with("byte ") || e.place().starts_with("array ")) << e.what();
    }
  }
}

TEST(ParamsBad, WrongListMagic) {
  std::vector<uint8_t> b = mixprec::read_file(model(kCifarV1));
  b[0] ^= 0xff;
  const Error e = parse_error(b, "magic");
  EXPECT_EQ(e.place(), "byte 0");
}

TEST(ParamsBad, UnknownArrayMagicReadsAsAHugeLegacyNdim) {
  std::vector<uint8_t> b = mixprec::read_file(model(kCifarV1));
  poke<uint32_t>(b, 24, 0x12345678u);
  const Error e = parse_error(b, "0x12345678");
  EXPECT_EQ(e.place(), "array 0, byte 24");
}

TEST(ParamsBad, HugeDimensionFailsBeforeAllocating) {
  std::vector<uint8_t> b = mixprec::read_file(model(kCifarV1));
  poke<int64_t>(b, 36, int64_t{1} << 40);  // first dim of the first array
  const Error e = parse_error(b, "truncated");
  EXPECT_EQ(e.place(), "array 0, byte 80");
}

TEST(ParamsBad, ElementCountOverflow) {
  std::vector<uint8_t> b = mixprec::read_file(model(kCifarV1));
  for (size_t i = 0; i < 4; ++i) poke<int64_t>(b, 36 + 8 * i, int64_t{1} << 40);
  parse_error(b, "overflow");
  // Overflow only in the byte count (elements fit in int64, bytes do not).
  poke<int64_t>(b, 36, int64_t{1} << 62);
  for (size_t i = 1; i < 4; ++i) poke<int64_t>(b, 36 + 8 * i, 1);
  parse_error(b, "overflow");
}

TEST(ParamsBad, NegativeDimension) {
  std::vector<uint8_t> b = mixprec::read_file(model(kCifarV1));
  poke<int64_t>(b, 44, -3);
  const Error e = parse_error(b, "negative dimension -3");
  EXPECT_EQ(e.place(), "array 0, byte 44");
}

TEST(ParamsBad, BadNdim) {
  std::vector<uint8_t> b = mixprec::read_file(model(kCifarV1));
  poke<int32_t>(b, 32, -5);
  parse_error(b, "negative number of dimensions");
  poke<int32_t>(b, 32, 33);
  parse_error(b, "exceeds 32");
  poke<int32_t>(b, 32, 0x7fffffff);
  parse_error(b, "exceeds 32");
  poke<int32_t>(b, 32, 0);
  parse_error(b, "none");
  // V3: ndim 0 is a scalar, ndim -1 is "none".
  poke<uint32_t>(b, 24, 0xF993FACAu);
  poke<int32_t>(b, 32, -1);
  parse_error(b, "none");
}

TEST(ParamsBad, UnknownDtypeCode) {
  std::vector<uint8_t> b = mixprec::read_file(model(kCifarV1));
  poke<int32_t>(b, 76, 99);
  const Error e = parse_error(b, "unknown dtype code 99");
  EXPECT_EQ(e.place(), "array 0, byte 76");
  poke<int32_t>(b, 76, -1);
  parse_error(b, "unknown dtype code -1");
  poke<int32_t>(b, 76, 13);
  parse_error(b, "unknown dtype code 13");
}

TEST(ParamsBad, StorageTypes) {
  std::vector<uint8_t> b = mixprec::read_file(model(kCifarV1));
  poke<int32_t>(b, 28, 1);
  parse_error(b, "row_sparse");
  poke<int32_t>(b, 28, 2);
  parse_error(b, "csr");
  poke<int32_t>(b, 28, 7);
  const Error e = parse_error(b, "unknown storage type 7");
  EXPECT_EQ(e.place(), "array 0, byte 28");
}

TEST(ParamsBad, NameCountMismatch) {
  Bytes b;
  b.header(2).v2_array({2}).v2_array({3}).u64(1).str("arg:a");
  parse_error(b.b, "2 arrays but 1 names");
  Bytes c;
  c.header(1).v2_array({2}).u64(3).str("arg:a").str("arg:b").str("arg:c");
  parse_error(c.b, "1 arrays but 3 names");
}

TEST(ParamsBad, TrailingGarbage) {
  std::vector<uint8_t> b = mixprec::read_file(model(kDet1));
  b.push_back(0);
  parse_error(b, "trailing");
  std::vector<uint8_t> v0 = mixprec::read_file(model(kLegacyV0));
  v0.insert(v0.end(), {1, 2, 3});
  parse_error(v0, "3 bytes of trailing data");
}

TEST(ParamsBad, NameLengthBeyondTheFile) {
  Bytes b;
  b.header(1).v2_array({2}).u64(1).u64(uint64_t{1} << 60);
  b.b.insert(b.b.end(), {'a', 'r', 'g'});
  parse_error(b.b, "name 0");
}

TEST(ParamsBad, TinyFilesNeverAllocateHugely) {
  // 20 bytes: not even a full header.
  parse_error(Bytes().u64(0x112).u64(0).u32(5).b, "truncated");
  // An absurd array count.
  parse_error(Bytes().header(uint64_t{1} << 60).u64(0).b, "array count");
  // A legacy array claiming 64K x 4G float32 elements, in a 56-byte file.
  parse_error(Bytes().header(1).u32(2).u32(0x10000u).u32(0xffffffffu).i32(1).i32(0).i32(0).u64(0).b, "truncated");
  // 4G x 4G elements do not even fit in int64.
  parse_error(Bytes().header(1).u32(2).u32(0xffffffffu).u32(0xffffffffu).i32(1).i32(0).i32(0).u64(0).b, "overflow");
  // A V2 array claiming 2^40 float64 elements.
  parse_error(Bytes().header(1).u32(0xF993FAC9u).i32(0).i32(1).i64(int64_t{1} << 40).i32(1).i32(0).i32(1).b,
              "truncated");
}

// Random corruption of a legacy (pre-V1) list: the reader never crashes (the sanitizer run checks
// that), and it either refuses the bytes with an Error naming the file, or what it returns is
// exactly what the bytes say: written back, it gives the same bytes (the writer reproduces every
// format it reads), except the list header's reserved word (bytes 8-15), which MXNet's loader
// reads and ignores and its writer sets to 0. A reader that skipped or misread a field on an odd
// path would return arrays that do not write back to their file.
TEST(ParamsBad, RandomCorruptionNeverCrashes) {
  const std::vector<uint8_t> base = mixprec::read_file(model(kLegacyV0));
  std::mt19937 rng(1234);
  int errors = 0, parsed = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> b = base;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) {
      // Mostly hit the structural bytes near the array headers and the end.
      const size_t at = rng() % 2 ? rng() % 64 : rng() % b.size();
      b[at] = static_cast<uint8_t>(rng());
    }
    try {
      const mx::ParamsFile f = parse(b, "corrupt.params");
      ++parsed;
      std::fill(b.begin() + 8, b.begin() + 16, uint8_t{0});  // the reserved word
      EXPECT_TRUE(mx::write_params(f) == b) << "iteration " << iter << ": parsed, but does not write back to its bytes";
    } catch (const Error& e) {
      ++errors;
      EXPECT_EQ(std::string(e.what()).rfind("corrupt.params: ", 0), 0u) << e.what();
    }
  }
  EXPECT_GT(errors, 300);
  EXPECT_GT(parsed, 300);  // value bytes: still a valid file
}

// ---- files on disk ------------------------------------------------------------------------------

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("mixprec_params_test_" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::vector<std::string> entries() const {
    std::vector<std::string> v;
    for (const auto& e : std::filesystem::directory_iterator(path)) v.push_back(e.path().filename().string());
    return v;
  }
};

}  // namespace

TEST(ParamsFiles, SaveLeavesOnlyTheTarget) {
  TempDir dir;
  const mx::ParamsFile f = mx::read_params(model(kDet1));
  const std::string out = (dir.path / "model-0000.params").string();
  mx::save_params(f, out);
  mx::save_params(f, out);  // overwriting works too
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model-0000.params"});
  EXPECT_TRUE(mixprec::read_file(out) == mixprec::read_file(model(kDet1)));
}

TEST(ParamsFiles, SaveIntoMissingDirectoryThrowsAndLeavesNothing) {
  TempDir dir;
  const std::string out = (dir.path / "missing" / "model-0000.params").string();
  try {
    mx::save_params(mx::read_params(model(kLegacyV0)), out);
    ADD_FAILURE() << "saved into a missing directory";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), out);
  }
  EXPECT_TRUE(dir.entries().empty());
}

TEST(ParamsFiles, SaveOfAnInvalidArrayThrowsNamingThePath) {
  TempDir dir;
  const std::string out = (dir.path / "bad.params").string();
  mx::ParamsFile f;
  Tensor t = patterned(DType::Float32, {2});
  t.data.resize(3);
  f.arrays.push_back({"arg:w", t, mx::ArrayFormat::V2, 1, 0});
  try {
    mx::save_params(f, out);
    ADD_FAILURE() << "saved an invalid array";
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), out);
    EXPECT_EQ(e.place(), "array 0 ('arg:w')");
  }
  EXPECT_TRUE(dir.entries().empty());
}

TEST(ParamsFiles, ReadErrorsNameThePath) {
  TempDir dir;
  const std::string path = (dir.path / "cut.params").string();
  const std::vector<uint8_t> bytes = mixprec::read_file(model(kDet1));
  mixprec::write_file_atomic(path, bytes.data(), 100);
  try {
    mx::read_params(path);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), path);
    EXPECT_FALSE(e.place().empty());
  }
  EXPECT_THROW(mx::read_params((dir.path / "absent.params").string()), Error);
}
