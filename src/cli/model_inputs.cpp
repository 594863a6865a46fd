#include "cli/model_inputs.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "cli/option_values.h"
#include "cli/usage_error.h"
#include "core/nearest_names.h"
#include "mixprec/attrs.h"
#include "mixprec/error.h"
#include "mixprec/numpy.h"

namespace mixprec::cli {

void add_model_options(CLI::App* c, ModelArgs& a) {
  c->add_option("--symbol", a.symbol, "NAME-symbol.json (with --params)");
  c->add_option("--params", a.params, "NAME-NNNN.params (with --symbol)");
  c->add_option("--prefix", a.prefix, "PREFIX: reads PREFIX-symbol.json and PREFIX-NNNN.params (instead of --symbol/--params)");
  c->add_option("--epoch", a.epoch, "With --prefix: the params file's epoch number (default: the only one present)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--input", a.inputs,
                "NAME=file.npy, NAME=random:SEED, or file.npz (each member feeds the input of its name); repeatable; "
                "default random:0");
  c->add_option("--shape", a.shapes, "NAME=1,3,224,224 (or 1x3x224x224) for inputs without a file or __shape__ (repeatable)");
  c->add_option("--threads", a.threads, "Threads (default: all cores)")->check(CLI::NonNegativeNumber);
  c->add_flag("--json", a.json, "Print the report as JSON");
  add_progress_options(c, a.progress);
}

ModelFiles model_files(const ModelArgs& a) {
  const bool files = !a.symbol.empty() || !a.params.empty();
  if (files && !a.prefix.empty()) throw UsageError("--prefix", "give either --prefix or --symbol with --params, not both");
  if (!a.prefix.empty()) return resolve_prefix(a.prefix, a.epoch);
  if (a.symbol.empty() || a.params.empty())
    throw UsageError(a.symbol.empty() ? "--symbol" : "--params", "a model needs --symbol and --params, or --prefix");
  if (a.epoch) throw UsageError("--epoch", "only applies with --prefix");
  return {a.symbol, a.params};
}

std::set<std::string> InputSpecs::named() const {
  std::set<std::string> n;
  for (const auto& [name, v] : values) n.insert(name);
  for (const auto& [name, s] : seeds) n.insert(name);
  for (const auto& [name, s] : shapes) n.insert(name);
  return n;
}

runtime::Buf tensor_to_buf(const Tensor& t) {
  const Tensor f = is_float(t.dtype) ? t.astype(DType::Float32) : t;
  runtime::Buf b;
  b.shape = t.shape;
  const auto n = static_cast<size_t>(t.numel());
  b.v.resize(n);
  switch (f.dtype) {
    case DType::Float32: std::copy_n(f.as<float>(), n, b.v.begin()); break;
    case DType::Int32: for (size_t i = 0; i < n; ++i) b.v[i] = static_cast<float>(f.as<int32_t>()[i]); break;
    case DType::Int64: for (size_t i = 0; i < n; ++i) b.v[i] = static_cast<float>(f.as<int64_t>()[i]); break;
    case DType::UInt8: for (size_t i = 0; i < n; ++i) b.v[i] = f.as<uint8_t>()[i]; break;
    case DType::Int8: for (size_t i = 0; i < n; ++i) b.v[i] = f.as<int8_t>()[i]; break;
    default: throw Error("", "input", "dtype " + std::string(dtype_name(t.dtype)) + " cannot feed the engine");
  }
  return b;
}

Tensor buf_to_tensor(const runtime::Buf& b) { return Tensor::from_floats(b.shape, b.v); }

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void add_value(InputSpecs& in, const std::string& name, const Tensor& t, const std::string& file) {
  if (in.values.count(name) || in.seeds.count(name))
    throw UsageError("--input", "'" + name + "' is given twice (" + (in.sources.count(name) ? in.sources.at(name) : "random") +
                                    " and " + file + ")");
  runtime::Buf b = tensor_to_buf(t);
  if (b.shape.empty()) b.shape = {1};  // a numpy scalar feeds a one-element input
  in.values[name] = std::move(b);
  in.sources[name] = file;
}

// The vocabulary size when `name` feeds an Embedding's index input, else 0.
int64_t embedding_vocab(const Graph& g, const std::string& name) {
  const int64_t id = g.find(name);
  for (const Node& n : g.nodes)
    if (n.op == "Embedding" && !n.inputs.empty() && n.inputs[0].node == id)
      return attrs::parse_int(n.attr("input_dim", "0"), "input_dim");
  return 0;
}

runtime::Buf random_input(const runtime::Shape& shape, uint64_t seed, int64_t vocab) {
  runtime::Buf b;
  b.shape = shape;
  b.v.resize(static_cast<size_t>(b.numel()));
  std::mt19937_64 gen(seed);
  if (vocab > 0) {
    std::uniform_int_distribution<int64_t> d(0, vocab - 1);
    for (float& x : b.v) x = static_cast<float>(d(gen));
  } else {
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (float& x : b.v) x = d(gen);
  }
  return b;
}

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? "none" : s;
}

