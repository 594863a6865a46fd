#include <algorithm>
#include <cstdio>
#include <iterator>
#include <sstream>
#include <string>

#include "inspect/summary_output.h"
#include "mixprec/attrs.h"

namespace mixprec::inspect {

namespace {

// "1.1 MB": for a reader's eye; the exact count is printed beside it.
std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(n);
  size_t u = 0;
  while (v >= 1000 && u + 1 < std::size(units)) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string shape_text(const std::optional<Shape>& s) { return s ? attrs::format_tuple(*s) : "shape unknown"; }

// Column width for names: the longest, capped so that one long name does not push every row right.
template <typename Range, typename Name>
size_t name_width(const Range& rows, Name name) {
  size_t w = 0;
  for (const auto& r : rows) w = std::max(w, name(r).size());
  return std::min<size_t>(w, 60);
}

std::string padded(const std::string& s, size_t width) { return s.size() >= width ? s : s + std::string(width - s.size(), ' '); }

// One dtype when all visible outputs share it (SliceChannel's five), else each.
std::string dtypes_text(const std::vector<DType>& dts) {
  if (!dts.empty() && std::all_of(dts.begin(), dts.end(), [&](DType d) { return d == dts[0]; })) return std::string(dtype_name(dts[0]));
  std::string t;
  for (DType d : dts) {
    if (!t.empty()) t += ',';
    t += dtype_name(d);
  }
  return t.empty() ? "none" : t;
}

void graph_text(std::ostream& o, const GraphEntry& g, bool several, const OutputOptions& opt) {
  const GraphInterface& gi = g.interface;
  const std::string of = several ? " of " + g.file : "";
  o << "inputs" << of << (gi.inputs_from_params ? " (variables without a params entry):" : " (guessed from the graph: no named params file given):");
  if (gi.inputs.empty()) o << " none";
  o << "\n";
  const size_t iw = name_width(gi.inputs, [](const InputFacts& f) -> const std::string& { return f.name; });
  for (const InputFacts& in : gi.inputs)
    o << "  " << padded(in.name, iw) << "  " << (in.label && !in.shape ? "label (not read at inference)" : shape_text(in.shape)) << "\n";
  o << "outputs" << of << ":\n";
  std::vector<std::string> names;
  for (const OutputFacts& out : gi.outputs) names.push_back(out.node + "[" + std::to_string(out.index) + "]");
  const size_t ow = name_width(names, [](const std::string& n) -> const std::string& { return n; });
  for (size_t k = 0; k < gi.outputs.size(); ++k)
    o << "  " << padded(names[k], ow) << "  " << dtype_name(gi.outputs[k].dtype) << "  " << shape_text(gi.outputs[k].shape) << "\n";
  if (!gi.shapes_unknown_why.empty()) o << "  output shapes unknown: " << gi.shapes_unknown_why << "\n";
  if (!opt.nodes) return;
  o << "op nodes" << of << " (graph order; dtype after type inference, params as stored, data inputs float32):\n";
  const size_t nw = name_width(gi.nodes, [](const NodeFacts& n) -> const std::string& { return n.name; });
  const size_t pw = name_width(gi.nodes, [](const NodeFacts& n) -> const std::string& { return n.op; });
  for (const NodeFacts& n : gi.nodes) {
    const std::string dts = dtypes_text(n.dtypes);
    o << "  " << padded(n.name, nw) << "  " << padded(n.op, pw) << "  "
      << (n.shape ? padded(dts, 8) + "  " + attrs::format_tuple(*n.shape) : dts) << "\n";
  }
}

void ops_text(std::ostream& o, const Summary& s) {
  o << "ops:\n";
  // Most frequent first: what the model is made of, at a glance.
  std::vector<std::pair<std::string, size_t>> ops(s.ops.begin(), s.ops.end());
  std::stable_sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  for (const auto& [op, n] : ops) o << "  " << op << ": " << n << "\n";
  o << "casts:";
  if (s.casts.empty() && !s.multicasts) o << " none";
  o << "\n";
  for (const auto& [dt, n] : s.casts) o << "  amp_cast to " << dt << ": " << n << "\n";
  if (s.multicasts) o << "  amp_multicast: " << s.multicasts << "\n";
}

void params_text(std::ostream& o, const Summary& s, const OutputOptions& opt) {
  o << "params: " << s.params << " arrays, " << s.param_bytes << " bytes (" << human_bytes(s.param_bytes) << ")\n";
  for (const auto& [dt, n] : s.param_count_by_dtype) {
    const size_t bytes = s.param_bytes_by_dtype.at(dt);
    o << "  " << padded(dt, 8) << "  " << n << " arrays, " << bytes << " bytes (" << human_bytes(bytes) << ")\n";
  }
  if (!opt.params) return;
  const size_t w = name_width(s.param_list, [](const ParamEntry& p) -> const std::string& { return p.name; });
  const std::string* file = nullptr;
  const bool several = std::any_of(s.param_list.begin(), s.param_list.end(),
                                  [&](const ParamEntry& p) { return p.file != s.param_list.front().file; });
  const bool crc = !s.param_list.empty() && s.param_list.front().crc32.has_value();
  o << "param list (stored name, dtype, shape, bytes" << (crc ? ", CRC-32" : "") << "):\n";
  for (const ParamEntry& p : s.param_list) {
    if (several && (!file || *file != p.file)) o << " " << p.file << ":\n";
    file = &p.file;
    o << "  " << padded(p.name, w) << "  " << padded(std::string(dtype_name(p.dtype)), 8) << "  "
      << padded(attrs::format_tuple(p.shape), 18) << "  " << p.bytes;
    if (p.crc32) {
      char hex[9];
      std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(*p.crc32));
      o << "  " << hex;
    }
    o << "\n";
  }
}

}  // namespace

std::string to_text(const Summary& s, const OutputOptions& opt) {
  std::ostringstream o;
  for (const auto& f : s.files) o << "file: " << f << "\n";
  if (!s.graphs.empty()) {
    o << "nodes: " << s.nodes << " (" << s.variables << " variables, " << s.nodes - s.variables << " ops)\n";
    for (const GraphEntry& g : s.graphs) graph_text(o, g, s.graphs.size() > 1, opt);
    ops_text(o, s);
  }
  if (s.files.size() > s.graphs.size()) params_text(o, s, opt);  // some file was a params file
  return o.str();
}

}  // namespace mixprec::inspect
