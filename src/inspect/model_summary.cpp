#include "inspect/model_summary.h"

#include <sstream>

#include "core/file_io.h"
#include "mixprec/error.h"

namespace mixprec::inspect {

void add_graph(Summary& s, const Graph& g) {
  s.nodes += g.nodes.size();
  for (const Node& n : g.nodes) {
    if (n.is_variable()) {
      ++s.variables;
      continue;
    }
    ++s.ops[n.op];
    if (n.op == "amp_cast") ++s.casts[n.attr("dtype")];
    if (n.op == "amp_multicast") ++s.multicasts;
  }
}

void add_params(Summary& s, const mxnet::ParamsFile& p) {
  for (const auto& a : p.arrays) {
    const std::string dt(dtype_name(a.tensor.dtype));
    s.param_dtypes[a.name] = dt;
    s.param_bytes += a.tensor.nbytes();
    s.param_bytes_by_dtype[dt] += a.tensor.nbytes();
    ++s.params;
  }
}

void add_file(Summary& s, const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  size_t i = 0;
  while (i < bytes.size() && (bytes[i] == ' ' || bytes[i] == '\n' || bytes[i] == '\r' || bytes[i] == '\t')) ++i;
  if (i < bytes.size() && bytes[i] == '{')
    add_graph(s, mxnet::parse_symbol_json(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path));
  else
    add_params(s, mxnet::parse_params(bytes.data(), bytes.size(), path));
  s.files.push_back(path);
}

nlohmann::json to_json(const Summary& s) {
  nlohmann::json j;
  j["files"] = s.files;
  j["nodes"] = s.nodes;
  j["variables"] = s.variables;
  j["ops"] = s.ops;
  j["casts"] = s.casts;
  j["multicasts"] = s.multicasts;
  j["params"] = s.param_dtypes;
  j["param_count"] = s.params;
  j["param_bytes"] = s.param_bytes;
  j["param_bytes_by_dtype"] = s.param_bytes_by_dtype;
  return j;
}

std::string to_text(const Summary& s) {
  std::ostringstream o;
  for (const auto& f : s.files) o << "file: " << f << "\n";
  if (s.nodes) {
    o << "nodes: " << s.nodes << " (" << s.variables << " variables, " << s.nodes - s.variables << " ops)\n";
    o << "ops:\n";
    for (const auto& [op, n] : s.ops) o << "  " << op << ": " << n << "\n";
    o << "casts:";
    if (s.casts.empty() && !s.multicasts) o << " none";
    o << "\n";
    for (const auto& [dt, n] : s.casts) o << "  amp_cast to " << dt << ": " << n << "\n";
    if (s.multicasts) o << "  amp_multicast: " << s.multicasts << "\n";
  }
  if (s.params) {
    o << "params: " << s.params << ", " << s.param_bytes << " bytes";
    for (const auto& [dt, b] : s.param_bytes_by_dtype) o << "; " << dt << " " << b;
    o << "\n";
    for (const auto& [name, dt] : s.param_dtypes) o << "  " << name << ": " << dt << "\n";
  }
  return o.str();
}

}  // namespace mixprec::inspect
