// What `mixprec inspect` reports about symbol and params files: counts, the graph's data inputs
// and outputs, the op histogram, casts by dtype, and the params (dtype, shape and bytes of each,
// read from their headers only).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "inspect/graph_interface.h"
#include "mixprec/dtype.h"

namespace mixprec::inspect {

struct ParamEntry {
  std::string file;
  std::string name;  // as stored; "#k" for the k-th array of a nameless list
  DType dtype = DType::Float32;
  Shape shape;
  uint64_t bytes = 0;
  std::optional<uint32_t> crc32;  // of the stored bytes, when InspectOptions::checksums
};

struct GraphEntry {
  std::string file;
  GraphInterface interface;
};

struct Summary {
  size_t nodes = 0;
  size_t variables = 0;
  std::map<std::string, size_t> ops;    // op -> count (variables excluded)
  std::map<std::string, size_t> casts;  // amp_cast target dtype -> count
  size_t multicasts = 0;
  std::map<std::string, std::string> param_dtypes;  // param name (as stored, or "#k") -> dtype
  std::map<std::string, size_t> param_bytes_by_dtype;
  std::map<std::string, size_t> param_count_by_dtype;
  size_t param_bytes = 0;
  size_t params = 0;
  std::vector<ParamEntry> param_list;  // every array of every params file, in file order
  std::vector<GraphEntry> graphs;      // one per symbol file
  std::vector<std::string> files;
};

struct InspectOptions {
  std::map<std::string, Shape> input_shapes;  // data input -> shape (overrides __shape__)
  bool checksums = false;  // read each array's data for its CRC-32 (zlib's), in ParamEntry::crc32
};

// Reads each file, a symbol JSON or a params file (told apart by content), and summarises them
// together: a graph's data inputs are the variables no params file names (see data_inputs.h).
// With several symbol files, each graph is matched with the params of its own checkpoint
// (NAME-symbol.json with NAME-NNNN.params); with one, with every params file given.
// Params files are scanned, not loaded: memory stays a small fraction of their size (unless
// `checksums` asks for the data, which is then read once through the mapping). Throws
// mixprec::Error for unreadable files and for an input shape naming no data input.
Summary inspect_files(const std::vector<std::string>& paths, const InspectOptions& options = {});

}  // namespace mixprec::inspect
