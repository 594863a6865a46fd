#include "cli/model_files.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "formats/file_kind.h"
#include "mixprec/error.h"
#include "mixprec/mxnet.h"
#include "ops/op_table.h"

namespace mixprec::cli {
namespace fs = std::filesystem;

namespace {

// "a, b, c" for the first `n` names, then how many more.
std::string first_names(const std::vector<std::string>& names, size_t n = 3) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < n; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > n) s += " and " + std::to_string(names.size() - n) + " more";
  return s;
}

}  // namespace

std::string symbol_path(const std::string& prefix) { return prefix + "-symbol.json"; }

std::string params_path(const std::string& prefix, int epoch) {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%04d", epoch);  // MXNet's '%s-%04d.params'
  return prefix + "-" + digits + ".params";
}

std::optional<int> epoch_of(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  const std::string suffix = ".params";
  if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return std::nullopt;
  const std::string stem = name.substr(0, name.size() - suffix.size());
  const size_t dash = stem.rfind('-');
  if (dash == std::string::npos || dash + 1 == stem.size() || stem.size() - dash - 1 > 9) return std::nullopt;
  const std::string digits = stem.substr(dash + 1);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  return std::stoi(digits);
}

ModelFiles resolve_prefix(const std::string& prefix, std::optional<int> epoch) {
  ModelFiles f{symbol_path(prefix), ""};
  if (epoch) {
    f.params = params_path(prefix, *epoch);
    return f;
  }
  const fs::path p(prefix);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  const std::string base = p.filename().string();
  std::vector<std::string> found;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    // BASE-NNNN.params exactly: "BASE-x-0000.params" belongs to another prefix.
    if (name.rfind(base + "-", 0) == 0 && epoch_of(name) && name.find('-', base.size() + 1) == std::string::npos)
      found.push_back((p.has_parent_path() ? (dir / name).string() : name));
  }
  std::sort(found.begin(), found.end());
  if (found.empty())
    throw Error(prefix, "", "no " + base + "-NNNN.params file in " + (p.has_parent_path() ? dir.string() : std::string(".")) +
                                " for the model " + f.symbol);
  if (found.size() > 1) {
    std::string list;
    for (const auto& x : found) list += (list.empty() ? "" : ", ") + fs::path(x).filename().string();
    throw Error(prefix, "", "several params files: " + list + "; choose one with --epoch N");
  }
  f.params = found[0];
  return f;
}

LoadedModel load_model(const ModelFiles& files) {
  formats::expect_file_kind(files.symbol, formats::FileKind::SymbolJson, "the symbol file");
  formats::expect_file_kind(files.params, formats::FileKind::MxnetParams, "the params file");
  LoadedModel m;
  m.files = files;
  m.graph = mxnet::read_symbol_json(files.symbol);
  mxnet::split_params(mxnet::read_params(files.params), m.arg, m.aux, files.params);
  return m;
}

ModelVariables classify_variables(const Graph& g, const TensorMap& arg, const TensorMap& aux, const std::set<std::string>& named) {
  ModelVariables v;
  const auto readers = g.consumers();
  std::set<std::string> read;
  for (uint32_t id : g.variable_ids()) {
    const std::string& name = g.nodes[id].name;
    const bool has_param = arg.count(name) || aux.count(name);
    const bool is_head = std::any_of(g.heads.begin(), g.heads.end(), [&](const Entry& h) { return h.node == id; });
    if (!readers[id].empty() || is_head) read.insert(name);
    bool as_param = ops::has_parameter_suffix(name), as_label = !readers[id].empty(), as_data = is_head;
    for (const auto& [node, slot] : readers[id]) {
      const ops::InputRole role = ops::input_role(g.nodes[node], slot);
      as_param = as_param || role == ops::InputRole::Parameter;
      as_label = as_label && role == ops::InputRole::Label;
      as_data = as_data || role == ops::InputRole::Data;
    }
    if (has_param) {
      if (!readers[id].empty()) v.weights.push_back(name);
    } else if (named.count(name)) {
      v.data_inputs.push_back(name);
    } else if (as_param) {
      v.weights.push_back(name);
      v.missing_weights.push_back(name);
    } else if (as_label) {
      v.labels.push_back(name);
    } else if (as_data) {
      v.data_inputs.push_back(name);
    }
  }
  for (const TensorMap* m : {&arg, &aux})
    for (const auto& [name, t] : *m)
      if (!read.count(name)) v.unused_params.push_back(name);
  return v;
}

void require_weights(const ModelVariables& v, const ModelFiles& files) {
  if (!v.missing_weights.empty()) {
    const size_t total = v.weights.size(), missing = v.missing_weights.size();
    if (missing == total)
      throw Error(files.params, "", "holds none of the " + std::to_string(total) + " weights of " + files.symbol + ", e.g. " +
                                        v.missing_weights.front() + ": is it the model's params file?");
    throw Error(files.params, "", "lacks " + std::to_string(missing) + " of the " + std::to_string(total) + " weights " +
                                      files.symbol + " reads: " + first_names(v.missing_weights) +
                                      " (a variable that is really a data input can be fed with --input or --shape)");
  }
  if (!v.unused_params.empty())
    std::cerr << "mixprec: warning: " << files.params << " holds " << v.unused_params.size()
              << " params the graph does not read: " << first_names(v.unused_params) << "\n";
}

}  // namespace mixprec::cli
