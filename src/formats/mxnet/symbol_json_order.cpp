#include "formats/mxnet/symbol_json_order.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "mixprec/error.h"

namespace mixprec::mxnet::detail {
namespace {

bool already_sorted(const Graph& g) {
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    for (const Entry& e : g.nodes[i].inputs)
      if (e.node >= i) return false;
    for (uint32_t c : g.nodes[i].control_deps)
      if (c >= i) return false;
  }
  return true;
}

// The k-th dependency of a node: its inputs in order, then its control deps (nnvm's DFS order).
uint32_t dependency(const Node& n, size_t k) {
  return k < n.inputs.size() ? n.inputs[k].node : n.control_deps[k - n.inputs.size()];
}

std::string node_place(const Graph& g, const std::string& where, uint32_t id) {
  std::string p = "nodes[" + std::to_string(id) + "] ('" + g.nodes[id].name + "')";
  return where.empty() ? p : where + " " + p;
}

}  // namespace

void sort_topologically(Graph& g, const std::string& source, const std::string& where) {
  if (already_sorted(g)) return;

  enum : uint8_t { kNew, kOnStack, kDone };
  const size_t n = g.nodes.size();
  std::vector<uint8_t> state(n, kNew);
  std::vector<uint32_t> new_id(n);
  uint32_t next = 0;
  std::vector<std::pair<uint32_t, size_t>> stack;  // (node, next dependency to visit)

  // Post-order DFS started from every node in file order: a node is placed right after the last
  // of its dependencies, so nodes that were already in order keep their relative order.
  for (uint32_t root = 0; root < n; ++root) {
    if (state[root] != kNew) continue;
    stack.emplace_back(root, 0);
    state[root] = kOnStack;
    while (!stack.empty()) {
      auto& [id, k] = stack.back();
      const Node& node = g.nodes[id];
      if (k == node.inputs.size() + node.control_deps.size()) {
        state[id] = kDone;
        new_id[id] = next++;
        stack.pop_back();
        continue;
      }
      const uint32_t dep = dependency(node, k++);
      if (state[dep] == kOnStack) {
        if (dep == id) throw Error(source, node_place(g, where, id), "refers to itself: the graph has a cycle");
        throw Error(source, node_place(g, where, id),
                    "the graph has a cycle: this node depends on " + node_place(g, "", dep) +
                        ", which depends on this node");
      }
      if (state[dep] == kNew) {
        state[dep] = kOnStack;
        stack.emplace_back(dep, 0);  // invalidates `id` and `k`; the loop re-reads them
      }
    }
  }

  std::vector<Node> sorted(n);
  for (uint32_t i = 0; i < n; ++i) {
    Node& node = g.nodes[i];
    for (Entry& e : node.inputs) e.node = new_id[e.node];
    for (uint32_t& c : node.control_deps) c = new_id[c];
    sorted[new_id[i]] = std::move(node);
  }
  g.nodes = std::move(sorted);
  for (Entry& e : g.heads) e.node = new_id[e.node];
}

}  // namespace mixprec::mxnet::detail
