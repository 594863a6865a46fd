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
  struct Args {
    std::string symbol, params, save;
    std::vector<std::string> inputs, shapes;
    int threads = 0;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("run", "Run a model (FP32 or mixed precision) on the CPU with faithful fp16/bf16 numerics");
  c->add_option("--symbol", a->symbol, "NAME-symbol.json")->required();
  c->add_option("--params", a->params, "NAME-0000.params")->required();
  c->add_option("--input", a->inputs, "NAME=file.npy or NAME=random:SEED (repeatable; default random:0)");
  c->add_option("--shape", a->shapes, "NAME=d0,d1,... for inputs without a .npy file or __shape__ (repeatable)");
  c->add_option("--threads", a->threads, "Threads (default: all cores)");
  c->add_option("--save", a->save, "Write output k to SAVE_k.npy");
  return [a] {
    LoadedModel m = load_model(a->symbol, a->params);
    const InputSpecs in = parse_inputs(a->inputs);
    runtime::SessionOptions o;
    o.threads = a->threads;
    o.input_shapes = parse_shapes(a->shapes);
    add_file_shapes(in, o.input_shapes);
    runtime::Session s(std::move(m.graph), m.arg, m.aux, o);
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
