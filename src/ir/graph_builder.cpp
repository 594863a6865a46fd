#include "ir/graph_builder.h"

#include "mixprec/error.h"
#include "ops/op_table.h"

namespace mixprec {

Entry GraphBuilder::var(const std::string& name, AttrMap attrs) {
  Node n;
  n.op = "null";
  n.name = name;
  n.attrs = std::move(attrs);
  g_.nodes.push_back(std::move(n));
  return {static_cast<uint32_t>(g_.nodes.size() - 1), 0, 0};
}

Entry GraphBuilder::op(const std::string& op, const std::string& name, std::vector<Entry> inputs, AttrMap attrs) {
  Node n;
  n.op = op;
  n.name = name;
  n.attrs = std::move(attrs);
  for (Entry& e : inputs) {
    if (e.node >= g_.nodes.size()) throw Error("GraphBuilder: input of '" + name + "' is not in the graph");
    if (g_.nodes[e.node].is_variable() && e.version == 0 && ops::is_mutable_input(n, static_cast<uint32_t>(&e - inputs.data())))
      e.version = 1;
  }
  n.inputs = std::move(inputs);
  n.num_outputs = ops::num_outputs(n);
  g_.nodes.push_back(std::move(n));
  return {static_cast<uint32_t>(g_.nodes.size() - 1), 0, 0};
}

Graph GraphBuilder::build(std::vector<Entry> heads) {
  g_.heads = std::move(heads);
  if (!g_.attrs.count("mxnet_version")) g_.attrs["mxnet_version"] = R"(["int", 20000])";
  g_.verify("<builder>");
  return std::move(g_);
}

}  // namespace mixprec
