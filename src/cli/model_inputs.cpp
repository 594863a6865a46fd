#include "cli/model_inputs.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

#include "mixprec/attrs.h"
#include "mixprec/error.h"
#include "mixprec/mxnet.h"
#include "mixprec/numpy.h"

namespace mixprec::cli {

LoadedModel load_model(const std::string& symbol, const std::string& params) {
  LoadedModel m;
  m.graph = mxnet::read_symbol_json(symbol);
  mxnet::split_params(mxnet::read_params(params), m.arg, m.aux, params);
  return m;
}

LoadedModel load_model_prefix(const std::string& prefix) { return load_model(prefix + "-symbol.json", prefix + "-0000.params"); }

std::map<std::string, runtime::Shape> parse_shapes(const std::vector<std::string>& specs) {
  std::map<std::string, runtime::Shape> out;
  for (const auto& s : specs) {
    const auto eq = s.find('=');
    if (eq == std::string::npos) throw Error("", "--shape", "'" + s + "' is not NAME=d0,d1,...");
    std::string tuple = "(";  // appended: GCC 12 warns falsely (-Wrestrict) on "(" + string
    tuple.append(s, eq + 1).append(")");
    out[s.substr(0, eq)] = attrs::parse_tuple(tuple, "--shape " + s);
  }
  return out;
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

}  // namespace

InputSpecs parse_inputs(const std::vector<std::string>& specs) {
  InputSpecs in;
  for (const auto& spec : specs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos) throw Error("", "--input", "'" + spec + "' is not NAME=file.npy or NAME=random:SEED");
    const std::string name = spec.substr(0, eq), src = spec.substr(eq + 1);
    if (src.rfind("random:", 0) == 0) in.seeds[name] = static_cast<uint64_t>(attrs::parse_int(src.substr(7), "--input " + name));
    else in.files[name] = tensor_to_buf(numpy::read_npy(src));
  }
  return in;
}

void add_file_shapes(const InputSpecs& in, std::map<std::string, runtime::Shape>& shapes) {
  for (const auto& [name, buf] : in.files) shapes[name] = buf.shape;
}

void add_model_options(CLI::App* c, ModelArgs& a) {
  c->add_option("--symbol", a.symbol, "NAME-symbol.json")->required();
  c->add_option("--params", a.params, "NAME-0000.params")->required();
  c->add_option("--input", a.inputs, "NAME=file.npy or NAME=random:SEED (repeatable; default random:0)");
  c->add_option("--shape", a.shapes, "NAME=d0,d1,... for inputs without a .npy file or __shape__ (repeatable)");
  c->add_option("--threads", a.threads, "Threads (default: all cores)");
}

runtime::Session open_session(const ModelArgs& a, InputSpecs& in) {
  LoadedModel m = load_model(a.symbol, a.params);
  in = parse_inputs(a.inputs);
  runtime::SessionOptions o;
  o.threads = a.threads;
  o.input_shapes = parse_shapes(a.shapes);
  add_file_shapes(in, o.input_shapes);
  o.source = a.symbol;
  return runtime::Session(std::move(m.graph), std::move(m.arg), std::move(m.aux), o);
}

std::map<std::string, runtime::Buf> make_inputs(const runtime::Session& s, const InputSpecs& in) {
  std::map<std::string, runtime::Buf> out;
  for (const auto& [name, buf] : in.files) out[name] = buf;
  for (const auto& name : s.input_names()) {
    if (out.count(name)) continue;
    const auto seed = in.seeds.find(name);
    out[name] = random_input(s.input_shape(name), seed == in.seeds.end() ? 0 : seed->second, embedding_vocab(s.graph(), name));
  }
  for (const auto& [name, buf] : out)
    if (std::find(s.input_names().begin(), s.input_names().end(), name) == s.input_names().end())
      throw Error("", "--input", "'" + name + "' is not an input of the model");
  for (const auto& [name, seed] : in.seeds)
    if (!out.count(name)) throw Error("", "--input", "'" + name + "' is not an input of the model");
  return out;
}

}  // namespace mixprec::cli
