#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>

#include "cli/commands.h"
#include "cli/model_inputs.h"

namespace mixprec::cli {

Action add_bench(CLI::App& app) {
  struct Args : ModelArgs {
    int runs = 20, warmup = 2;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("bench", "Time a model on the CPU: latency (median, p90), throughput, peak memory");
  add_model_options(c, *a);
  c->add_option("--runs", a->runs, "Timed runs (default 20)")->check(CLI::PositiveNumber);
  c->add_option("--warmup", a->warmup, "Untimed runs first (default 2)")->check(CLI::NonNegativeNumber);
  return [a] {
    const InputSpecs specs = parse_input_specs(a->inputs, a->shapes);
    OpenedModel m = open_model(*a, specs);
    runtime::Session& s = m.session;
    const auto inputs = make_inputs(s, specs);
    Progress progress(a->progress, "bench");
    const int total = a->warmup + a->runs;
    std::vector<double> ms;
    for (int i = 0; i < total; ++i) {
      progress.count(static_cast<size_t>(i), static_cast<size_t>(total), "runs");
      const auto t0 = std::chrono::steady_clock::now();
      s.run(inputs);
      if (i >= a->warmup) ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    progress.finish();
    std::sort(ms.begin(), ms.end());
    const double n = static_cast<double>(ms.size());
    const double median = ms.size() % 2 ? ms[ms.size() / 2] : (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]) / 2;
    const double mean = std::accumulate(ms.begin(), ms.end(), 0.0) / n;
    double var = 0;
    for (double x : ms) var += (x - mean) * (x - mean);
    const double stddev = ms.size() > 1 ? std::sqrt(var / (n - 1)) : 0.0;
    const double p90 = ms[std::min(ms.size() - 1, static_cast<size_t>(std::ceil(0.9 * n)) - 1)];  // nearest rank
    int64_t batch = 1;
    if (!s.input_names().empty() && !s.input_shape(s.input_names()[0]).empty()) batch = s.input_shape(s.input_names()[0])[0];
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const double rss_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
    const std::string numerics = numerics_mode(s);
    const char* note = "latencies are CPU latencies of this engine, which emulates 16-bit storage; they are not GPU latencies";
    if (a->json) {
      nlohmann::json j = {{"symbol", m.files.symbol}, {"params", m.files.params}, {"runs", ms.size()},     {"warmup", a->warmup},
                          {"threads", a->threads},   {"batch", batch},           {"median_ms", median}, {"mean_ms", mean},
                          {"min_ms", ms.front()},     {"p90_ms", p90},            {"stddev_ms", stddev},
                          {"throughput_per_s", 1000.0 * static_cast<double>(batch) / median},
                          {"peak_rss_mib", rss_mib},   {"numerics", numerics},     {"note", note}};
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    std::cout << "latency: median " << median << " ms, mean " << mean << " ms, min " << ms.front() << " ms, p90 " << p90
              << " ms, stddev " << stddev << " ms over " << ms.size() << " runs\n"
              << "throughput: " << 1000.0 * static_cast<double>(batch) / median << " samples/s (batch " << batch << ")\n"
              << "peak memory: " << rss_mib << " MiB\n"
              << "numerics: " << numerics << "\n"
              << "note: " << note << "\n";
    return 0;
  };
}

}  // namespace mixprec::cli
