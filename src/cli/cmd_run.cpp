#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/model_inputs.h"
#include "mixprec/attrs.h"
#include "mixprec/numpy.h"

namespace mixprec::cli {

Action add_run(CLI::App& app) {
  struct Args : ModelArgs {
    std::string save;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("run", "Run a model (FP32 or mixed precision) on the CPU with faithful fp16/bf16 numerics");
  add_model_options(c, *a);
  c->add_option("--save", a->save, "Write output k to SAVE_k.npy");
  return [a] {
    InputSpecs in;
    runtime::Session s = open_session(*a, in);
    const auto inputs = make_inputs(s, in);
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<runtime::Buf> out = s.run(inputs);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const auto dtypes = s.output_dtypes();
    for (size_t k = 0; k < out.size(); ++k) {
      const runtime::Buf& b = out[k];
      std::cout << "output " << k << ": shape " << attrs::format_tuple(b.shape) << " dtype " << dtype_name(dtypes[k]);
      size_t arg = 0, nonfinite = 0;
      for (size_t i = 0; i < b.v.size(); ++i) {
        if (!std::isfinite(b.v[i])) ++nonfinite;
        if (b.v[i] > b.v[arg]) arg = i;
      }
      std::cout << " argmax " << arg << " (" << (b.v.empty() ? 0.0f : b.v[arg]) << ")";
      if (nonfinite) std::cout << " inf/nan " << nonfinite;
      std::cout << "\n  first values:";
      for (size_t i = 0; i < std::min<size_t>(b.v.size(), 8); ++i) std::cout << " " << b.v[i];
      std::cout << "\n";
      if (!a->save.empty()) numpy::save_npy(buf_to_tensor(b), a->save + "_" + std::to_string(k) + ".npy");
    }
    std::cout << "time: " << ms << " ms\n";
    return 0;
  };
}

}  // namespace mixprec::cli
