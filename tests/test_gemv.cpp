// Batch-1 linear layers with float32 / float16 / bfloat16 weights against a double reference.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "mixprec/half.h"
#include "runtime/gemv.h"
#include "sanitizer_util.h"

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
    // References: the same weights as each kernel sees them, summed in double.
    double e32 = with_bias ? b[static_cast<size_t>(r)] : 0, e16 = e32, eb = e32;
    for (int64_t c = 0; c < cols; ++c) {
      const size_t i = static_cast<size_t>(r * cols + c);
      e32 += static_cast<double>(w[i]) * x[static_cast<size_t>(c)];
      e16 += static_cast<double>(half_to_float(wh[i])) * x[static_cast<size_t>(c)];
      eb += static_cast<double>(bfloat16_to_float(wb[i])) * x[static_cast<size_t>(c)];
    }
    const double tol = 1e-5 * static_cast<double>(cols);
    EXPECT_NEAR(y32[static_cast<size_t>(r)], e32, tol) << rows << "x" << cols << " row " << r;
    EXPECT_NEAR(y16[static_cast<size_t>(r)], e16, tol) << rows << "x" << cols << " row " << r;
    EXPECT_NEAR(yb[static_cast<size_t>(r)], eb, tol) << rows << "x" << cols << " row " << r;
  }
}

TEST(Gemv, MatchesDoubleReferenceOnOddSizes) {
  for (int64_t cols : {1, 7, 8, 31, 32, 33, 100, 257})
    for (int64_t rows : {1, 3, 17}) check(rows, cols, cols % 2 == 1);
}

TEST(Gemv, FmaPeakIsMeasurable) {
  // Only a sanity bound: a machine with AVX2 does far more than 1 GFLOP/s; without it we report 0.
  // Under ASan + UBSan at -O0 (scripts/sanitize.sh) the intrinsics are not inlined: ~0.3 GFLOP/s.
  const double bound = mixprec::testing::kUnderSanitizer ? 0.01 : 1.0;
  const double p = runtime::measure_fma_peak_gflops(1);
  EXPECT_TRUE(p == 0 || p > bound) << p;
}

}  // namespace
