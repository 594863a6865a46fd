// float16 / bfloat16 conversions checked against references computed from the IEEE definitions
// with double arithmetic (ldexp / frexp), independent of the bit tricks in src/core/half.cpp.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "mixprec/error.h"
#include "mixprec/half.h"
#include "mixprec/tensor.h"

using mixprec::DType;
using mixprec::Tensor;

namespace {

uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }
float from_bits(uint32_t u) { return std::bit_cast<float>(u); }

// Round a non-negative double holding at most 53 significant bits to an integer, ties to even.
double round_half_even(double q) {
  double n = std::floor(q);
  const double r = q - n;
  if (r > 0.5 || (r == 0.5 && std::fmod(n, 2.0) == 1.0)) n += 1.0;
  return n;
}

// A binary format with `mant_bits` stored mantissa bits and exponent bias `bias` (16 bits total).
struct Format16 {
  int mant_bits;
  int bias;
  int exp_all_ones;
  int exp_max() const { return exp_all_ones; }
};
constexpr Format16 kHalf{10, 15, 31};
constexpr Format16 kBf16{7, 127, 255};

// The value a 16-bit pattern denotes (NaN for NaNs).
double value_of(Format16 f, uint16_t h) {
  const int e = (h >> f.mant_bits) & f.exp_max();
  const int m = h & ((1 << f.mant_bits) - 1);
  const int emin = 1 - f.bias - f.mant_bits;  // exponent of the smallest subnormal
  double v;
  if (e == f.exp_max())
    v = m ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else if (e == 0)
    v = std::ldexp(m, emin);
  else
    v = std::ldexp((1 << f.mant_bits) + m, e - f.bias - f.mant_bits);
  return (h & 0x8000) ? -v : v;
}

// Nearest representable value, ties to even, overflow to inf. `x` must not be NaN.
uint16_t round_to(Format16 f, float x) {
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(static_cast<double>(x));
  const auto inf = static_cast<uint16_t>(sign | (f.exp_max() << f.mant_bits));
  if (std::isinf(a)) return inf;
  const int emin_normal = 1 - f.bias;
  if (a < std::ldexp(1.0, emin_normal)) {
    // Subnormal range: count units of the smallest subnormal. A carry to 2^mant_bits is exactly
    // the encoding of the smallest normal.
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(round_half_even(std::ldexp(a, f.mant_bits - emin_normal))));
  }
  int ex = 0;
  std::frexp(a, &ex);
  int e = ex - 1;  // a in [2^e, 2^(e+1))
  double n = round_half_even(std::ldexp(a, f.mant_bits - e));
  if (n == std::ldexp(1.0, f.mant_bits + 1)) {
    n /= 2;
    ++e;
  }
  if (e + f.bias >= f.exp_max()) return inf;
  const auto m = static_cast<uint16_t>(n - std::ldexp(1.0, f.mant_bits));
  return static_cast<uint16_t>(sign | ((e + f.bias) << f.mant_bits) | m);
}

bool is_nan16(Format16 f, uint16_t h) {
  const int e = (h >> f.mant_bits) & f.exp_max();
  return e == f.exp_max() && (h & ((1 << f.mant_bits) - 1)) != 0;
}

// Checks the narrowing `got` of `x` against the reference (NaN: a quiet NaN of the same sign).
void expect_narrowed(Format16 f, float x, uint16_t got) {
  if (std::isnan(x)) {
    EXPECT_TRUE(is_nan16(f, got)) << std::hex << bits(x) << " -> " << got;
    EXPECT_EQ(got & 0x8000, (bits(x) >> 16) & 0x8000) << std::hex << bits(x);
    EXPECT_TRUE(got & (1 << (f.mant_bits - 1))) << "not quiet: " << std::hex << bits(x) << " -> " << got;
  } else {
    EXPECT_EQ(got, round_to(f, x)) << std::hex << "input bits " << bits(x) << " value " << x;
  }
}

