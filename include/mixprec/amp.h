// Automatic mixed precision conversion of MXNet graphs: inserts `amp_cast` (and, in MXNet 1.x
// compatibility mode, `amp_multicast`) so that target ops run in float16/bfloat16, fp32 ops in
// float32, widest-type ops in the widest type of their inputs, and neutral ops in whatever
// precision reaches them. The API follows MXNet's `amp.convert_model` / `convert_symbol`.
//
// The conversion plans first and builds a new graph: the input graph and params are never
// modified, and on any error nothing is returned.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mixprec/dtype.h"
#include "mixprec/graph.h"
#include "mixprec/tensor.h"

namespace mixprec::amp {

// Which MXNet generation's rules and default lists to follow.
enum class Compat {
  MXNet2,  // 2.x: order independent, no multicast, outputs restored to their original dtype (default)
  MXNet1,  // 1.x: amp_multicast over inputs of unknown precision, outputs cast to float32, __dtype__ on params
};

// An op that runs in float32 when attribute `attr` is written with one of `values`.
struct ConditionalFp32 {
  std::string op;
  std::string attr;
  std::vector<std::string> values;
  bool operator==(const ConditionalFp32&) const = default;
};

struct AmpOptions {
  DType target_dtype = DType::Float16;  // Float16 or BFloat16
  // Each list, when given, replaces that default list (MXNet semantics). An op named in a user
  // list is moved out of every default list it was in.
  std::optional<std::vector<std::string>> target_dtype_ops;
  std::optional<std::vector<std::string>> fp32_ops;
  std::optional<std::vector<std::string>> widest_dtype_ops;
  std::optional<std::vector<ConditionalFp32>> conditional_fp32_ops;
  std::vector<std::string> excluded_sym_names;  // node names kept in float32
  bool cast_params_offline = false;             // store params in the low type when every user wants it
  std::map<std::string, DType> input_dtypes;    // data inputs; unlisted ones are float32
  Compat compat = Compat::MXNet2;
};

struct AmpStats {
  size_t lp_casts = 0;     // amp_cast to the target dtype
  size_t fp32_casts = 0;   // amp_cast to float32
  size_t other_casts = 0;  // amp_cast to anything else
  size_t multicasts = 0;   // amp_multicast
  size_t lp_nodes = 0;     // original op nodes that now compute in the target dtype
  size_t params_lp = 0;    // params stored in the target dtype
};

struct AmpResult {
  Graph graph;
  TensorMap arg_params;
  TensorMap aux_params;
  std::vector<std::string> warnings;
  AmpStats stats;
};

// The op lists in effect for a conversion (canonical op names).
struct OpLists {
  std::vector<std::string> target_dtype_ops, fp32_ops, widest_dtype_ops, neutral_ops;
  std::vector<ConditionalFp32> conditional_fp32_ops;
};

// MXNet's default lists for this dtype and generation (../shared/reference/mxnet_amp_lists.json).
OpLists default_lists(DType target_dtype, Compat compat = Compat::MXNet2);
// The defaults with the user's overrides applied. Throws mixprec::Error when an op is in two
// user lists, is no known op, or the target dtype is not float16/bfloat16.
OpLists effective_lists(const AmpOptions& options);

// Converts a graph. `param_dtypes` names the variables that are parameters (with their stored
// dtype); every other variable is a data input. Offline casting needs convert_model.
// The graph is taken by value: pass it with std::move to let the result reuse its nodes.
AmpResult convert_symbol(Graph graph, const AmpOptions& options, const std::map<std::string, DType>& param_dtypes = {});

// Converts a graph and its parameters; params marked for offline casting are stored in the low type.
// The params are taken by value: pass them with std::move to convert without holding two copies.
AmpResult convert_model(Graph graph, TensorMap arg_params, TensorMap aux_params, const AmpOptions& options);

// Counts casts in any graph (used for reports and `inspect`).
AmpStats count_casts(const Graph& graph, DType target_dtype);

// MXNet's RemoveAmpCast: rewires every consumer of amp_cast / amp_multicast to the cast's input.
Graph remove_amp_casts(const Graph& graph);

}  // namespace mixprec::amp
