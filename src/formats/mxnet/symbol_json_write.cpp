// Writing a Graph as MXNet symbol JSON in the exact text layout of dmlc's JSON writer
// (../shared/reference/mxnet_formats.md A.5), so that a file MXNet wrote reads and writes back
// byte for byte. Old-generation input comes out in the modern form: `attrs`, 3-item entries,
// `node_row_ptr`, `arg_nodes` (every variable, in node order).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "formats/mxnet/symbol_json_text.h"
#include "mixprec/error.h"
#include "mixprec/mxnet.h"

namespace mixprec::mxnet {
namespace {

// dmlc's layout rules: a multi-line scope puts each item on its own line, indented 2 spaces per
// open scope, with ", " (trailing space kept) before the line break; an inline scope uses ", ".
class DmlcWriter {
 public:
  explicit DmlcWriter(std::string& out) : out_(out) {}

  void begin(char open, bool multi_line) {
    out_ += open;
    multi_line_.push_back(multi_line);
    count_.push_back(0);
  }
  void end(char close) {
    const bool multi_line = multi_line_.back();
    const size_t n = count_.back();
    multi_line_.pop_back();
    count_.pop_back();
    if (multi_line && n != 0) separator();
    out_ += close;
  }
  // Starts an array item.
  void item() {
    if (count_.back() != 0) out_ += ", ";
    ++count_.back();
    separator();
  }
  // Starts an object member; the caller then writes its value. `context` is a callable giving
  // the place for an error message, so that no string is built unless one is thrown. dmlc writes
  // keys unescaped; we escape them so that an odd key still gives valid JSON.
  template <typename Context>
  void key(const std::string& k, const Context& context) {
    item();
    string(k, context);
    out_ += ": ";
  }
  template <typename Context>
  void string(const std::string& s, const Context& context) {
    if (!detail::append_quoted(out_, s))
      throw Error("", context(), "contains a control character that MXNet's JSON cannot carry: '" + s + "'");
  }
  void number(uint64_t v) { out_ += std::to_string(v); }
  void raw(const std::string& text) { out_ += text; }

 private:
  void separator() {
    if (multi_line_.empty() || multi_line_.back()) {
      out_ += '\n';
      out_.append(multi_line_.size() * 2, ' ');
    }
  }
  std::string& out_;
  std::vector<bool> multi_line_;
  std::vector<size_t> count_;
};

// Arrays of plain numbers (and of entries, which dmlc counts as plain data) go on one line up to
// 10 items.
template <typename T, typename F>
void write_array(DmlcWriter& w, const std::vector<T>& items, F write_item) {
  w.begin('[', items.size() > 10);
  for (const T& x : items) {
    w.item();
    write_item(x);
  }
  w.end(']');
}

void write_entry(DmlcWriter& w, const Entry& e) {
  w.begin('[', false);
  for (uint32_t v : {e.node, e.index, e.version}) {
    w.item();
    w.number(v);
  }
  w.end(']');
}

void write_graph(DmlcWriter& w, const Graph& g, const std::string& where);

std::string join(const std::string& where, const std::string& what) { return where.empty() ? what : where + " " + what; }

void write_node(DmlcWriter& w, const Node& n, const std::string& where, size_t index) {
  auto place = [&] { return join(where, "nodes[" + std::to_string(index) + "] ('" + n.name + "')"); };
  w.begin('{', true);
  w.key("op", place);
  w.string(n.op, [&] { return place() + " op"; });
  w.key("name", place);
  w.string(n.name, [&] { return place() + " name"; });
  if (!n.attrs.empty()) {
    w.key("attrs", place);
    w.begin('{', n.attrs.size() > 1);
    for (const auto& kv : n.attrs) {  // not a structured binding: clang 14 cannot capture one
      const std::string& k = kv.first;
      w.key(k, [&] { return place() + " attrs"; });
      w.string(kv.second, [&] { return place() + " attrs '" + k + "'"; });
    }
    w.end('}');
  }
  w.key("inputs", place);
  write_array(w, n.inputs, [&](const Entry& e) { write_entry(w, e); });
  if (!n.control_deps.empty()) {
    w.key("control_deps", place);
    write_array(w, n.control_deps, [&](uint32_t c) { w.number(c); });
  }
  if (!n.subgraphs.empty()) {
    w.key("subgraphs", place);
    w.begin('[', true);
    for (size_t s = 0; s < n.subgraphs.size(); ++s) {
      w.item();
      write_graph(w, n.subgraphs[s], place() + " subgraphs[" + std::to_string(s) + "]");
    }
    w.end(']');
  }
  w.end('}');
}

// Graph attrs hold raw JSON text; it goes out verbatim, so check that it is a [type, value] pair.
void check_graph_attr(const std::string& key, const std::string& text, const std::string& where) {
  const nlohmann::json v = nlohmann::json::parse(text, nullptr, false);
  if (v.is_discarded() || !v.is_array() || v.size() != 2 || !v[0].is_string())
    throw Error("", join(where, "attrs '" + key + "'"), "is not a JSON [type, value] pair: " + text);
}

void write_graph(DmlcWriter& w, const Graph& g, const std::string& where) {
  auto top = [&] { return where; };
  w.begin('{', true);
  w.key("nodes", top);
  w.begin('[', true);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    w.item();
    write_node(w, g.nodes[i], where, i);
  }
  w.end(']');

  w.key("arg_nodes", top);
  write_array(w, g.variable_ids(), [&](uint32_t id) { w.number(id); });

  std::vector<uint64_t> row_ptr{0};
  row_ptr.reserve(g.nodes.size() + 1);
  for (const Node& n : g.nodes) row_ptr.push_back(row_ptr.back() + n.num_outputs);
  w.key("node_row_ptr", top);
  write_array(w, row_ptr, [&](uint64_t v) { w.number(v); });

  w.key("heads", top);
  write_array(w, g.heads, [&](const Entry& e) { write_entry(w, e); });

  if (!g.attrs.empty()) {
    w.key("attrs", top);
    w.begin('{', g.attrs.size() > 1);
    for (const auto& [k, v] : g.attrs) {
      check_graph_attr(k, v, where);
      w.key(k, [&] { return join(where, "attrs"); });
      w.raw(v);
    }
    w.end('}');
  }
  w.end('}');
}

}  // namespace

std::string write_symbol_json(const Graph& graph) {
  graph.verify();
  std::string out;
  DmlcWriter w(out);
  write_graph(w, graph, "");
  return out;
}

void save_symbol_json(const Graph& graph, const std::string& path) {
  try {
    write_file_atomic(path, write_symbol_json(graph));
  } catch (const Error& e) {
    if (!e.file().empty()) throw;
    throw Error(path, e.place(), e.reason());
  }
}

}  // namespace mixprec::mxnet