// Halves between each pair of consecutive finite positive values, and one float ulp either side.
template <typename Narrow>
void check_midpoints(Format16 f, uint16_t max_finite, Narrow narrow) {
  for (uint32_t h = 0; h <= max_finite; ++h) {
    const double lo = value_of(f, static_cast<uint16_t>(h));
    // Past the largest finite value the "next" value is the power of two where inf begins.
    const double hi = h == max_finite ? std::ldexp(1.0, f.exp_max() - f.bias) : value_of(f, static_cast<uint16_t>(h + 1));
    const auto mid = static_cast<float>((lo + hi) / 2);
    ASSERT_EQ(static_cast<double>(mid), (lo + hi) / 2) << "midpoint not exact at " << h;
    const uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : static_cast<uint16_t>(h);
    for (float s : {1.0f, -1.0f}) {
      const uint16_t sign = s < 0 ? 0x8000 : 0;
      EXPECT_EQ(narrow(s * mid), static_cast<uint16_t>(even | sign)) << "tie at " << std::hex << h;
      EXPECT_EQ(narrow(s * std::nextafter(mid, 0.0f)), static_cast<uint16_t>(h | sign)) << std::hex << h;
      EXPECT_EQ(narrow(s * std::nextafter(mid, std::numeric_limits<float>::infinity())), static_cast<uint16_t>((h + 1) | sign)) << std::hex << h;
    }
  }
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = from_bits(static_cast<uint32_t>(rng()));
  return v;
}

}  // namespace

// ---- float16 -----------------------------------------------------------------------------------

TEST(HalfScalar, EveryHalfWidensExactlyAndNarrowsBack) {
  for (uint32_t i = 0; i <= 0xffff; ++i) {
    const auto h = static_cast<uint16_t>(i);
    const float f = mixprec::half_to_float(h);
    const double ref = value_of(kHalf, h);
    if (is_nan16(kHalf, h)) {
      EXPECT_TRUE(std::isnan(f)) << std::hex << h;
      EXPECT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << h;
      const uint16_t back = mixprec::float_to_half(f);
      EXPECT_TRUE(is_nan16(kHalf, back)) << std::hex << h;
      EXPECT_EQ(back | 0x200, h | 0x200) << "sign or payload changed: " << std::hex << h;
    } else {
      EXPECT_EQ(bits(f), bits(static_cast<float>(ref))) << std::hex << h;  // also tells -0 from +0
      EXPECT_EQ(mixprec::float_to_half(f), h) << std::hex << h;
    }
  }
}

TEST(HalfScalar, TiesGoToEven) {
  check_midpoints(kHalf, 0x7bff, [](float x) { return mixprec::float_to_half(x); });
}

TEST(HalfScalar, Boundaries) {
  using mixprec::float_to_half;
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(float_to_half(0x1p-24f), 0x0001);                               // smallest subnormal
  EXPECT_EQ(float_to_half(0x1p-25f), 0x0000);                               // exact tie with 0: even
  EXPECT_EQ(float_to_half(std::nextafter(0x1p-25f, 1.0f)), 0x0001);        // just above the tie
  EXPECT_EQ(float_to_half(std::nextafter(0x1p-25f, 0.0f)), 0x0000);
  EXPECT_EQ(float_to_half(0x3p-25f), 0x0002);                               // 1.5 units: tie to even 2
  EXPECT_EQ(float_to_half(0x1p-14f), 0x0400);                               // smallest normal
  EXPECT_EQ(float_to_half(std::nextafter(0x1p-14f, 0.0f)), 0x0400);
  EXPECT_EQ(float_to_half(0x3ffp-24f), 0x03ff);                             // largest subnormal
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half(65519.996f), 0x7bff);
  EXPECT_EQ(float_to_half(std::nextafter(65520.0f, 0.0f)), 0x7bff);
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);
  EXPECT_EQ(float_to_half(-65520.0f), 0xfc00);
  EXPECT_EQ(float_to_half(1e10f), 0x7c00);
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::max()), 0x7c00);
  EXPECT_EQ(float_to_half(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half(0.0f), 0x0000);
  EXPECT_EQ(float_to_half(inf), 0x7c00);
  EXPECT_EQ(float_to_half(-inf), 0xfc00);
  EXPECT_EQ(float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half(-2.0f), 0xc000);
  EXPECT_EQ(float_to_half(0.1f), 0x2e66);
  for (uint32_t nan : {0x7fc00000u, 0x7f800001u, 0x7fbfffffu, 0xffc00000u, 0xff800001u, 0x7fffffffu}) {
    expect_narrowed(kHalf, from_bits(nan), float_to_half(from_bits(nan)));
  }
  EXPECT_EQ(float_to_half(std::numeric_limits<float>::quiet_NaN()), 0x7e00);
}

