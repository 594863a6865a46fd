// The graph IR: MXNet's node-list form. Nodes sit in topological order (inputs before users);
// tensors are node outputs named by Entry. Integer ids, flat arrays, no pointer webs.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mixprec {

struct Entry {
  uint32_t node = 0;
  uint32_t index = 0;    // which output of the node
  uint32_t version = 0;  // MXNet bumps it for variables an op mutates (aux states)
  bool operator==(const Entry& o) const = default;
  auto operator<=>(const Entry& o) const = default;
};

struct Graph;

using AttrMap = std::map<std::string, std::string>;  // all values are strings, as in the JSON

struct Node {
  std::string op;    // canonical op name; "null" for a variable
  std::string name;  // variables: the parameter / input name
  AttrMap attrs;
  std::vector<Entry> inputs;
  std::vector<uint32_t> control_deps;
  std::vector<Graph> subgraphs;
  uint32_t num_outputs = 1;  // every output, hidden ones included (BatchNorm has 3)

  bool is_variable() const { return op == "null"; }
  // The attribute or `fallback` when absent.
  const std::string& attr(const std::string& key, const std::string& fallback = empty_) const;

 private:
  static const std::string empty_;
};

struct Graph {
  std::vector<Node> nodes;
  std::vector<Entry> heads;
  // Graph attributes in dmlc "any" form: key -> the raw JSON text of its [type, value] pair,
  // e.g. "mxnet_version" -> R"(["int", 10900])".
  std::map<std::string, std::string> attrs;

  // Checks ids, output indices and order (every input refers to an earlier node). Throws
  // mixprec::Error naming `source` (a file name or "") and the offending node.
  void verify(const std::string& source = "") const;
  // Variables (op "null") in node order.
  std::vector<uint32_t> variable_ids() const;
  // Consumers of each node: for every node, the (consumer node, input slot) pairs reading any of its outputs.
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> consumers() const;
  // Index of the first node with this name, or -1.
  int64_t find(const std::string& name) const;
};

}  // namespace mixprec
