// The two forms `mixprec inspect` prints a Summary in: short text for people, JSON for tools.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "inspect/model_summary.h"

namespace mixprec::inspect {

struct OutputOptions {
  bool params = false;  // every param: name, dtype, shape, bytes
  bool nodes = false;   // every op node: name, op, dtype after type inference, shape
};

// Files; counts; data inputs and outputs with shapes; op histogram; casts; params by dtype; then
// the lists the options ask for.
std::string to_text(const Summary& s, const OutputOptions& o = {});
// Keys: files, nodes, variables, ops, casts, multicasts, params (name -> dtype), param_count,
// param_bytes, param_bytes_by_dtype, param_count_by_dtype, param_shapes (name -> dims),
// param_list (with "crc32" per entry when the summary has checksums), inputs_from, inputs, outputs, output_shapes_unknown (only when some are), and
// node_list with `o.nodes`. An unknown shape is null.
nlohmann::json to_json(const Summary& s, const OutputOptions& o = {});

}  // namespace mixprec::inspect
