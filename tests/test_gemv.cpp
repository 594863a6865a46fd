// Batch-1 linear layers with float32 / float16 / bfloat16 weights against a double reference.
#include <gtest/gtest.h>

#include <cmath>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <vector>

#include "mixprec/half.h"
#include "runtime/gemv.h"

using namespace mixprec;

namespace {

void check(int64_t rows, int64_t cols, bool with_bias) {
  std::vector<float> w(static_cast<size_t>(rows * cols)), x(static_cast<size_t>(cols)), b(static_cast<size_t>(rows));
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.7f * static_cast<float>(i) + 0.3f);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.11f * static_cast<float>(i));
  for (size_t i = 0; i < b.size(); ++i) b[i] = 0.5f - 0.01f * static_cast<float>(i);
  std::vector<uint16_t> wh(w.size()), wb(w.size());
  floats_to_halves(w.data(), wh.data(), w.size());
  floats_to_bfloat16s(w.data(), wb.data(), w.size());
  std::vector<float> y32(static_cast<size_t>(rows)), y16(y32.size()), yb(y32.size());
  const float* bias = with_bias ? b.data() : nullptr;
  runtime::gemv_f32(w.data(), x.data(), bias, y32.data(), rows, cols);
  runtime::gemv_f16(wh.data(), x.data(), bias, y16.data(), rows, cols);
  runtime::gemv_bf16(wb.data(), x.data(), bias, yb.data(), rows, cols);
  for (int64_t r = 0; r < rows; ++r) {
    // References: the same weights as each kernel sees them, summed in double, and the sum of the
    // terms' magnitudes S. A float32 sum of cols + 1 terms in any order (vector lanes, FMA) is within
    // gamma_{cols+1} S of the exact one (Higham Thm 3.1; gamma_k = k u / (1 - k u), u = 2^-24); the
    // 16-bit weights are widened exactly, so the same bound holds for every kernel.
    double e32 = with_bias ? b[static_cast<size_t>(r)] : 0, e16 = e32, eb = e32, S = std::fabs(e32);
    for (int64_t c = 0; c < cols; ++c) {
      const size_t i = static_cast<size_t>(r * cols + c);
      e32 += static_cast<double>(w[i]) * x[static_cast<size_t>(c)];
      e16 += static_cast<double>(half_to_float(wh[i])) * x[static_cast<size_t>(c)];
      eb += static_cast<double>(bfloat16_to_float(wb[i])) * x[static_cast<size_t>(c)];
      S += std::fabs(static_cast<double>(w[i]) * x[static_cast<size_t>(c)]);
    }
    const double k = static_cast<double>(cols + 1), u = std::ldexp(1.0, -24);
    const double tol = k * u / (1 - k * u) * S * (1 + std::ldexp(1.0, -8));  // 16-bit weights: |w16| <= (1 + 2^-8) |w|
    EXPECT_NEAR(y32[static_cast<size_t>(r)], e32, tol) << rows << "x" << cols << " row " << r;
    EXPECT_NEAR(y16[static_cast<size_t>(r)], e16, tol) << rows << "x" << cols << " row " << r;
    EXPECT_NEAR(yb[static_cast<size_t>(r)], eb, tol) << rows << "x" << cols << " row " << r;
  }
}

TEST(Gemv, MatchesDoubleReferenceOnOddSizes) {
  for (int64_t cols : {1, 7, 8, 31, 32, 33, 100, 257})
    for (int64_t rows : {1, 3, 17}) check(rows, cols, cols % 2 == 1);
}

// The vector path is taken exactly where the CPU has it: measure_fma_peak_gflops runs its AVX2/FMA
// loop (and the gemv kernels their AVX2 code) when the CPU reports AVX2, FMA and F16C, and reports
// 0 only where it does not. The CPU is asked here through cpuid, independently of the library's
// detection, so a detection that always said "no" (every machine on the scalar path) fails here.
// The lower bound only rules out a loop that did not run (0.01 GFLOP/s is ~1000x below a scalar
// core even under ASan at -O0); the peak itself is a benchmark figure: bench_engine prints it.
bool cpu_has_avx2_fma_f16c() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool fma = c & (1u << 12), f16c = c & (1u << 29), osxsave = c & (1u << 27), avx = c & (1u << 28);
  if (!osxsave || !avx) return false;
  unsigned lo = 0, hi = 0;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 6u) != 6u) return false;  // the OS saves the AVX registers
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool avx2 = b & (1u << 5);
  return avx2 && fma && f16c;
#else
  return false;
#endif
}

TEST(Gemv, FmaPeakIsMeasuredExactlyWhereTheCpuHasAvx2) {
  const double p = runtime::measure_fma_peak_gflops(1);
  if (cpu_has_avx2_fma_f16c()) {
    EXPECT_GT(p, 0.01) << "the CPU has AVX2, FMA and F16C, but the vector path did not run";
  } else {
    EXPECT_EQ(p, 0.0) << "no AVX2/FMA/F16C on this CPU, yet a vector loop was timed";
  }
}

}  // namespace
