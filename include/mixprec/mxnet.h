// MXNet model files: `NAME-symbol.json` (every generation, 0.8 to 2.x) and `NAME-0000.params`
// (legacy, V1, V2, V3 array formats). Spec: ../shared/reference/mxnet_formats.md.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "mixprec/graph.h"
#include "mixprec/tensor.h"

namespace mixprec::mxnet {

// ---- symbol JSON -------------------------------------------------------------------------------
// Reads any generation: pre-0.9 `param` + `backward_source_id` + 2-element entries (BatchNorm aux
// inputs that old files omit are synthesised as `<node>_<argname>` variables), 0.9 `attr`, >=1.0
// `attrs`; `node_row_ptr`, `heads`, `arg_nodes`, graph attrs, subgraphs. Legacy hidden keys
// (`lr_mult`, `ctx_group`, `<arg>_lr_mult`, ...) are upgraded to their `__x__` form as MXNet does.
// Throws mixprec::Error naming `source` and the place for malformed input.
Graph parse_symbol_json(std::string_view text, const std::string& source = "<memory>");
Graph read_symbol_json(const std::string& path);
// The dmlc layout MXNet writes (2-space indent, sorted attrs, `node_row_ptr`, `arg_nodes`).
std::string write_symbol_json(const Graph& graph);
// Writes to a temporary file beside `path`, then renames it over `path`.
void save_symbol_json(const Graph& graph, const std::string& path);

// Arguments and aux states, as MXNet's list_arguments / list_auxiliary_states (DFS order;
// aux = variables feeding a mutable input of some op).
std::vector<std::string> list_arguments(const Graph& graph);
std::vector<std::string> list_auxiliary_states(const Graph& graph);

// ---- .params -----------------------------------------------------------------------------------
enum class ArrayFormat { Legacy, V1, V2, V3 };

struct NamedArray {
  std::string name;  // as stored, with its "arg:" / "aux:" prefix
  Tensor tensor;
  ArrayFormat format = ArrayFormat::V2;
  int32_t dev_type = 1;  // cpu
  int32_t dev_id = 0;
};

struct ParamsFile {
  std::vector<NamedArray> arrays;
  bool has_names = true;  // false for lists saved without keys (n_names = 0)
};

ParamsFile parse_params(const uint8_t* data, size_t size, const std::string& source = "<memory>");
ParamsFile read_params(const std::string& path);

// One array as its header describes it, without its data.
struct ArrayInfo {
  std::string name;  // as stored; empty in a nameless list
  DType dtype = DType::Float32;
  std::vector<int64_t> shape;
  uint64_t nbytes = 0;       // bytes of data, checked to lie within the file
  uint64_t data_offset = 0;  // where the data starts in the file
  ArrayFormat format = ArrayFormat::V2;
  int32_t dev_type = 1;
  int32_t dev_id = 0;
};

struct ParamsIndex {
  std::vector<ArrayInfo> arrays;
  bool has_names = true;  // as ParamsFile::has_names
};

// The headers and names of a .params file, its data skipped: the same checks, the same errors
// and the same arrays (minus their values) as parse_params, which shares the parsing code.
ParamsIndex scan_params(const uint8_t* data, size_t size, const std::string& source = "<memory>");
// Memory-mapped: only the pages holding headers and names are read, so memory stays a small
// fraction of the file.
ParamsIndex scan_params_file(const std::string& path);
std::vector<uint8_t> write_params(const ParamsFile& file);
// Streams the file's bytes without building them in memory (see core/file_io.h for sinks).
void write_params_to(const ParamsFile& file, const std::function<void(const void*, size_t)>& sink);
// Writes to a temporary file beside `path`, then renames it over `path`.
void save_params(const ParamsFile& file, const std::string& path);

// Splits "arg:x" / "aux:y" names into the two dicts (prefix stripped). Names without a known
// prefix go to `arg`. Throws on duplicate names.
void split_params(const ParamsFile& file, TensorMap& arg, TensorMap& aux, const std::string& source = "");
// The same, moving the tensors out of `file` instead of copying them.
void split_params(ParamsFile&& file, TensorMap& arg, TensorMap& aux, const std::string& source = "");
// A checkpoint file: "arg:" entries then "aux:" entries, V2 format.
ParamsFile make_checkpoint(const TensorMap& arg, const TensorMap& aux);
ParamsFile make_checkpoint(TensorMap&& arg, TensorMap&& aux);  // moves the tensors

}  // namespace mixprec::mxnet