TEST(HalfScalar, RandomFloatsMatchReference) {
  const std::vector<float> v = random_floats(1'000'000, 42);
  for (float x : v) {
    const uint16_t got = mixprec::float_to_half(x);
    const bool ok = std::isnan(x) ? is_nan16(kHalf, got) && (got & 0x200) : got == round_to(kHalf, x);
    if (!ok) {
      expect_narrowed(kHalf, x, got);
      return;  // one report is enough
    }
  }
  // Values near the half range, where the interesting rounding happens.
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> d(-70000.0f, 70000.0f);
  std::uniform_real_distribution<float> small(-1e-4f, 1e-4f);
  for (int i = 0; i < 200'000; ++i) {
    for (float x : {d(rng), small(rng)}) {
      if (mixprec::float_to_half(x) != round_to(kHalf, x)) {
        expect_narrowed(kHalf, x, mixprec::float_to_half(x));
        return;
      }
    }
  }
}

// ---- bfloat16 ----------------------------------------------------------------------------------

TEST(HalfBfloat16, EveryPatternWidensExactlyAndNarrowsBack) {
  for (uint32_t i = 0; i <= 0xffff; ++i) {
    const auto b = static_cast<uint16_t>(i);
    const float f = mixprec::bfloat16_to_float(b);
    if (is_nan16(kBf16, b)) {
      EXPECT_TRUE(std::isnan(f)) << std::hex << b;
      const uint16_t back = mixprec::float_to_bfloat16(f);
      EXPECT_TRUE(is_nan16(kBf16, back)) << std::hex << b;
      EXPECT_EQ(back | 0x40, b | 0x40) << std::hex << b;
    } else {
      EXPECT_EQ(bits(f), bits(static_cast<float>(value_of(kBf16, b)))) << std::hex << b;
      EXPECT_EQ(mixprec::float_to_bfloat16(f), b) << std::hex << b;
    }
  }
}

TEST(HalfBfloat16, TiesGoToEven) {
  check_midpoints(kBf16, 0x7f7f, [](float x) { return mixprec::float_to_bfloat16(x); });
}

