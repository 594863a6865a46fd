#include "inspect/graph_interface.h"

#include <algorithm>
#include <charconv>

#include "amp/dtype_inference.h"
#include "inspect/data_inputs.h"
#include "mixprec/attrs.h"
#include "mixprec/error.h"
#include "ops/op_table.h"

namespace mixprec::inspect {

namespace {

// A param's dtype when no params file tells it: what the converter or Gluon wrote on the variable.
DType declared_dtype(const Node& var) {
  if (auto d = dtype_from_name(var.attr("__amp_dtype__"))) return *d;
  const std::string& text = var.attr("__dtype__");
  int64_t code = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
  if (ec == std::errc() && end == text.data() + text.size())
    if (auto d = dtype_from_code(code)) return *d;
  return dtype_from_name(text).value_or(DType::Float32);
}

// The variable's `__shape__`, when it has a usable one (Gluon writes 0 for dims it did not know).
std::optional<Shape> declared_shape(const Node& var) {
  const std::string& text = var.attr("__shape__");
  if (text.empty()) return std::nullopt;
  try {
    return plausible_shape(attrs::parse_tuple(text, "__shape__"));
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace

GraphInterface describe_graph(const Graph& g, const ParamTable* params, const std::map<std::string, Shape>& input_shapes) {
  GraphInterface gi;
  gi.inputs_from_params = params != nullptr;
  const std::vector<bool> is_input = data_input_flags(g, params);
  const std::vector<bool> is_label = label_only_flags(g);
  auto param = [&](uint32_t i) -> const ParamFacts* { return params ? find_param(*params, g.nodes[i].name) : nullptr; };

  std::string missing_input;                          // the first data input, not a label, without a shape
  std::vector<int64_t> input_at(g.nodes.size(), -1);  // node -> its entry in gi.inputs
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    if (!is_input[i]) continue;
    const Node& n = g.nodes[i];
    InputFacts in{n.name, std::nullopt, is_label[i]};
    if (auto s = input_shapes.find(n.name); s != input_shapes.end()) in.shape = s->second;
    else in.shape = declared_shape(n);
    if (!in.shape && !in.label && missing_input.empty()) missing_input = n.name;
    input_at[i] = static_cast<int64_t>(gi.inputs.size());
    gi.inputs.push_back(std::move(in));
  }

  std::string missing_param;  // the first parameter without a usable shape
  const ShapeTable shapes = infer_shapes(g, [&](uint32_t i) -> std::optional<Shape> {
    if (input_at[i] >= 0) {
      const InputFacts& in = gi.inputs[static_cast<size_t>(input_at[i])];
      // As the engine does, a label gets a placeholder: inference kernels never read it.
      return in.shape ? in.shape : in.label ? std::optional<Shape>(Shape{1}) : std::nullopt;
    }
    const ParamFacts* p = param(i);
    std::optional<Shape> s = p ? plausible_shape(p->shape) : declared_shape(g.nodes[i]);
    if (!s && missing_param.empty()) missing_param = g.nodes[i].name;
    return s;
  });
  const amp::FlatDTypes dtypes = amp::infer_dtypes_flat(g, [&](uint32_t i) {
    if (const ParamFacts* p = param(i)) return p->dtype;
    return is_input[i] ? DType::Float32 : declared_dtype(g.nodes[i]);
  });

  for (const Entry& h : g.heads) gi.outputs.push_back({g.nodes[h.node].name, h.index, dtypes.at(h), shapes.at(h)});
  if (std::any_of(gi.outputs.begin(), gi.outputs.end(), [](const OutputFacts& o) { return !o.shape; })) {
    if (!missing_input.empty())
      gi.shapes_unknown_why = "input '" + missing_input + "' has no __shape__; pass --shape " + missing_input + "=d0,d1,...";
    else if (!shapes.unknown_why.empty())
      gi.shapes_unknown_why = shapes.unknown_why;
    else
      gi.shapes_unknown_why = "parameter '" + missing_param + "' has no usable shape" + (params ? "" : " (give the params file)");
  }

  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.is_variable()) continue;
    NodeFacts f{n.name, n.op, {}, n.num_outputs ? shapes.at({i, 0}) : std::nullopt};
    const uint32_t visible = std::min(ops::num_visible_outputs(n), n.num_outputs);
    for (uint32_t k = 0; k < visible; ++k) f.dtypes.push_back(dtypes.at({i, k}));
    gi.nodes.push_back(std::move(f));
  }
  return gi;
}

}  // namespace mixprec::inspect
