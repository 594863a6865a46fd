#include "validate/model_compare.h"

#include <algorithm>

#include "mixprec/error.h"

namespace mixprec::validate {

Comparison compare_models(runtime::Session& ref, runtime::Session& cand, const std::map<std::string, runtime::Buf>& inputs,
                          size_t max_jumps) {
  // The reference's first output of every op node, by name (conversion keeps node names).
  std::map<std::string, runtime::Buf> ref_nodes;
  const Graph& rg = ref.graph();
  const std::vector<runtime::Buf> ref_out = ref.run(inputs, [&](uint32_t n, const std::vector<const runtime::Buf*>& outs) {
    ref_nodes[rg.nodes[n].name] = *outs[0];
  });

  const Graph& cg = cand.graph();
  std::vector<double> err(cg.nodes.size(), 0.0);  // per candidate node; variables and casts inherit below
  Comparison c;
  const std::vector<runtime::Buf> cand_out = cand.run(inputs, [&](uint32_t n, const std::vector<const runtime::Buf*>& outs) {
    const Node& node = cg.nodes[n];
    auto it = ref_nodes.find(node.name);
    if (it != ref_nodes.end() && it->second.shape == outs[0]->shape) {
      err[n] = nmse(it->second, *outs[0]);
      double in_err = 0;
      for (const Entry& e : node.inputs) in_err = std::max(in_err, err[e.node]);
      c.nodes.push_back({node.name, node.op, err[n], err[n] / std::max(in_err, 1e-12)});
    } else {
      // Inserted casts carry their input's error forward (plus their own rounding, seen downstream).
      for (const Entry& e : node.inputs) err[n] = std::max(err[n], err[e.node]);
    }
  });
  if (ref_out.size() != cand_out.size())
    throw Error("", "outputs", "reference has " + std::to_string(ref_out.size()) + " outputs, candidate " +
                                   std::to_string(cand_out.size()));
  for (size_t i = 0; i < ref_out.size(); ++i) c.outputs.push_back(compare(ref_out[i], cand_out[i]));
  for (const NodeError& e : c.nodes)
    if (e.nmse > 1e-7 && e.jump >= 10 && c.first_jumps.size() < max_jumps) c.first_jumps.push_back(e);
  return c;
}

}  // namespace mixprec::validate