TEST(HalfBfloat16, Boundaries) {
  using mixprec::float_to_bfloat16;
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(float_to_bfloat16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bfloat16(from_bits(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(float_to_bfloat16(from_bits(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(float_to_bfloat16(from_bits(0x3f808001u)), 0x3f81);
  EXPECT_EQ(float_to_bfloat16(from_bits(0x7f7f0000u)), 0x7f7f);  // largest finite
  EXPECT_EQ(float_to_bfloat16(from_bits(0x7f7f7fffu)), 0x7f7f);
  EXPECT_EQ(float_to_bfloat16(from_bits(0x7f7f8000u)), 0x7f80);  // tie with 2^128: odd, so inf
  EXPECT_EQ(float_to_bfloat16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(float_to_bfloat16(-std::numeric_limits<float>::max()), 0xff80);
  EXPECT_EQ(float_to_bfloat16(inf), 0x7f80);
  EXPECT_EQ(float_to_bfloat16(-inf), 0xff80);
  EXPECT_EQ(float_to_bfloat16(-0.0f), 0x8000);
  EXPECT_EQ(float_to_bfloat16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(float_to_bfloat16(from_bits(0x00008000u)), 0x0000);  // subnormal tie, even
  EXPECT_EQ(float_to_bfloat16(from_bits(0x00018000u)), 0x0002);
  EXPECT_EQ(float_to_bfloat16(from_bits(0x007fffffu)), 0x0080);  // largest subnormal rounds to min normal
  for (uint32_t nan : {0x7fc00000u, 0x7f800001u, 0x7f80ffffu, 0xff800001u, 0x7fffffffu, 0xffffffffu}) {
    expect_narrowed(kBf16, from_bits(nan), float_to_bfloat16(from_bits(nan)));
  }
}

TEST(HalfBfloat16, RandomFloatsMatchReference) {
  const std::vector<float> v = random_floats(1'000'000, 43);
  for (float x : v) {
    const uint16_t got = mixprec::float_to_bfloat16(x);
    const bool ok = std::isnan(x) ? is_nan16(kBf16, got) && (got & 0x40) : got == round_to(kBf16, x);
    if (!ok) {
      expect_narrowed(kBf16, x, got);
      return;
    }
  }
}

// ---- bulk forms --------------------------------------------------------------------------------

namespace {

// Random 16-bit patterns, NaNs included.
std::vector<uint16_t> random_halves(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint16_t> v(n);
  for (auto& h : v) h = static_cast<uint16_t>(rng());
  return v;
}

const size_t kOddLengths[] = {0, 1, 3, 5, 7, 9, 15, 17, 23, 31, 33, 63, 65, 1001};

}  // namespace

TEST(HalfBulk, FloatsToHalvesMatchesScalar) {
  std::vector<float> src = random_floats(1100, 5);
  // Exact ties between neighbouring halves, where a rounding difference would show.
  std::mt19937 rng(10);
  for (size_t i = 0; i < src.size(); i += 3) {
    const auto h = static_cast<uint16_t>(rng() % 0x7bff);
    src[i] = static_cast<float>((value_of(kHalf, h) + value_of(kHalf, static_cast<uint16_t>(h + 1))) / 2);
  }
  for (size_t n : kOddLengths) {
    for (size_t off : {size_t{0}, size_t{1}}) {  // unaligned starts too
      std::vector<uint16_t> dst(n + 1, 0xdead);
      mixprec::floats_to_halves(src.data() + off, dst.data(), n);
      for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(dst[i], mixprec::float_to_half(src[off + i])) << "n=" << n << " i=" << i << std::hex << " x=" << bits(src[off + i]);
      EXPECT_EQ(dst[n], 0xdead) << "wrote past the end, n=" << n;
    }
  }
}

TEST(HalfBulk, FloatsToBfloat16sMatchesScalar) {
  const std::vector<float> src = random_floats(1100, 6);
  for (size_t n : kOddLengths) {
    std::vector<uint16_t> dst(n + 1, 0xdead);
    mixprec::floats_to_bfloat16s(src.data() + 1, dst.data(), n);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(dst[i], mixprec::float_to_bfloat16(src[1 + i])) << "n=" << n << " i=" << i;
    EXPECT_EQ(dst[n], 0xdead);
  }
}

TEST(HalfBulk, Bfloat16sToFloatsMatchesScalar) {
  const std::vector<uint16_t> src = random_halves(1100, 8);
  for (size_t n : kOddLengths) {
    std::vector<float> dst(n + 1, 7.0f);
    mixprec::bfloat16s_to_floats(src.data() + 1, dst.data(), n);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(bits(dst[i]), bits(mixprec::bfloat16_to_float(src[1 + i])));
    EXPECT_EQ(dst[n], 7.0f);
  }
}

TEST(HalfBulk, HalvesToFloatsMatchesScalar) {
  std::vector<uint16_t> src = random_halves(1100, 9);
  // Signaling NaNs are covered by the disabled test below.
  for (auto& h : src)
    if (is_nan16(kHalf, h)) h |= 0x200;
  for (size_t n : kOddLengths) {
    for (size_t off : {size_t{0}, size_t{1}}) {
      std::vector<float> dst(n + 1, 7.0f);
      mixprec::halves_to_floats(src.data() + off, dst.data(), n);
      for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(bits(dst[i]), bits(mixprec::half_to_float(src[off + i]))) << "n=" << n << " i=" << i << std::hex << " h=" << src[off + i];
      EXPECT_EQ(dst[n], 7.0f);
    }
  }
}

// Known bug in src/core/half.cpp: the F16C path quiets signaling NaNs (0x7c01 -> 0x7fc02000) while
// scalar half_to_float keeps them signaling (0x7c01 -> 0x7f802000), so the result depends on the
// CPU and on whether an element falls in the vector body or the tail. Enable once fixed.
TEST(HalfBulk, SignalingNanWideningMatchesScalar) {
  std::vector<uint16_t> src;
  for (uint16_t m = 1; m < 0x200; m = static_cast<uint16_t>(m * 3)) {
    src.push_back(static_cast<uint16_t>(0x7c00 | m));
    src.push_back(static_cast<uint16_t>(0xfc00 | m));
  }
  std::vector<float> dst(src.size());
  mixprec::halves_to_floats(src.data(), dst.data(), src.size());
  for (size_t i = 0; i < src.size(); ++i) EXPECT_EQ(bits(dst[i]), bits(mixprec::half_to_float(src[i]))) << std::hex << src[i];
}

// ---- Tensor::astype ----------------------------------------------------------------------------

namespace {

Tensor tensor_of(DType dt, const std::vector<uint16_t>& patterns) {
  Tensor t;
  t.dtype = dt;
  t.shape = {static_cast<int64_t>(patterns.size())};
  t.data.resize(patterns.size() * 2);
  std::memcpy(t.data.data(), patterns.data(), t.data.size());
  return t;
}

// Every non-NaN 16-bit pattern of a format.
std::vector<uint16_t> all_non_nan(Format16 f) {
  std::vector<uint16_t> v;
  for (uint32_t i = 0; i <= 0xffff; ++i)
    if (!is_nan16(f, static_cast<uint16_t>(i))) v.push_back(static_cast<uint16_t>(i));
  return v;
}

}  // namespace

TEST(HalfAstype, Float32RoundsLikeTheScalarConversion) {
  std::vector<float> v = random_floats(10'001, 11);
  for (float& x : v)
    if (std::isnan(x)) x = 1.5f;
  const Tensor f32 = Tensor::from_floats({10'001}, v);
  const Tensor f16 = f32.astype(DType::Float16);
  const Tensor bf16 = f32.astype(DType::BFloat16);
  ASSERT_EQ(f16.dtype, DType::Float16);
  ASSERT_EQ(f16.shape, f32.shape);
  ASSERT_EQ(f16.nbytes(), v.size() * 2);
  for (size_t i = 0; i < v.size(); ++i) {
    ASSERT_EQ(f16.as<uint16_t>()[i], mixprec::float_to_half(v[i]));
    ASSERT_EQ(bf16.as<uint16_t>()[i], mixprec::float_to_bfloat16(v[i]));
  }
  // Narrowing twice changes nothing more.
  EXPECT_TRUE(f16.astype(DType::Float32).astype(DType::Float16) == f16);
  EXPECT_TRUE(bf16.astype(DType::Float32).astype(DType::BFloat16) == bf16);
}

TEST(HalfAstype, WideningRoundTripsAreExact) {
  const Tensor f16 = tensor_of(DType::Float16, all_non_nan(kHalf));
  EXPECT_TRUE(f16.astype(DType::Float32).astype(DType::Float16) == f16);
  EXPECT_TRUE(f16.astype(DType::Float64).astype(DType::Float16) == f16);
  EXPECT_TRUE(f16.astype(DType::Float64).astype(DType::Float32) == f16.astype(DType::Float32));

  const Tensor bf16 = tensor_of(DType::BFloat16, all_non_nan(kBf16));
  EXPECT_TRUE(bf16.astype(DType::Float32).astype(DType::BFloat16) == bf16);
  EXPECT_TRUE(bf16.astype(DType::Float64).astype(DType::BFloat16) == bf16);

  std::vector<float> v = random_floats(4097, 12);
  for (float& x : v)
    if (std::isnan(x)) x = -3.0f;
  const Tensor f32 = Tensor::from_floats({4097}, v);
  const Tensor f64 = f32.astype(DType::Float64);
  ASSERT_EQ(f64.nbytes(), v.size() * 8);
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(f64.as<double>()[i], static_cast<double>(v[i]));
  EXPECT_TRUE(f64.astype(DType::Float32) == f32);
}

TEST(HalfAstype, CrossesBetweenHalfAndBfloat16ThroughFloat32) {
  const Tensor f16 = tensor_of(DType::Float16, all_non_nan(kHalf));
  const Tensor bf = f16.astype(DType::BFloat16);
  ASSERT_EQ(bf.dtype, DType::BFloat16);
  for (size_t i = 0; i < static_cast<size_t>(f16.numel()); ++i)
    ASSERT_EQ(bf.as<uint16_t>()[i], mixprec::float_to_bfloat16(mixprec::half_to_float(f16.as<uint16_t>()[i])));
}

TEST(HalfAstype, Float64NarrowsThroughFloat32) {
  // 1 + 2^-11 + 2^-40 is just above a float16 tie; via float32 it becomes the tie itself and
  // rounds to even (1.0). This documents the double rounding that tensor.h accepts.
  const double x = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  Tensor t;
  t.dtype = DType::Float64;
  t.shape = {1};
  t.data.resize(8);
  std::memcpy(t.data.data(), &x, 8);
  EXPECT_EQ(t.astype(DType::Float16).as<uint16_t>()[0], 0x3c00);
  EXPECT_EQ(t.astype(DType::Float32).as<float>()[0], static_cast<float>(x));
}

TEST(HalfAstype, NonFloatConversionsThrowAndIdentityCopies) {
  Tensor i32;
  i32.dtype = DType::Int32;
  i32.shape = {2};
  i32.data.assign(8, 1);
  EXPECT_TRUE(i32.astype(DType::Int32) == i32);
  EXPECT_THROW(i32.astype(DType::Float32), mixprec::Error);
  EXPECT_THROW(Tensor::from_floats({1}, {1.0f}).astype(DType::Int8), mixprec::Error);
}

// The engine's in-place rounding equals narrowing and widening back, value for value, in the
// vector body and the tail: random floats, exact ties, the overflow boundary, infinities and NaNs.
TEST(HalfBulk, InPlaceRoundingMatchesTheRoundTrip) {
  std::vector<float> src = random_floats(1100, 11);
  std::mt19937 rng(12);
  for (size_t i = 0; i < src.size(); i += 5) {
    const auto h = static_cast<uint16_t>(rng() % 0x7bff);
    src[i] = static_cast<float>((value_of(kHalf, h) + value_of(kHalf, static_cast<uint16_t>(h + 1))) / 2);
  }
  const float specials[] = {65504.0f, 65519.99f, 65520.0f, -65520.0f, 3.3961e38f, 3.4e38f, INFINITY, -INFINITY, NAN, -NAN, 0.0f, -0.0f, 1e-45f};
  for (size_t i = 0; i < std::size(specials); ++i) src[3 + i * 7] = specials[i];
  for (size_t n : kOddLengths) {
    std::vector<float> h(src.begin(), src.begin() + static_cast<std::ptrdiff_t>(n) + 1), b = h;
    mixprec::round_floats_to_halves(h.data(), n);
    mixprec::round_floats_to_bfloat16s(b.data(), n);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(bits(h[i]), bits(mixprec::half_to_float(mixprec::float_to_half(src[i])))) << "n=" << n << " i=" << i;
      ASSERT_EQ(bits(b[i]), bits(mixprec::bfloat16_to_float(mixprec::float_to_bfloat16(src[i])))) << "n=" << n << " i=" << i;
    }
    EXPECT_EQ(bits(h[n]), bits(src[n])) << "wrote past the end, n=" << n;
    EXPECT_EQ(bits(b[n]), bits(src[n])) << "wrote past the end, n=" << n;
  }
}
