// Shared by run / compare / bench: loading a model by prefix or by files, and building its inputs
// from `--input name=file.npy|random:seed` and `--shape name=1,3,224,224`.
#pragma once
#include <CLI/CLI.hpp>
#include <map>
#include <string>
#include <vector>

#include "mixprec/graph.h"
#include "mixprec/tensor.h"
#include "runtime/session.h"

namespace mixprec::cli {

// The options run and bench share: the model files, its inputs, their shapes, threads.
struct ModelArgs {
  std::string symbol, params;
  std::vector<std::string> inputs, shapes;
  int threads = 0;
};
void add_model_options(CLI::App* c, ModelArgs& a);

struct LoadedModel {
  Graph graph;
  TensorMap arg, aux;
};

LoadedModel load_model(const std::string& symbol, const std::string& params);
// PREFIX-symbol.json + PREFIX-0000.params
LoadedModel load_model_prefix(const std::string& prefix);

// `--shape name=d0,d1,...` (repeatable) into a map.
std::map<std::string, runtime::Shape> parse_shapes(const std::vector<std::string>& specs);

// `--input name=file.npy|random:SEED` (repeatable): .npy files are read here, so that their shapes
// can plan the session.
struct InputSpecs {
  std::map<std::string, runtime::Buf> files;
  std::map<std::string, uint64_t> seeds;
};
InputSpecs parse_inputs(const std::vector<std::string>& specs);
// Shapes of the file inputs, added to `shapes` (for SessionOptions::input_shapes).
void add_file_shapes(const InputSpecs& in, std::map<std::string, runtime::Shape>& shapes);

// A session over the files in `a`, planned for the shapes given or read from .npy inputs; `in`
// receives the parsed input specs.
runtime::Session open_session(const ModelArgs& a, InputSpecs& in);

// Values for every input of the session. Inputs without a spec get `random:0`. Random inputs are
// N(0, 1) floats, except inputs read as indices by an Embedding (integers in range).
std::map<std::string, runtime::Buf> make_inputs(const runtime::Session& session, const InputSpecs& in);

runtime::Buf tensor_to_buf(const Tensor& t);
Tensor buf_to_tensor(const runtime::Buf& b);

}  // namespace mixprec::cli
