// list_arguments / list_auxiliary_states as nnvm's Symbol::ListInputs computes them: variables in
// post-order DFS from the heads (each node's inputs in order, then its control deps); a variable
// is an aux state when it feeds a mutable input of some op reached by that walk. Subgraphs are
// not entered, as in nnvm.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mixprec/mxnet.h"
#include "ops/op_table.h"

namespace mixprec::mxnet {
namespace {

struct Inputs {
  std::vector<std::string> arguments, aux;
};

Inputs list_inputs(const Graph& g) {
  g.verify();
  std::vector<uint8_t> visited(g.nodes.size(), 0), is_aux(g.nodes.size(), 0);
  std::vector<uint32_t> variables;
  std::vector<std::pair<uint32_t, size_t>> stack;  // (node, next dependency to visit)
  for (const Entry& head : g.heads) {
    if (visited[head.node]) continue;
    visited[head.node] = 1;
    stack.emplace_back(head.node, 0);
    while (!stack.empty()) {
      auto& [id, k] = stack.back();
      const Node& n = g.nodes[id];
      if (k < n.inputs.size() + n.control_deps.size()) {
        const uint32_t dep = k < n.inputs.size() ? n.inputs[k].node : n.control_deps[k - n.inputs.size()];
        ++k;
        if (!visited[dep]) {
          visited[dep] = 1;
          stack.emplace_back(dep, 0);  // invalidates `id` and `k`; the loop re-reads them
        }
        continue;
      }
      if (n.is_variable()) variables.push_back(id);
      for (uint32_t s = 0; s < n.inputs.size(); ++s)
        if (ops::is_mutable_input(n, s)) is_aux[n.inputs[s].node] = 1;
      stack.pop_back();
    }
  }
  Inputs out;
  for (uint32_t id : variables) (is_aux[id] ? out.aux : out.arguments).push_back(g.nodes[id].name);
  return out;
}

}  // namespace

std::vector<std::string> list_arguments(const Graph& graph) { return list_inputs(graph).arguments; }

std::vector<std::string> list_auxiliary_states(const Graph& graph) { return list_inputs(graph).aux; }

}  // namespace mixprec::mxnet
