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

size_t weight_bytes(const TensorMap& arg, const TensorMap& aux) {
  size_t n = 0;
  for (const auto* m : {&arg, &aux})
    for (const auto& [k, t] : *m) n += t.nbytes();
  return n;
}

// One network: FP32 latency (and % of the FMA peak from `gflop`), then its float16 / bfloat16
// conversions (default lists, params offline): latency ratio, weight memory ratio, output error.
void bench_network(const std::string& name, const zoo::ZooOptions& zo, double gflop, double peak, int threads, int reps) {
  const zoo::ZooModel m = zoo::build_zoo_model(name, zo);
  runtime::SessionOptions o;
  o.threads = threads;
  std::map<std::string, runtime::Buf> in;
  for (const auto& [iname, shape] : m.inputs) {
    o.input_shapes[iname] = shape;
    runtime::Buf b;
    b.shape = shape;
    b.v.resize(static_cast<size_t>(b.numel()));
    for (size_t i = 0; i < b.v.size(); ++i) b.v[i] = iname == "data" && name == "bert_base" ? static_cast<float>(i % 1000) : std::sin(0.01f * static_cast<float>(i));
    if (iname == "token_types") std::fill(b.v.begin(), b.v.end(), 0.0f);
    in[iname] = b;
  }
  runtime::Session ref(m.graph, m.arg_params, m.aux_params, o);
  std::vector<runtime::Buf> ref_out;
  ref.run(in);
  const double f32 = median_ms(reps, [&] { ref_out = ref.run(in); });
  const size_t w32 = weight_bytes(m.arg_params, m.aux_params);
  std::printf("\n== %s, batch 1, %d threads (median of %d) ==\n", name.c_str(), threads, reps);
  std::printf("%-9s %9.1f ms", "float32", f32);
  if (gflop > 0) std::printf("  %.1f GFLOP/s = %.0f%% of the measured FMA peak", gflop / (f32 / 1e3), 100 * gflop / (f32 / 1e3) / peak);
  std::printf("  (baseline; %zu nodes fused into convolutions)\n", ref.fused_nodes());
  for (DType t : {DType::Float16, DType::BFloat16}) {
    amp::AmpOptions a;
    a.target_dtype = t;
    a.cast_params_offline = true;
    amp::AmpResult r = amp::convert_model(m.graph, m.arg_params, m.aux_params, a);
    const size_t w = weight_bytes(r.arg_params, r.aux_params);
    runtime::Session s(std::move(r.graph), r.arg_params, r.aux_params, o);
    std::vector<runtime::Buf> out;
    s.run(in);
    const double ms = median_ms(reps, [&] { out = s.run(in); });
    const validate::OutputMetrics e = validate::compare(ref_out[0], out[0]);
    std::printf("%-9s %9.1f ms  %.2fx fp32 latency  weights %.2fx fp32 stored, %.2fx in memory  NMSE %.2e  cosine %.6f  inf/NaN %lld\n",
                std::string(dtype_name(t)).c_str(), ms, ms / f32, static_cast<double>(w) / static_cast<double>(w32),
                static_cast<double>(s.weight_bytes()) / static_cast<double>(ref.weight_bytes()), e.nmse, e.cosine,
                static_cast<long long>(e.cand_nonfinite));
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int threads = 2;
  std::string only;  // --only resnet50_v1 | bert_base | gemv
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = std::atoi(argv[++i]);
    if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
  }
  const int reps = quick ? 5 : 21;
  const double peak = runtime::measure_fma_peak_gflops(threads);
  std::printf("== float32 FMA peak, %d threads: %.1f GFLOP/s (measured) ==\n", threads, peak);
  auto want = [&](const char* part) { return only.empty() || only == part; };
  if (want("gemv")) bench_gemv(threads, reps);
  // ResNet-50 v1 at 224x224: 4.09 GMACs = 8.18 GFLOP (conv + FC, the published Gluon figure).
  if (want("resnet50_v1")) bench_network("resnet50_v1", zoo::ZooOptions{}, 8.18, peak, threads, quick ? 3 : 7);
  zoo::ZooOptions bert;
  bert.seq_len = 128;
  if (want("bert_base")) bench_network("bert_base", bert, 0, peak, threads, quick ? 3 : 5);
  return 0;
}
