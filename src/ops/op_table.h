// What the converter and the format readers need to know about each MXNet operator: input names,
// which inputs are aux states (mutated), which keep float32 when the op runs in low precision,
// which are dtype-independent (indices, labels), and how many outputs it has.
// The table itself (op_table.cpp) is data; ops missing from it get `default_op_info()`.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mixprec/graph.h"

namespace mixprec::ops {

// How an op relates the dtypes of its float inputs and outputs.
enum class TypeRule {
  Uniform,    // every float input and output share one dtype (elementwise, conv, FC, ...)
  Cast,       // amp_cast / Cast: output dtype from the "dtype" attribute; float inputs only
  MultiCast,  // amp_multicast: N inputs to N outputs in the widest (or narrowest) float type
};

struct OpInfo {
  std::string_view name;
  std::vector<std::string_view> inputs;   // argument names then aux names, in MXNet's order
  std::vector<uint32_t> mutable_inputs;   // aux states: never cast, never made low precision
  std::vector<uint32_t> fp32_inputs;      // stay float32 when the op computes in fp16/bf16
  std::vector<uint32_t> index_inputs;     // dtype independent of the data (indices, labels)
  std::vector<uint32_t> fp32_outputs;     // stay float32 when the op computes in fp16/bf16
  uint32_t outputs = 1;                   // fixed output count (hidden outputs included)
  std::string_view outputs_attr;          // when set, the count is this attribute's integer value
  uint32_t visible_outputs = 0;           // outputs a user sees (0 = all)
  TypeRule rule = TypeRule::Uniform;
};

// The entry for `op` (after alias resolution), or nullptr when the op is not in the table.
const OpInfo* find_op(std::string_view op);
// The entry for `op`, or a Uniform single-output rule for unknown ops.
const OpInfo& op_info(std::string_view op);
// Canonical registry name for an alias ("concat" -> "Concat"); other names unchanged.
std::string_view canonical_op_name(std::string_view op);
// Output count of a node from the table and its attributes.
uint32_t num_outputs(const Node& node);
// Outputs visible to a user (BatchNorm: 1 of 3).
uint32_t num_visible_outputs(const Node& node);
// Is input `slot` of `node` an aux state?
bool is_mutable_input(const Node& node, uint32_t slot);

// What a variable read at an input slot is to the op: data to compute on, a learned parameter
// (weight, bias, gamma, beta, running statistics) that a params file must hold, or a training
// label that inference never reads.
enum class InputRole { Data, Parameter, Label };
InputRole input_role(const Node& node, uint32_t slot);
// Names that learned parameters carry by MXNet's and Gluon's conventions ("conv0_weight",
// "bn0_running_var", ...): how a parameter read by an op unknown to the table is still recognised.
bool has_parameter_suffix(std::string_view variable_name);

}  // namespace mixprec::ops
