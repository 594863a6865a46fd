// Engine benchmarks (issue "Engine"): the machine's FMA peak, batch-1 linear layers with fp32 /
// fp16 / bf16 weights, and whole networks in FP32 vs their float16 / bfloat16 conversions. Every
// ratio is against a baseline measured in this same run.
//
//   bench_engine [--quick] [--threads N]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <omp.h>

#include "mixprec/amp.h"
#include "mixprec/half.h"
#include "mixprec/zoo.h"
#include "runtime/gemv.h"
#include "runtime/session.h"
#include "validate/metrics.h"

using namespace mixprec;
using Clock = std::chrono::steady_clock;

namespace {

double median_ms(int reps, const std::function<void()>& fn) {
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto a = Clock::now();
    fn();
    t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void bench_gemv(int threads, int reps) {
  const int64_t n = 4096;
  std::printf("\n== FullyConnected 4096 -> 4096, batch 1, %d threads (median of %d) ==\n", threads, reps);
  std::vector<float> w(static_cast<size_t>(n * n)), x(static_cast<size_t>(n)), b(static_cast<size_t>(n)), y(static_cast<size_t>(n));
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(static_cast<float>(i) * 1e-3f) * 0.02f;
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::cos(static_cast<float>(i) * 0.01f);
  std::vector<uint16_t> wh(w.size()), wb(w.size());
  floats_to_halves(w.data(), wh.data(), w.size());
  floats_to_bfloat16s(w.data(), wb.data(), w.size());
  omp_set_num_threads(threads);
  const double f32 = median_ms(reps, [&] { runtime::gemv_f32(w.data(), x.data(), b.data(), y.data(), n, n); });
  const double f16 = median_ms(reps, [&] { runtime::gemv_f16(wh.data(), x.data(), b.data(), y.data(), n, n); });
  const double bf16 = median_ms(reps, [&] { runtime::gemv_bf16(wb.data(), x.data(), b.data(), y.data(), n, n); });
  const double gb = static_cast<double>(n * n) * 4 / 1e9;
  std::printf("%-16s %8.3f ms  %6.1f GB/s of weights  (baseline)\n", "fp32 weights", f32, gb / (f32 / 1e3));
  std::printf("%-16s %8.3f ms  %6.1f GB/s of weights  %.2fx faster than fp32\n", "fp16 weights", f16, gb / 2 / (f16 / 1e3), f32 / f16);
  std::printf("%-16s %8.3f ms  %6.1f GB/s of weights  %.2fx faster than fp32\n", "bf16 weights", bf16, gb / 2 / (bf16 / 1e3), f32 / bf16);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int threads = 2;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = std::atoi(argv[++i]);
  }
  const int reps = quick ? 5 : 21;
  const double peak = runtime::measure_fma_peak_gflops(threads);
  std::printf("== float32 FMA peak, %d threads: %.1f GFLOP/s (measured) ==\n", threads, peak);
  bench_gemv(threads, reps);
  return 0;
}
