// Builds graphs in code (tests, the model zoo): variables and ops in topological order by
// construction, output counts from the op table.
#pragma once
#include <initializer_list>
#include <string>
#include <vector>

#include "mixprec/graph.h"

namespace mixprec {

class GraphBuilder {
 public:
  // A graph input or parameter.
  Entry var(const std::string& name, AttrMap attrs = {});
  // An operator node; returns its output 0 (use `out(e, k)` for others).
  Entry op(const std::string& op, const std::string& name, std::vector<Entry> inputs, AttrMap attrs = {});
  static Entry out(Entry e, uint32_t index) { return {e.node, index, 0}; }
  // Marks the entry as an aux state input (version 1, as MXNet writes mutated variables).
  static Entry mutated(Entry e) { return {e.node, e.index, 1}; }
  Node& node(Entry e) { return g_.nodes[e.node]; }

  // Finishes with these outputs. Sets mxnet_version to 2.0.0 unless `attrs` was given one.
  Graph build(std::vector<Entry> heads);
  Graph& graph() { return g_; }

 private:
  Graph g_;
};

}  // namespace mixprec
