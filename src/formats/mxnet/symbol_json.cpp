// Reading MXNet symbol JSON of every generation into a Graph (../shared/reference/mxnet_formats.md
// Part A). Parsing is nlohmann's; everything dmlc's reader would refuse is checked here, with an
// error that names the file and the place (a JSON path, or a line and column for syntax errors).
//
// Decisions:
// - Limits (mixprec/limits.h): at most kMaxNodes (10,000,000) nodes per graph, subgraphs nested
//   at most kMaxSubgraphDepth (64) deep, JSON nested at most kMaxJsonNesting (1024) deep.
// - Nodes out of order but acyclic are re-sorted (MXNet loads them too); a cycle is an error.
// - Output counts come from node_row_ptr when present (validated: nodes+1 entries, starting at 0,
//   non-decreasing, 1 for a variable), else from the op table.
// - Node attrs from `param` (pre-0.9), `attr` (0.9) and `attrs` are merged; on a clash `attrs`
//   beats `attr` beats `param`. Duplicate JSON keys: the last wins, as in dmlc.
// - The upgrade chain runs with the file's mxnet_version (800 when absent). Graph attrs keep what
//   was read: an old file gets no invented mxnet_version, so writing it back and reading it again
//   re-runs the (now idempotent) upgrades, in MXNet as here.
// - Variables sharing a name are an error: their values would collide in the .params file.
// - Strings must be valid UTF-8 (nlohmann's rule; dmlc takes any bytes).
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/file_io.h"
#include "formats/mxnet/symbol_json_order.h"
#include "formats/mxnet/symbol_json_text.h"
#include "formats/mxnet/symbol_json_upgrade.h"
#include "mixprec/error.h"
#include "mixprec/limits.h"
#include "mixprec/mxnet.h"
#include "ops/op_table.h"

namespace mixprec::mxnet {
namespace {

using nlohmann::json;

using limits::kMaxNodes;
using limits::kMaxSubgraphDepth;

std::string join(const std::string& where, const std::string& what) { return where.empty() ? what : where + " " + what; }

// A short description of a JSON value for messages: its type, and the value when it is small.
std::string describe(const json& v) {
  if (v.is_structured()) return std::string(v.type_name());
  std::string text = v.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return std::string(v.type_name()) + " " + text;
}

// Graph attribute values, stored as dmlc writes them: inline, ", " between items, ": " after keys.
void append_compact(std::string& out, const json& v) {
  if (v.is_array()) {
    out += '[';
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) out += ", ";
      append_compact(out, v[i]);
    }
    out += ']';
  } else if (v.is_object()) {
    out += '{';
    bool first = true;
    for (const auto& [k, item] : v.items()) {
      if (!first) out += ", ";
      first = false;
      detail::append_quoted(out, k);
      out += ": ";
      append_compact(out, item);
    }
    out += '}';
  } else if (v.is_string()) {
    // The text check let only dmlc's escapes through, so no other control character gets here.
    detail::append_quoted(out, v.get_ref<const std::string&>());
  } else {
    out += v.dump();
  }
}

class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}

  Graph read_graph(const json& j, const std::string& where, int depth);
  int version() const { return version_; }

 private:
  [[noreturn]] void fail(const std::string& place, const std::string& why) const { throw Error(source_, place, why); }

  // `place` is a callable returning the place: built only when there is an error to report.
  template <typename Place>
  uint32_t read_u32(const json& v, const Place& place, const char* what) const;
  const json& array_at(const json& v, const std::string& place) const;
  template <typename Place>
  Entry read_entry(const json& v, const Place& place) const;
  void read_attr_map(const json& v, const std::string& place, const char* key, AttrMap& out) const;
  Node read_node(const json& j, const std::string& where, size_t index, int depth);
  std::string read_graph_attr(const json& v, const std::string& place, const std::string& key, bool top);
  void read_output_counts(Graph& g, const json* row_ptr, const std::string& where) const;
  void check_references(const Graph& g, const json& arg_nodes, const std::string& where) const;
  void check_variable_names(const Graph& g, const std::string& where) const;
  std::string node_place(const Graph& g, const std::string& where, size_t i) const {
    return join(where, "nodes[" + std::to_string(i) + "] ('" + g.nodes[i].name + "')");
  }

  const std::string& source_;
  int version_ = detail::kVersionWithoutAttr;
};

