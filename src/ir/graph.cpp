#include "mixprec/graph.h"

#include "mixprec/error.h"

namespace mixprec {

const std::string Node::empty_;

const std::string& Node::attr(const std::string& key, const std::string& fallback) const {
  auto it = attrs.find(key);
  return it == attrs.end() ? fallback : it->second;
}

void Graph::verify(const std::string& source) const {
  // `place` is built only when something is wrong: verify runs on every graph we touch.
  auto check_entry = [&](const Entry& e, size_t limit, auto&& place_of) {
    if (e.node < limit && e.index < nodes[e.node].num_outputs) return;
    const std::string place = place_of();
    if (e.node >= limit) {
      if (e.node < nodes.size())
        throw Error(source, place, "refers to node " + std::to_string(e.node) + " (" + nodes[e.node].name +
                                       ") which does not come before it: the graph has a cycle or is not in topological order");
      throw Error(source, place, "refers to node " + std::to_string(e.node) + " but the graph has " +
                                     std::to_string(nodes.size()) + " nodes");
    }
    if (e.index >= nodes[e.node].num_outputs)
      throw Error(source, place, "refers to output " + std::to_string(e.index) + " of node '" + nodes[e.node].name +
                                     "' which has " + std::to_string(nodes[e.node].num_outputs) + " outputs");
  };
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    auto place = [&] { return "node " + std::to_string(i) + " ('" + n.name + "')"; };
    if (n.is_variable() && !n.inputs.empty()) throw Error(source, place(), "a variable cannot have inputs");
    for (const Entry& e : n.inputs) check_entry(e, i, place);
    for (uint32_t c : n.control_deps)
      if (c >= i) throw Error(source, place(), "control dependency on node " + std::to_string(c) + " which does not come before it");
    for (size_t s = 0; s < n.subgraphs.size(); ++s)
      n.subgraphs[s].verify(source.empty() ? place() + " subgraph " + std::to_string(s) : source);
  }
  for (size_t h = 0; h < heads.size(); ++h) check_entry(heads[h], nodes.size(), [&] { return "heads[" + std::to_string(h) + "]"; });
}

std::vector<uint32_t> Graph::variable_ids() const {
  std::vector<uint32_t> ids;
  for (uint32_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].is_variable()) ids.push_back(i);
  return ids;
}

std::vector<std::vector<std::pair<uint32_t, uint32_t>>> Graph::consumers() const {
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> c(nodes.size());
  for (uint32_t i = 0; i < nodes.size(); ++i)
    for (uint32_t s = 0; s < nodes[i].inputs.size(); ++s) c[nodes[i].inputs[s].node].emplace_back(i, s);
  return c;
}

int64_t Graph::find(const std::string& name) const {
  for (size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].name == name) return static_cast<int64_t>(i);
  return -1;
}

}  // namespace mixprec
