// Shared by run / compare / bench: which model to open (--symbol/--params or --prefix/--epoch),
// its inputs (`--input NAME=file.npy|NAME=random:SEED|file.npz`, `--shape NAME=1,3,224,224`),
// checked against the model before anything runs, and the session over it.
#pragma once
#include <CLI/CLI.hpp>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli/model_files.h"
#include "cli/progress.h"
#include "mixprec/graph.h"
#include "mixprec/tensor.h"
#include "runtime/session.h"

namespace mixprec::cli {

// The options run and bench share.
struct ModelArgs {
  std::string symbol, params, prefix;
  std::optional<int> epoch;
  std::vector<std::string> inputs, shapes;
  int threads = 0;
  bool json = false;
  ProgressMode progress = ProgressMode::Auto;
};
void add_model_options(CLI::App* command, ModelArgs& args);
// --symbol and --params, or --prefix (with --epoch or the only params file of the prefix).
ModelFiles model_files(const ModelArgs& args);

// What the command line says about the inputs, parsed and read (files) but not yet checked
// against a model.
struct InputSpecs {
  std::map<std::string, runtime::Buf> values;   // from .npy files and .npz members
  std::map<std::string, std::string> sources;   // input -> the file its value came from
  std::map<std::string, uint64_t> seeds;        // random:SEED
  std::map<std::string, runtime::Shape> shapes;  // --shape
  std::set<std::string> named() const;
};
// Throws UsageError for malformed specs, an .npz without the named member, or a --shape that
// disagrees with the file given for the same input.
InputSpecs parse_input_specs(const std::vector<std::string>& inputs, const std::vector<std::string>& shapes);

// A model checked against its inputs and planned: params hold every weight the graph reads, every
// name given is an input of the model, every data input has a shape.
struct OpenedModel {
  ModelFiles files;
  ModelVariables variables;
  runtime::Session session;
};
OpenedModel open_model(const ModelFiles& files, const InputSpecs& specs, runtime::SessionOptions options);
// run and bench: the files and thread count of `args`, default session options otherwise.
OpenedModel open_model(const ModelArgs& args, const InputSpecs& specs);

// Values for every input of the session: given ones, else random (`random:SEED`, default seed 0):
// N(0, 1) floats, or integers in range for inputs an Embedding reads as indices.
std::map<std::string, runtime::Buf> make_inputs(const runtime::Session& session, const InputSpecs& specs);

runtime::Buf tensor_to_buf(const Tensor& t);
Tensor buf_to_tensor(const runtime::Buf& b);

// How the engine computes a model of these dtypes, in words (for run/bench reports).
std::string numerics_mode(const runtime::Session& session);

}  // namespace mixprec::cli