template <typename Place>
uint32_t Reader::read_u32(const json& v, const Place& place, const char* what) const {
  if (!v.is_number_integer()) fail(place(), std::string(what) + " must be a non-negative integer, got " + describe(v));
  if (!v.is_number_unsigned()) fail(place(), std::string(what) + " must be a non-negative integer, got " + v.dump());
  const auto n = v.get<uint64_t>();
  if (n > std::numeric_limits<uint32_t>::max()) fail(place(), std::string(what) + " " + v.dump() + " is too large");
  return static_cast<uint32_t>(n);
}


const json& Reader::array_at(const json& v, const std::string& place) const {
  if (!v.is_array()) fail(place, "must be an array, got " + describe(v));
  return v;
}

template <typename Place>
Entry Reader::read_entry(const json& v, const Place& place) const {
  if (!v.is_array() || (v.size() != 2 && v.size() != 3))
    fail(place(), "an entry must be [node, index] or [node, index, version], got " +
                    (v.is_array() ? "an array of " + std::to_string(v.size()) + " items" : describe(v)));
  Entry e;
  e.node = read_u32(v[0], place, "the node id");
  e.index = read_u32(v[1], place, "the output index");
  e.version = v.size() == 3 ? read_u32(v[2], place, "the version") : 0;
  return e;
}

void Reader::read_attr_map(const json& v, const std::string& place, const char* key, AttrMap& out) const {
  if (!v.is_object()) fail(place, std::string("'") + key + "' must be an object, got " + describe(v));
  for (const auto& [k, value] : v.items()) {
    if (!value.is_string())
      fail(place, std::string("attribute '") + k + "' must be a string, got " + describe(value));
    out.insert_or_assign(k, value.get<std::string>());
  }
}

Node Reader::read_node(const json& j, const std::string& where, size_t index, int depth) {
  std::string place = join(where, "nodes[" + std::to_string(index) + "]");
  if (!j.is_object()) fail(place, "a node must be an object, got " + describe(j));
  // The name first, so that every later message can say which node it is.
  Node node;
  auto name = j.find("name");
  if (name == j.end()) fail(place, "missing required key 'name'");
  if (!name->is_string()) fail(place, "'name' must be a string, got " + describe(*name));
  node.name = name->get<std::string>();
  place += " ('" + node.name + "')";

  AttrMap param, attr, attrs;
  bool has_op = false, has_inputs = false;
  for (const auto& [key, v] : j.items()) {
    if (key == "op") {
      if (!v.is_string()) fail(place, "'op' must be a string, got " + describe(v));
      if (v.get_ref<const std::string&>().empty()) fail(place, "'op' is empty");
      node.op = std::string(ops::canonical_op_name(v.get_ref<const std::string&>()));
      has_op = true;
    } else if (key == "name" || key == "backward_source_id") {
      // name: read above; backward_source_id: a pre-0.9 field nothing uses any more.
    } else if (key == "attrs") {
      read_attr_map(v, place, "attrs", attrs);
    } else if (key == "attr") {
      read_attr_map(v, place, "attr", attr);
    } else if (key == "param") {
      read_attr_map(v, place, "param", param);
    } else if (key == "inputs") {
      const json& a = array_at(v, place + " inputs");
      node.inputs.reserve(a.size());
      for (size_t k = 0; k < a.size(); ++k)
        node.inputs.push_back(read_entry(a[k], [&] { return place + " inputs[" + std::to_string(k) + "]"; }));
      has_inputs = true;
    } else if (key == "control_deps") {
      const json& a = array_at(v, place + " control_deps");
      for (size_t k = 0; k < a.size(); ++k)
        node.control_deps.push_back(
            read_u32(a[k], [&] { return place + " control_deps[" + std::to_string(k) + "]"; }, "the node id"));
    } else if (key == "subgraphs") {
      const json& a = array_at(v, place + " subgraphs");
      if (!a.empty() && depth + 1 > kMaxSubgraphDepth)
        fail(place, "subgraphs nested deeper than " + std::to_string(kMaxSubgraphDepth) + " levels");
      for (size_t k = 0; k < a.size(); ++k)
        node.subgraphs.push_back(read_graph(a[k], place + " subgraphs[" + std::to_string(k) + "]", depth + 1));
    } else {
      fail(place, "unknown key '" + key +
                      "' (a node has op, name, attrs, attr, param, inputs, control_deps, subgraphs, backward_source_id)");
    }
  }
  if (!has_op) fail(place, "missing required key 'op'");
  if (!has_inputs) fail(place, "missing required key 'inputs'");
  if (node.is_variable() && !node.inputs.empty()) fail(place, "a variable (op \"null\") cannot have inputs");

  node.attrs = std::move(param);
  for (auto& [k, v] : attr) node.attrs.insert_or_assign(k, std::move(v));
  for (auto& [k, v] : attrs) node.attrs.insert_or_assign(k, std::move(v));
  return node;
}

