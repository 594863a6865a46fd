#include "inspect/model_summary.h"

#include <zlib.h>

#include <algorithm>
#include <optional>
#include <string_view>

#include "core/file_io.h"
#include "mixprec/error.h"
#include "mixprec/mxnet.h"

namespace mixprec::inspect {

namespace {

struct LoadedFile {
  std::string path;
  std::optional<Graph> graph;
  mxnet::ParamsIndex params;
  std::vector<uint32_t> crc32;  // per array, when asked for
};

// zlib's CRC-32 of `n` bytes (zlib's length type is 32-bit, so large arrays go in pieces).
uint32_t crc32_of(const uint8_t* p, uint64_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  constexpr uint64_t kPiece = uint64_t{1} << 30;
  for (uint64_t off = 0; off < n; off += kPiece)
    crc = crc32(crc, p + off, static_cast<uInt>(std::min(kPiece, n - off)));
  return static_cast<uint32_t>(crc);
}

// One mapping serves both the sniff and the parse; a params file's data pages are never touched
// unless `checksums` asks for them (the scan has already checked that each array's data lies
// within the file).
LoadedFile load(const std::string& path, bool checksums) {
  MappedFile f(path);
  const auto* text = reinterpret_cast<const char*>(f.data());
  size_t i = 0;
  while (i < f.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')) ++i;
  LoadedFile l{path, std::nullopt, {}, {}};
  if (i < f.size() && text[i] == '{') {
    l.graph = mxnet::parse_symbol_json(std::string_view(text, f.size()), path);
  } else {
    l.params = mxnet::scan_params(f.data(), f.size(), path);
    if (checksums)
      for (const mxnet::ArrayInfo& a : l.params.arrays) {
        l.crc32.push_back(crc32_of(f.data() + a.data_offset, a.nbytes));
        f.release_before(static_cast<size_t>(a.data_offset + a.nbytes));
      }
  }
  return l;
}

void count_graph(Summary& s, const Graph& g) {
  s.nodes += g.nodes.size();
  for (const Node& n : g.nodes) {
    if (n.is_variable()) {
      ++s.variables;
      continue;
    }
    ++s.ops[n.op];
    if (n.op == "amp_cast") ++s.casts[n.attr("dtype")];
    if (n.op == "amp_multicast") ++s.multicasts;
  }
}

void add_params(Summary& s, const LoadedFile& f) {
  const std::string& path = f.path;
  const mxnet::ParamsIndex& index = f.params;
  for (size_t k = 0; k < index.arrays.size(); ++k) {
    const mxnet::ArrayInfo& a = index.arrays[k];
    // A nameless list would otherwise show as one empty name.
    ParamEntry e{path, a.name, a.dtype, a.shape, a.nbytes, std::nullopt};
    if (k < f.crc32.size()) e.crc32 = f.crc32[k];
    if (!index.has_names) e.name = std::string("#").append(std::to_string(k));  // append: GCC 12 warns falsely on "#" + s
    const std::string dt(dtype_name(a.dtype));
    s.param_dtypes[e.name] = dt;
    s.param_bytes += a.nbytes;
    s.param_bytes_by_dtype[dt] += a.nbytes;
    ++s.param_count_by_dtype[dt];
    ++s.params;
    s.param_list.push_back(std::move(e));
  }
}

// "m-symbol.json" and "m-0007.params" give "m": how MXNet pairs a checkpoint's files. Other
// paths are their own prefix (paired with nothing).
std::string checkpoint_prefix(const std::string& path) {
  const std::string_view p(path);
  if (p.ends_with("-symbol.json")) return path.substr(0, path.size() - 12);
  const size_t n = p.size();
  if (p.ends_with(".params") && n >= 12 && p[n - 12] == '-' &&
      std::all_of(p.begin() + static_cast<std::ptrdiff_t>(n - 11), p.begin() + static_cast<std::ptrdiff_t>(n - 7),
                  [](char c) { return c >= '0' && c <= '9'; }))
    return path.substr(0, n - 12);
  return path;
}

// The named params a graph's variables are matched against: every params file when there is one
// graph, else those of its own checkpoint (so two models' params do not mix). Nameless lists name
// nothing. Null when no params file applies.
std::optional<ParamTable> params_for(const LoadedFile& graph, const std::vector<LoadedFile>& files, size_t graphs) {
  std::optional<ParamTable> table;
  for (const LoadedFile& f : files) {
    if (f.graph || !f.params.has_names) continue;
    if (graphs > 1 && checkpoint_prefix(f.path) != checkpoint_prefix(graph.path)) continue;
    if (!table) table.emplace();
    for (const auto& a : f.params.arrays) (*table)[a.name] = {a.dtype, a.shape};
  }
  return table;
}

}  // namespace

Summary inspect_files(const std::vector<std::string>& paths, const InspectOptions& options) {
  std::vector<LoadedFile> files;
  for (const auto& p : paths) files.push_back(load(p, options.checksums));

  Summary s;
  size_t graphs = 0;
  for (const LoadedFile& f : files) {
    s.files.push_back(f.path);
    if (f.graph) {
      count_graph(s, *f.graph);
      ++graphs;
    } else {
      add_params(s, f);
    }
  }

  std::map<std::string, bool> shape_used;
  for (const auto& [name, shape] : options.input_shapes) {
    if (!plausible_shape(shape))
      throw Error("", "--shape " + name, "a shape needs 0 to 32 positive dimensions, at most 2^40 elements in all");
    shape_used[name] = false;
  }
  for (const LoadedFile& f : files) {
    if (!f.graph) continue;
    const std::optional<ParamTable> table = params_for(f, files, graphs);
    GraphEntry g{f.path, describe_graph(*f.graph, table ? &*table : nullptr, options.input_shapes)};
    for (const InputFacts& in : g.interface.inputs)
      if (auto it = shape_used.find(in.name); it != shape_used.end()) it->second = true;
    s.graphs.push_back(std::move(g));
  }
  for (const auto& [name, used] : shape_used)
    if (!used) throw Error("", "--shape " + name, "'" + name + "' is not a data input of the graph");
  return s;
}

}  // namespace mixprec::inspect
