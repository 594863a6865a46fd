// The files that make a model and what its variables are: PREFIX-NNNN.params found for any epoch,
// files of the wrong kind named for what they are, and params checked against the graph (a params
// file of another model is refused, never run with random weights in its place).
#pragma once
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mixprec/graph.h"
#include "mixprec/tensor.h"

namespace mixprec::cli {

struct ModelFiles {
  std::string symbol, params;
};

// PREFIX-symbol.json and PREFIX-NNNN.params: epoch `epoch` when given, else the only params file
// of the prefix present. Throws mixprec::Error when none is present or several are (listing them).
ModelFiles resolve_prefix(const std::string& prefix, std::optional<int> epoch = std::nullopt);
// The epoch number in a params file name ("m-0007.params" -> 7); nullopt when it has none.
std::optional<int> epoch_of(const std::string& params_path);
// "PREFIX-symbol.json", "PREFIX-0007.params".
std::string symbol_path(const std::string& prefix);
std::string params_path(const std::string& prefix, int epoch);

struct LoadedModel {
  Graph graph;
  TensorMap arg, aux;
  ModelFiles files;
};
// Reads both files, after checking each is of the right kind.
LoadedModel load_model(const ModelFiles& files);

// The graph's variables sorted by what they are to the model.
struct ModelVariables {
  std::vector<std::string> data_inputs;      // fed at run time: no params entry, read as data or named by the user
  std::vector<std::string> labels;           // no params entry, read only as training labels (optional at inference)
  std::vector<std::string> weights;          // read as learned parameters (with or without a params entry)
  std::vector<std::string> missing_weights;  // weights the params file lacks
  std::vector<std::string> unused_params;    // params entries no node reads
};
// `named` are the names the user feeds explicitly (--input / --shape): always data inputs.
ModelVariables classify_variables(const Graph& graph, const TensorMap& arg, const TensorMap& aux,
                                  const std::set<std::string>& named = {});

// Throws mixprec::Error (file: the params file) when weights are missing, saying how many and the
// first few; warns on stderr about params the graph does not read.
void require_weights(const ModelVariables& vars, const ModelFiles& files);

}  // namespace mixprec::cli