std::string Reader::read_graph_attr(const json& v, const std::string& place, const std::string& key, bool top) {
  const std::string at = place + " '" + key + "'";
  if (!v.is_array() || v.size() != 2 || !v[0].is_string())
    fail(at, "a graph attribute must be a [type, value] pair, got " + describe(v));
  if (top && key == "mxnet_version") {
    if (v[0] != "int" || !v[1].is_number_integer())
      fail(at, "must be [\"int\", version], got " + v.dump());
    const auto ver = v[1].get<int64_t>();
    if (ver < 0 || ver > std::numeric_limits<int>::max()) fail(at, "version " + v[1].dump() + " is out of range");
    version_ = static_cast<int>(ver);
  }
  std::string text;
  append_compact(text, v);
  return text;
}

void Reader::read_output_counts(Graph& g, const json* row_ptr, const std::string& where) const {
  // Every output is a tensor that later steps keep state for, while declaring one costs a few
  // bytes (num_outputs="65536"), so counts are capped: per node, and per graph in proportion to
  // what the file holds (mixprec/limits.h).
  size_t reads = g.heads.size();
  for (const Node& n : g.nodes) reads += n.inputs.size();
  const size_t budget = reads + limits::kMaxUnreadOutputsPerNode * g.nodes.size() + limits::kMaxNodeOutputs;
  size_t total = 0;
  auto add = [&](size_t i, const auto& place) {
    const Node& n = g.nodes[i];
    if (n.num_outputs > limits::kMaxNodeOutputs)
      fail(place(), "gives node '" + n.name + "' " + std::to_string(n.num_outputs) + " outputs; the limit is " +
                        std::to_string(limits::kMaxNodeOutputs));
    total += n.num_outputs;
    if (total > budget)
      fail(place(), "the graph's nodes have more than " + std::to_string(budget) + " outputs together; the limit is the " +
                        std::to_string(reads) + " inputs and heads that read outputs, plus " +
                        std::to_string(limits::kMaxUnreadOutputsPerNode) + " per node, plus " +
                        std::to_string(limits::kMaxNodeOutputs));
  };
  if (row_ptr == nullptr) {
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      g.nodes[i].num_outputs = ops::num_outputs(g.nodes[i]);
      add(i, [&] { return node_place(g, where, i) + " attrs 'num_outputs'"; });
    }
    return;
  }
  const std::string place = join(where, "node_row_ptr");
  const json& a = array_at(*row_ptr, place);
  if (a.size() != g.nodes.size() + 1)
    fail(place, "has " + std::to_string(a.size()) + " items; " + std::to_string(g.nodes.size()) +
                    " nodes need " + std::to_string(g.nodes.size() + 1));
  uint32_t prev = read_u32(a[0], [&] { return place + "[0]"; }, "the value");
  if (prev != 0) fail(place + "[0]", "must be 0, got " + std::to_string(prev));
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    auto at = [&] { return place + "[" + std::to_string(i + 1) + "]"; };
    const uint32_t cur = read_u32(a[i + 1], at, "the value");
    if (cur < prev) fail(at(), "decreases (" + std::to_string(prev) + " to " + std::to_string(cur) + ")");
    Node& n = g.nodes[i];
    n.num_outputs = cur - prev;
    if (n.is_variable() && n.num_outputs != 1)
      fail(at(), "gives variable '" + n.name + "' " + std::to_string(n.num_outputs) + " outputs; a variable has 1");
    if (n.num_outputs == 0) fail(at(), "gives op node '" + n.name + "' no outputs; an op has at least 1");
    add(i, at);
    prev = cur;
  }
}

