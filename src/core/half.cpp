#include "mixprec/half.h"

#include <bit>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define MIXPREC_X86 1
#endif

namespace mixprec {

// IEEE binary32 -> binary16 with round-to-nearest-even, done in integer arithmetic so that the
// result does not depend on the FPU's rounding mode.
uint16_t float_to_half(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or NaN: keep NaN quiet and non-zero
    if (abs == 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u);
    return static_cast<uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
  }
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {  // below the smallest normal half (2^-14): subnormal or zero
    if (abs < 0x33000000u) return sign;  // below half the smallest subnormal (2^-25): +-0
    const uint32_t exp = abs >> 23;
    const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - exp;  // 14 + (127 - exp) - 1 ... aligns to 2^-24 units
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1u);
    if (rem > halfway || (rem == halfway && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  // Normal: rebias exponent (127 -> 15) and round the 13 dropped mantissa bits.
  uint32_t h = ((abs - 0x38000000u) >> 13);
  const uint32_t rem = abs & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // may carry into the exponent: correct
  return static_cast<uint16_t>(sign | h);
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0u);  // NaN widens quiet, as F16C does
  } else if (exp != 0) {
    bits = sign | ((exp + 112u) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    uint32_t e = 113;
    while (!(mant & 0x400u)) {
      mant <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mant & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

uint16_t float_to_bfloat16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  const uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);  // ties to even; overflow carries to inf
  return static_cast<uint16_t>((x + rounding) >> 16);
}

float bfloat16_to_float(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

#if MIXPREC_X86
// F16C converts 8 values per instruction with the same IEEE rounding as float_to_half.
__attribute__((target("f16c,avx"))) static void f32_to_f16_f16c(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(src + i);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) dst[i] = float_to_half(src[i]);
}
__attribute__((target("f16c,avx"))) static void f16_to_f32_f16c(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(v));
  }
  for (; i < n; ++i) dst[i] = half_to_float(src[i]);
}
// Read from CPUID directly: clang 14's __builtin_cpu_supports does not know "f16c".
static bool detect_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  const bool avx = (ecx & bit_AVX) != 0, f16c = (ecx & bit_F16C) != 0, osxsave = (ecx & bit_OSXSAVE) != 0;
  if (!avx || !f16c || !osxsave) return false;
  // The OS must save the YMM registers (XCR0 bits 1 and 2).
  unsigned lo = 0, hi = 0;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (lo & 0x6u) == 0x6u;
}
static bool have_f16c() {
  static const bool ok = detect_f16c();
  return ok;
}
bool cpu_has_f16c() { return have_f16c(); }
#endif

void floats_to_halves(const float* src, uint16_t* dst, size_t n) {
#if MIXPREC_X86
  if (have_f16c()) return f32_to_f16_f16c(src, dst, n);
#endif
  for (size_t i = 0; i < n; ++i) dst[i] = float_to_half(src[i]);
}

void halves_to_floats(const uint16_t* src, float* dst, size_t n) {
#if MIXPREC_X86
  if (have_f16c()) return f16_to_f32_f16c(src, dst, n);
#endif
  for (size_t i = 0; i < n; ++i) dst[i] = half_to_float(src[i]);
}

#if MIXPREC_X86
// bfloat16 has no conversion instructions before AVX-512 BF16: the scalar rule, 8 lanes at a time.
__attribute__((target("avx2"))) static __m256i bf16_round_bits(__m256i x) {
  const __m256i abs = _mm256_and_si256(x, _mm256_set1_epi32(0x7fffffff));
  const __m256i nan = _mm256_cmpgt_epi32(abs, _mm256_set1_epi32(0x7f800000));
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(x, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
  const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(0x40));
  return _mm256_blendv_epi8(rounded, quiet, nan);  // 16-bit results in the low halves of 32-bit lanes
}

__attribute__((target("avx2"))) static void f32_to_bf16_avx2(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i a = bf16_round_bits(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
    const __m256i b = bf16_round_bits(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 8)));
    // packus works per 128-bit lane: restore the order with a 64-bit permute.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), packed);
  }
  for (; i < n; ++i) dst[i] = float_to_bfloat16(src[i]);
}

__attribute__((target("avx2"))) static void bf16_to_f32_avx2(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_slli_epi32(w, 16));
  }
  for (; i < n; ++i) dst[i] = bfloat16_to_float(src[i]);
}

__attribute__((target("avx2"))) static void round_bf16_avx2(float* v, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i r = bf16_round_bits(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + i)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(v + i), _mm256_slli_epi32(r, 16));
  }
  for (; i < n; ++i) v[i] = bfloat16_to_float(float_to_bfloat16(v[i]));
}

__attribute__((target("f16c,avx"))) static void round_f16_f16c(float* v, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(v + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(v + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
  for (; i < n; ++i) v[i] = half_to_float(float_to_half(v[i]));
}

static bool have_avx2() {
  static const bool ok = __builtin_cpu_supports("avx2");
  return ok;
}
#endif

void floats_to_bfloat16s(const float* src, uint16_t* dst, size_t n) {
#if MIXPREC_X86
  if (have_avx2()) return f32_to_bf16_avx2(src, dst, n);
#endif
  for (size_t i = 0; i < n; ++i) dst[i] = float_to_bfloat16(src[i]);
}

void bfloat16s_to_floats(const uint16_t* src, float* dst, size_t n) {
#if MIXPREC_X86
  if (have_avx2()) return bf16_to_f32_avx2(src, dst, n);
#endif
  for (size_t i = 0; i < n; ++i) dst[i] = bfloat16_to_float(src[i]);
}

void round_floats_to_halves(float* v, size_t n) {
#if MIXPREC_X86
  if (have_f16c()) return round_f16_f16c(v, n);
#endif
  for (size_t i = 0; i < n; ++i) v[i] = half_to_float(float_to_half(v[i]));
}

void round_floats_to_bfloat16s(float* v, size_t n) {
#if MIXPREC_X86
  if (have_avx2()) return round_bf16_avx2(v, n);
#endif
  for (size_t i = 0; i < n; ++i) v[i] = bfloat16_to_float(float_to_bfloat16(v[i]));
}

#if !MIXPREC_X86
bool cpu_has_f16c() { return false; }
#endif

}  // namespace mixprec
