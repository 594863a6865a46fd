#include "runtime/gemv.h"

#include <omp.h>

#include <chrono>
#include <cstring>

#include "mixprec/half.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define MIXPREC_X86 1
#endif

namespace mixprec::runtime {
namespace {

#if MIXPREC_X86
bool have_avx2() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
  return ok;
}

__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// Widening loaders: 8 weights to 8 floats.
struct LoadF32 {
  using T = float;
  __attribute__((target("avx2,fma"))) static __m256 load(const float* p) { return _mm256_loadu_ps(p); }
  static float scalar(float v) { return v; }
};
struct LoadF16 {
  using T = uint16_t;
  __attribute__((target("avx2,fma,f16c"))) static __m256 load(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static float scalar(uint16_t v) { return half_to_float(v); }
};
struct LoadBF16 {
  using T = uint16_t;
  __attribute__((target("avx2,fma"))) static __m256 load(const uint16_t* p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
  static float scalar(uint16_t v) { return bfloat16_to_float(v); }
};

// Four independent accumulators hide the FMA latency; the tail is scalar.
template <typename L>
__attribute__((target("avx2,fma,f16c"))) void gemv_avx2(const typename L::T* w, const float* x, const float* bias, float* y,
                                                         int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const typename L::T* row = w + r * cols;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int64_t c = 0;
    for (; c + 32 <= cols; c += 32) {
      a0 = _mm256_fmadd_ps(L::load(row + c), _mm256_loadu_ps(x + c), a0);
      a1 = _mm256_fmadd_ps(L::load(row + c + 8), _mm256_loadu_ps(x + c + 8), a1);
      a2 = _mm256_fmadd_ps(L::load(row + c + 16), _mm256_loadu_ps(x + c + 16), a2);
      a3 = _mm256_fmadd_ps(L::load(row + c + 24), _mm256_loadu_ps(x + c + 24), a3);
    }
    for (; c + 8 <= cols; c += 8) a0 = _mm256_fmadd_ps(L::load(row + c), _mm256_loadu_ps(x + c), a0);
    float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; c < cols; ++c) s += L::scalar(row[c]) * x[c];
    y[r] = s + (bias ? bias[r] : 0.0f);
  }
}
#endif

template <typename T, typename Widen>
void gemv_scalar(const T* w, const float* x, const float* bias, float* y, int64_t rows, int64_t cols, Widen widen) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    float s = 0;
    for (int64_t c = 0; c < cols; ++c) s += widen(w[r * cols + c]) * x[c];
    y[r] = s + (bias ? bias[r] : 0.0f);
  }
}

}  // namespace

void gemv_f32(const float* w, const float* x, const float* bias, float* y, int64_t rows, int64_t cols) {
#if MIXPREC_X86
  if (have_avx2()) return gemv_avx2<LoadF32>(w, x, bias, y, rows, cols);
#endif
  gemv_scalar(w, x, bias, y, rows, cols, [](float v) { return v; });
}

void gemv_f16(const uint16_t* w, const float* x, const float* bias, float* y, int64_t rows, int64_t cols) {
#if MIXPREC_X86
  if (have_avx2()) return gemv_avx2<LoadF16>(w, x, bias, y, rows, cols);
#endif
  gemv_scalar(w, x, bias, y, rows, cols, half_to_float);
}

void gemv_bf16(const uint16_t* w, const float* x, const float* bias, float* y, int64_t rows, int64_t cols) {
#if MIXPREC_X86
  if (have_avx2()) return gemv_avx2<LoadBF16>(w, x, bias, y, rows, cols);
#endif
  gemv_scalar(w, x, bias, y, rows, cols, bfloat16_to_float);
}

#if MIXPREC_X86
__attribute__((target("avx2,fma"))) static double fma_loop(int64_t iters) {
  // 10 independent chains of 8-wide FMAs: enough to cover latency x throughput on current cores.
  __m256 a[10];
  for (int k = 0; k < 10; ++k) a[k] = _mm256_set1_ps(static_cast<float>(k) * 1e-3f);
  const __m256 m = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; ++i)
    for (int k = 0; k < 10; ++k) a[k] = _mm256_fmadd_ps(a[k], m, b);
  __m256 s = a[0];
  for (int k = 1; k < 10; ++k) s = _mm256_add_ps(s, a[k]);
  return static_cast<double>(hsum(s));
}
#endif

double measure_fma_peak_gflops(int threads) {
#if MIXPREC_X86
  if (!have_avx2()) return 0;
  const int64_t iters = 20'000'000;
  double sink = 0;
  const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel for num_threads(threads) reduction(+ : sink) schedule(static, 1)
  for (int t = 0; t < threads; ++t) sink += fma_loop(iters);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  volatile double keep = sink;
  (void)keep;
  return 2.0 * 8 * 10 * static_cast<double>(iters) * threads / s / 1e9;
#else
  (void)threads;
  return 0;
#endif
}

}  // namespace mixprec::runtime