void Reader::check_references(const Graph& g, const json& arg_nodes, const std::string& where) const {
  const size_t n = g.nodes.size();
  auto check = [&](const Entry& e, const auto& place) {
    if (e.node >= n)
      fail(place(), "refers to node " + std::to_string(e.node) + " but the graph has " + std::to_string(n) + " nodes");
    const Node& target = g.nodes[e.node];
    if (e.index >= target.num_outputs)
      fail(place(), "refers to output " + std::to_string(e.index) + " of node " + std::to_string(e.node) + " ('" +
                      target.name + "'), which has " + std::to_string(target.num_outputs) + " output" +
                      (target.num_outputs == 1 ? "" : "s"));
  };
  for (size_t i = 0; i < n; ++i) {
    const Node& node = g.nodes[i];
    for (size_t k = 0; k < node.inputs.size(); ++k)
      check(node.inputs[k], [&] { return node_place(g, where, i) + " inputs[" + std::to_string(k) + "]"; });
    for (size_t k = 0; k < node.control_deps.size(); ++k)
      if (node.control_deps[k] >= n)
        fail(node_place(g, where, i) + " control_deps[" + std::to_string(k) + "]",
             "refers to node " + std::to_string(node.control_deps[k]) + " but the graph has " + std::to_string(n) + " nodes");
  }
  for (size_t h = 0; h < g.heads.size(); ++h)
    check(g.heads[h], [&] { return join(where, "heads[" + std::to_string(h) + "]"); });

  // MXNet only checks that each arg_nodes id is a variable; we recompute the list when writing.
  const json& a = array_at(arg_nodes, join(where, "arg_nodes"));
  for (size_t k = 0; k < a.size(); ++k) {
    auto place = [&] { return join(where, "arg_nodes[" + std::to_string(k) + "]"); };
    const uint32_t id = read_u32(a[k], place, "the node id");
    if (id >= n) fail(place(), "refers to node " + std::to_string(id) + " but the graph has " + std::to_string(n) + " nodes");
    if (!g.nodes[id].is_variable())
      fail(place(), "refers to node " + std::to_string(id) + " ('" + g.nodes[id].name + "'), which is an op (" +
                      g.nodes[id].op + "), not a variable");
  }
}

void Reader::check_variable_names(const Graph& g, const std::string& where) const {
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!g.nodes[i].is_variable()) continue;
    auto [it, fresh] = seen.emplace(g.nodes[i].name, i);
    if (!fresh)
      fail(node_place(g, where, i), "variable name already used by nodes[" + std::to_string(it->second) +
                                        "]; their values would collide in the .params file");
  }
}

