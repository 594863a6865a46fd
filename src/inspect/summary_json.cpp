#include "inspect/summary_output.h"

namespace mixprec::inspect {

namespace {

nlohmann::json shape_json(const std::optional<Shape>& s) { return s ? nlohmann::json(*s) : nlohmann::json(nullptr); }

std::string output_shapes_unknown(const Summary& s) {
  std::string why;
  for (const GraphEntry& g : s.graphs) {
    if (g.interface.shapes_unknown_why.empty()) continue;
    if (!why.empty()) why += "; ";
    why += s.graphs.size() > 1 ? g.file + ": " + g.interface.shapes_unknown_why : g.interface.shapes_unknown_why;
  }
  return why;
}

}  // namespace

nlohmann::json to_json(const Summary& s, const OutputOptions& o) {
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
  j["param_count_by_dtype"] = s.param_count_by_dtype;

  nlohmann::json shapes = nlohmann::json::object(), list = nlohmann::json::array();
  for (const ParamEntry& p : s.param_list) {
    shapes[p.name] = p.shape;
    list.push_back({{"name", p.name}, {"dtype", std::string(dtype_name(p.dtype))}, {"shape", p.shape}, {"bytes", p.bytes}, {"file", p.file}});
    if (p.crc32) list.back()["crc32"] = *p.crc32;
  }
  j["param_shapes"] = std::move(shapes);
  j["param_list"] = std::move(list);

  nlohmann::json inputs = nlohmann::json::array(), outputs = nlohmann::json::array(), nodes = nlohmann::json::array();
  for (const GraphEntry& g : s.graphs) {
    for (const InputFacts& in : g.interface.inputs)
      inputs.push_back({{"name", in.name}, {"shape", shape_json(in.shape)}, {"label", in.label}, {"file", g.file}});
    for (const OutputFacts& out : g.interface.outputs)
      outputs.push_back({{"node", out.node}, {"index", out.index}, {"dtype", std::string(dtype_name(out.dtype))},
                         {"shape", shape_json(out.shape)}, {"file", g.file}});
    if (!o.nodes) continue;
    for (const NodeFacts& n : g.interface.nodes) {
      nlohmann::json dts = nlohmann::json::array();
      for (DType d : n.dtypes) dts.push_back(std::string(dtype_name(d)));
      nodes.push_back({{"name", n.name}, {"op", n.op}, {"dtype", n.dtypes.empty() ? std::string("none") : std::string(dtype_name(n.dtypes[0]))},
                       {"output_dtypes", std::move(dts)}, {"shape", shape_json(n.shape)}, {"file", g.file}});
    }
  }
  if (!s.graphs.empty()) {
    j["inputs_from"] = s.graphs.front().interface.inputs_from_params ? "params" : "graph";
    j["inputs"] = std::move(inputs);
    j["outputs"] = std::move(outputs);
    if (const std::string why = output_shapes_unknown(s); !why.empty()) j["output_shapes_unknown"] = why;
    if (o.nodes) j["node_list"] = std::move(nodes);
  }
  return j;
}

}  // namespace mixprec::inspect