// Every name the user gave must be an input of the model (a variable the params do not hold).
void check_names(const Graph& g, const ModelVariables& vars, const InputSpecs& in, const ModelFiles& files) {
  std::vector<std::string> inputs = vars.data_inputs;
  inputs.insert(inputs.end(), vars.labels.begin(), vars.labels.end());
  for (const std::string& name : in.named()) {
    if (std::find(inputs.begin(), inputs.end(), name) != inputs.end()) continue;
    const std::string option = in.shapes.count(name) && !in.values.count(name) && !in.seeds.count(name) ? "--shape" : "--input";
    const int64_t id = g.find(name);
    if (id >= 0 && g.nodes[static_cast<size_t>(id)].is_variable())
      throw UsageError(option, "'" + name + "' is a parameter held in " + files.params + ", not an input (inputs: " + join(inputs) + ")");
    throw UsageError(option, "'" + name + "' is not an input of " + files.symbol + " (inputs: " + join(inputs) + ")" +
                                 did_you_mean(nearest_names(name, inputs)));
  }
}

// --shape, else the value's own shape, else the variable's __shape__; all missing ones in one error.
std::map<std::string, runtime::Shape> plan_input_shapes(const Graph& g, const ModelVariables& vars, const InputSpecs& in,
                                                        const ModelFiles& files) {
  std::map<std::string, runtime::Shape> shapes;
  std::vector<std::string> missing;
  for (const std::string& name : vars.data_inputs) {
    if (auto given = in.shapes.find(name); given != in.shapes.end()) {
      shapes[name] = given->second;
    } else if (auto v = in.values.find(name); v != in.values.end()) {
      shapes[name] = v->second.shape;
    } else if (const std::string& attr = g.nodes[static_cast<size_t>(g.find(name))].attr("__shape__"); !attr.empty()) {
      runtime::Shape s = attrs::parse_tuple(attr, "__shape__ of " + name);
      if (std::all_of(s.begin(), s.end(), [](int64_t d) { return d > 0; })) shapes[name] = std::move(s);
      else missing.push_back(name);  // MXNet writes 0 for a dimension it leaves open
    } else {
      missing.push_back(name);
    }
  }
  if (!missing.empty())
    throw UsageError("--shape", "no shape for " + join(missing) + " (inputs of " + files.symbol + ": " + join(vars.data_inputs) +
                                    "); give --shape " + missing.front() + "=d0,d1,... or an --input file");
  return shapes;
}

}  // namespace