Graph Reader::read_graph(const json& j, const std::string& where, int depth) {
  const std::string top = where.empty() ? "top level" : where;
  if (!j.is_object()) fail(top, "a graph must be a JSON object, got " + describe(j));
  const json *nodes = nullptr, *arg_nodes = nullptr, *row_ptr = nullptr, *heads = nullptr, *attrs = nullptr;
  for (const auto& [key, v] : j.items()) {
    if (key == "nodes") nodes = &v;
    else if (key == "arg_nodes") arg_nodes = &v;
    else if (key == "node_row_ptr") row_ptr = &v;
    else if (key == "heads") heads = &v;
    else if (key == "attrs") attrs = &v;
    else fail(top, "unknown key '" + key + "' (a graph has nodes, arg_nodes, node_row_ptr, heads, attrs)");
  }
  if (nodes == nullptr) fail(top, "missing required key 'nodes'");
  if (arg_nodes == nullptr) fail(top, "missing required key 'arg_nodes'");
  if (heads == nullptr) fail(top, "missing required key 'heads'");

  Graph g;
  const json& node_array = array_at(*nodes, join(where, "nodes"));
  if (node_array.size() > kMaxNodes)
    fail(join(where, "nodes"), "has " + std::to_string(node_array.size()) + " nodes; the limit is " + std::to_string(kMaxNodes));
  g.nodes.reserve(node_array.size());
  for (size_t i = 0; i < node_array.size(); ++i) g.nodes.push_back(read_node(node_array[i], where, i, depth));

  const json& head_array = array_at(*heads, join(where, "heads"));
  for (size_t h = 0; h < head_array.size(); ++h)
    g.heads.push_back(read_entry(head_array[h], [&] { return join(where, "heads[" + std::to_string(h) + "]"); }));

  if (attrs != nullptr) {
    const std::string place = join(where, "attrs");
    if (!attrs->is_object()) fail(place, "must be an object, got " + describe(*attrs));
    for (const auto& [key, v] : attrs->items()) g.attrs[key] = read_graph_attr(v, place, key, where.empty());
  }

  read_output_counts(g, row_ptr, where);
  check_references(g, *arg_nodes, where);
  check_variable_names(g, where);
  detail::sort_topologically(g, source_, where);
  return g;
}

// The byte offset at which nlohmann's parser gives up on `text` (0 if it does not).
size_t error_offset(std::string_view text) {
  struct Locator : nlohmann::json_sax<json> {
    size_t at = 0;
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return true; }
    bool key(string_t&) override { return true; }
    bool end_object() override { return true; }
    bool start_array(std::size_t) override { return true; }
    bool end_array() override { return true; }
    // `position` is just past `token`, the token being read: point at its start.
    bool parse_error(std::size_t position, const std::string& token, const nlohmann::detail::exception&) override {
      at = position > token.size() ? position - token.size() : 0;
      return false;
    }
  } locator;
  json::sax_parse(text.begin(), text.end(), &locator);
  return locator.at;
}

}  // namespace

Graph parse_symbol_json(std::string_view text, const std::string& source) {
  detail::check_dmlc_text(text, source);
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    // nlohmann's message repeats its own position; keep only the part after it.
    std::string why = e.what();
    const size_t at = why.find("parse error");
    const size_t colon = at == std::string::npos ? std::string::npos : why.find(": ", at);
    if (colon != std::string::npos) why = why.substr(colon + 2);
    throw Error(source, detail::line_column(text, e.byte == 0 ? 0 : e.byte - 1), "malformed JSON: " + why);
  } catch (const json::exception& e) {
    // Other rejections (a number beyond double range: out_of_range.406) carry no position; a
    // second, event-only pass finds it.
    std::string why = e.what();
    const size_t close = why.find("] ");
    if (close != std::string::npos) why = why.substr(close + 2);
    throw Error(source, detail::line_column(text, error_offset(text)), "malformed JSON: " + why);
  }
  Reader reader(source);
  Graph g = reader.read_graph(j, "", 0);
  detail::upgrade_symbol_graph(g, reader.version(), source);
  return g;
}

Graph read_symbol_json(const std::string& path) { return parse_symbol_json(read_text_file(path), path); }

}  // namespace mixprec::mxnet
