// Fuzzes the symbol JSON reader, and on every graph it accepts: verification, the writer (the
// written text must read back to the same graph), the input listing and AMP conversion.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "mixprec/amp.h"
#include "mixprec/mxnet.h"

using namespace mixprec;

namespace {

const std::string kSource = "fuzz-symbol.json";

void exercise(const Graph& g, size_t size) {
  fuzz::guard("verify", [&] {
    try {
      g.verify(kSource);
    } catch (const Error& e) {
      fuzz::finding(std::string("a graph the reader accepted fails verify: ") + e.what());
    }
  });
  std::string text;
  fuzz::guard("write", [&] {
    try {
      text = mxnet::write_symbol_json(g);
    } catch (const Error& e) {
      fuzz::finding(std::string("a graph the reader accepted cannot be written: ") + e.what());
    }
  });
  fuzz::guard("re-read", [&] {
    try {
      const Graph again = mxnet::parse_symbol_json(text, "rewritten.json");
      fuzz::check(mxnet::write_symbol_json(again) == text, "writing, reading and writing again changes the text");
    } catch (const Error& e) {
      fuzz::finding(std::string("the writer's output does not read back: ") + e.what() + "\n" + text);
    }
  });
  fuzz::guard("list inputs", [&] {
    (void)mxnet::list_arguments(g);
    (void)mxnet::list_auxiliary_states(g);
  });

  // One conversion per input, the options picked from the input size so that every variant runs.
  amp::AmpOptions o;
  o.target_dtype = size % 2 ? DType::BFloat16 : DType::Float16;
  o.compat = size % 4 >= 2 ? amp::Compat::MXNet1 : amp::Compat::MXNet2;
  if (size % 8 >= 4) o.excluded_sym_names = {g.nodes.empty() ? "x" : g.nodes.back().name};
  fuzz::guard("convert", [&] {
    try {
      amp::AmpResult r = amp::convert_symbol(g, o);
      r.graph.verify("converted");
      (void)mxnet::write_symbol_json(r.graph);
      (void)amp::count_casts(r.graph, o.target_dtype);
      const Graph plain = amp::remove_amp_casts(r.graph);
      plain.verify("uncast");
    } catch (const Error&) {
      // A graph the converter refuses (malformed cast nodes, ...) is fine.
    }
  });
  // With parameters: every variable but the first (the data input) gets a small float32 tensor.
  fuzz::guard("convert_model", [&] {
    TensorMap arg, aux;
    bool first = true;
    for (const Node& n : g.nodes)
      if (n.is_variable()) {
        if (!first) arg[n.name] = Tensor::from_floats({2}, {1.0f, size % 3 ? -70000.0f : 0.5f});
        first = false;
      }
    o.cast_params_offline = size % 16 >= 8;
    try {
      amp::AmpResult r = amp::convert_model(g, std::move(arg), std::move(aux), o);
      r.graph.verify("converted");
      (void)mxnet::write_params(mxnet::make_checkpoint(r.arg_params, r.aux_params));
    } catch (const Error&) {
    }
  });
  fuzz::guard("remove_amp_casts", [&] {
    try {
      amp::remove_amp_casts(g).verify("uncast");
    } catch (const Error&) {
    }
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Graph g;
  try {
    fuzz::guard("parse", [&] { g = mxnet::parse_symbol_json(text, kSource); });
  } catch (const Error& e) {
    fuzz::check_error(e, kSource);
    return 0;
  }
  exercise(g, size);
  return 0;
}
