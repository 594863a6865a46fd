#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>

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
  c->add_option("--runs", a->runs, "Timed runs (default 20)");
  c->add_option("--warmup", a->warmup, "Untimed runs first (default 2)");
  return [a] {
    InputSpecs in;
    runtime::Session s = open_session(*a, in);
    const auto inputs = make_inputs(s, in);
    for (int i = 0; i < a->warmup; ++i) s.run(inputs);
    std::vector<double> ms;
    for (int i = 0; i < std::max(1, a->runs); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      s.run(inputs);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    const double median = ms[ms.size() / 2], p90 = ms[std::min(ms.size() - 1, ms.size() * 9 / 10)];
    int64_t batch = 1;
    if (!s.input_names().empty() && !s.input_shape(s.input_names()[0]).empty()) batch = s.input_shape(s.input_names()[0])[0];
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::cout << "latency: median " << median << " ms, p90 " << p90 << " ms over " << ms.size() << " runs\n"
              << "throughput: " << 1000.0 * static_cast<double>(batch) / median << " samples/s (batch " << batch << ")\n"
              << "peak memory: " << static_cast<double>(ru.ru_maxrss) / 1024.0 << " MB\n";
    return 0;
  };
}

}  // namespace mixprec::cli
