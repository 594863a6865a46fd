#include "inspect/data_inputs.h"

#include "ops/op_table.h"

namespace mixprec::inspect {

namespace {

// How a variable is read, over all its readers (one pass over the graph for all variables).
struct Reads {
  bool as_aux = false;        // a mutable input
  bool as_data = false;       // some op's first input
  bool as_label = false;      // a loss op's label
  bool as_non_label = false;  // anything but a label
};

bool is_label_slot(const Node& reader, uint32_t slot) { return ops::input_role(reader, slot) == ops::InputRole::Label; }

std::vector<Reads> variable_reads(const Graph& g) {
  std::vector<Reads> reads(g.nodes.size());
  for (const Node& n : g.nodes)
    for (uint32_t s = 0; s < n.inputs.size(); ++s) {
      Reads& r = reads[n.inputs[s].node];
      const bool label = is_label_slot(n, s);
      r.as_aux = r.as_aux || ops::is_mutable_input(n, s);
      r.as_data = r.as_data || s == 0;
      r.as_label = r.as_label || label;
      r.as_non_label = r.as_non_label || !label;
    }
  return reads;
}

// The graph-only rule for one variable (see data_inputs.h).
bool looks_like_data(const Node& var, const Reads& r) {
  for (const char* key : {"__dtype__", "__amp_dtype__", "__init__"})
    if (var.attrs.count(key)) return false;
  return !r.as_aux && (r.as_data || r.as_label);
}

}  // namespace

std::vector<bool> data_input_flags(const Graph& g, const ParamTable* params) {
  const std::vector<Reads> reads = params ? std::vector<Reads>{} : variable_reads(g);
  std::vector<bool> flags(g.nodes.size(), false);
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!n.is_variable()) continue;
    flags[i] = params ? find_param(*params, n.name) == nullptr : looks_like_data(n, reads[i]);
  }
  return flags;
}

std::vector<bool> label_only_flags(const Graph& g) {
  const std::vector<Reads> reads = variable_reads(g);
  std::vector<bool> flags(g.nodes.size(), false);
  for (uint32_t i = 0; i < g.nodes.size(); ++i)
    flags[i] = g.nodes[i].is_variable() && reads[i].as_label && !reads[i].as_non_label;
  return flags;
}

}  // namespace mixprec::inspect
