#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

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
    const InputSpecs specs = parse_input_specs(a->inputs, a->shapes);
    OpenedModel m = open_model(*a, specs);
    runtime::Session& s = m.session;
    const auto inputs = make_inputs(s, specs);
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<runtime::Buf> out = s.run(inputs);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const auto dtypes = s.output_dtypes();
    nlohmann::json j;
    j["symbol"] = m.files.symbol;
    j["params"] = m.files.params;
    j["time_ms"] = ms;
    j["numerics"] = numerics_mode(s);
    j["outputs"] = nlohmann::json::array();
    for (size_t k = 0; k < out.size(); ++k) {
      const runtime::Buf& b = out[k];
      size_t arg = 0, nonfinite = 0;
      for (size_t i = 0; i < b.v.size(); ++i) {
        if (!std::isfinite(b.v[i])) ++nonfinite;
        if (b.v[i] > b.v[arg]) arg = i;
      }
      std::vector<float> first(b.v.begin(), b.v.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(b.v.size(), 8)));
      const std::string saved = a->save.empty() ? "" : a->save + "_" + std::to_string(k) + ".npy";
      if (!saved.empty()) numpy::save_npy(buf_to_tensor(b), saved);
      nlohmann::json o_json = {{"shape", b.shape}, {"dtype", dtype_name(dtypes[k])}, {"argmax", arg}, {"nonfinite", nonfinite}};
      // JSON has no inf or NaN: such values are written as strings.
      for (float x : first) o_json["first_values"].push_back(std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(std::to_string(x)));
      if (!saved.empty()) o_json["saved"] = saved;
      j["outputs"].push_back(o_json);
      if (a->json) continue;
      std::cout << "output " << k << ": shape " << attrs::format_tuple(b.shape) << " dtype " << dtype_name(dtypes[k]) << " argmax "
                << arg << " (" << (b.v.empty() ? 0.0f : b.v[arg]) << ")";
      if (nonfinite) std::cout << " inf/nan " << nonfinite;
      std::cout << "\n  first values:";
      for (float x : first) std::cout << " " << x;
      std::cout << "\n";
    }
    if (a->json) {
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "numerics: " << numerics_mode(s) << "\n" << "time: " << ms << " ms\n";
    }
    return 0;
  };
}

}  // namespace mixprec::cli