InputSpecs parse_input_specs(const std::vector<std::string>& inputs, const std::vector<std::string>& shapes) {
  InputSpecs in;
  for (const std::string& spec : inputs) {
    if (spec.find('=') == std::string::npos && ends_with(spec, ".npz")) {
      for (const auto& [member, t] : numpy::read_npz(spec)) add_value(in, member, t, spec + ":" + member);
      continue;
    }
    const auto [name, src] = split_assignment(spec, "--input", "NAME=file.npy, NAME=random:SEED or file.npz");
    if (src.rfind("random:", 0) == 0) {
      const std::string seed = src.substr(7);
      if (seed.empty() || !std::all_of(seed.begin(), seed.end(), [](char c) { return c >= '0' && c <= '9'; }))
        throw UsageError("--input", "'" + spec + "': the seed must be a whole number (random:SEED)");
      if (in.values.count(name) || in.seeds.count(name)) throw UsageError("--input", "'" + name + "' is given twice");
      in.seeds[name] = std::stoull(seed);
    } else if (ends_with(src, ".npz")) {
      const auto members = numpy::read_npz(src);
      const Tensor* pick = nullptr;
      std::vector<std::string> names;
      for (const auto& [member, t] : members) {
        names.push_back(member);
        if (member == name) pick = &t;
      }
      if (!pick && members.size() == 1) pick = &members.front().second;
      if (!pick)
        throw UsageError("--input", src + " has no member '" + name + "' (members: " + join(names) + ")");
      add_value(in, name, *pick, src);
    } else {
      add_value(in, name, numpy::read_npy(src), src);
    }
  }
  for (const std::string& spec : shapes) {
    const auto [name, dims] = split_assignment(spec, "--shape", "NAME=d0,d1,... (e.g. data=1,3,224,224)");
    runtime::Shape s = parse_dims(dims, "--shape " + name);
    if (auto v = in.values.find(name); v != in.values.end() && v->second.shape != s)
      throw UsageError("--shape", "'" + spec + "' disagrees with " + in.sources.at(name) + ", shaped " +
                                      attrs::format_tuple(v->second.shape));
    in.shapes[name] = std::move(s);
  }
  return in;
}

OpenedModel open_model(const ModelFiles& files, const InputSpecs& specs, runtime::SessionOptions options) {
  LoadedModel m = load_model(files);
  ModelVariables vars = classify_variables(m.graph, m.arg, m.aux, specs.named());
  check_names(m.graph, vars, specs, files);
  require_weights(vars, files);
  options.input_shapes = plan_input_shapes(m.graph, vars, specs, files);
  options.source = files.symbol;
  // The params are moved in: the session converts them one at a time, never holding two copies.
  runtime::Session session(std::move(m.graph), std::move(m.arg), std::move(m.aux), options);
  return {files, std::move(vars), std::move(session)};
}

OpenedModel open_model(const ModelArgs& a, const InputSpecs& specs) {
  runtime::SessionOptions o;
  o.threads = a.threads;
  return open_model(model_files(a), specs, o);
}

std::map<std::string, runtime::Buf> make_inputs(const runtime::Session& s, const InputSpecs& in) {
  std::map<std::string, runtime::Buf> out;
  for (const auto& name : s.input_names()) {
    if (auto v = in.values.find(name); v != in.values.end()) {
      out[name] = v->second;
      continue;
    }
    const auto seed = in.seeds.find(name);
    out[name] = random_input(s.input_shape(name), seed == in.seeds.end() ? 0 : seed->second, embedding_vocab(s.graph(), name));
  }
  return out;
}

std::string numerics_mode(const runtime::Session& s) {
  std::map<DType, size_t> nodes;
  const Graph& g = s.graph();
  for (uint32_t i = 0; i < g.nodes.size(); ++i)
    if (!g.nodes[i].is_variable()) ++nodes[s.dtype_of({i, 0, 0})];
  std::string counts;
  bool low = false;
  for (const auto& [d, n] : nodes) {
    counts += (counts.empty() ? "" : ", ") + std::to_string(n) + " " + std::string(dtype_name(d));
    low = low || is_low_precision(d);
  }
  if (!low) return "float32 (" + counts + " nodes)";
  return "emulated mixed precision (" + counts +
         " nodes): every node computes in float32 and rounds its outputs to its dtype, as 16-bit storage with float32 "
         "accumulation does";
}

}  // namespace mixprec::cli
