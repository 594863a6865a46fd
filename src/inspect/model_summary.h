// What `mixprec inspect` reports about symbol and params files: node count, op histogram, casts
// by dtype, every param's dtype and the bytes they take.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mixprec/graph.h"
#include "mixprec/mxnet.h"

namespace mixprec::inspect {

struct Summary {
  size_t nodes = 0;
  size_t variables = 0;
  std::map<std::string, size_t> ops;         // op -> count (variables excluded)
  std::map<std::string, size_t> casts;       // amp_cast target dtype -> count
  size_t multicasts = 0;
  std::map<std::string, std::string> param_dtypes;  // param name (as stored) -> dtype
  std::map<std::string, size_t> param_bytes_by_dtype;
  size_t param_bytes = 0;
  size_t params = 0;
  std::vector<std::string> files;
};

void add_graph(Summary& s, const Graph& g);
void add_params(Summary& s, const mxnet::ParamsFile& p);
// Reads a symbol JSON or a params file (told apart by content) into the summary.
void add_file(Summary& s, const std::string& path);

nlohmann::json to_json(const Summary& s);
std::string to_text(const Summary& s);

}  // namespace mixprec::inspect
