// What both precision passes (MXNet 2.x rules and 1.x compatibility) read, and what they produce.
#pragma once
#include <set>
#include <string>
#include <vector>

#include "amp/exclusions.h"
#include "amp/op_lists.h"
#include "mixprec/graph.h"

namespace mixprec::amp {

struct PassContext {
  Graph& graph;  // the input; the 2.x pass moves its nodes into the result
  DType target;
  const OpCategories& categories;
  const Exclusions& exclusions;
  std::vector<DType> variable_dtype;  // per node; meaningful for variables
  std::vector<bool> is_param;         // per node: a variable with a stored parameter
  std::vector<bool> offline_allowed;  // per node: a param whose values fit the target dtype
  bool cast_params_offline = false;
  std::vector<std::string>* warnings = nullptr;
};

struct PassResult {
  Graph graph;
  // Params whose stored dtype changes (by name) and their new dtype.
  std::vector<std::pair<std::string, DType>> param_dtypes;
  size_t lp_nodes = 0;
};

// MXNet 2.x ReducePrecision: full dtype inference first, two decision sweeps (order
// independent), no multicast, outputs restored to their original dtype, offline cast only when
// every consumer wants the low type (marked `__amp_dtype__`).
PassResult reduce_precision_v2(const PassContext& ctx);
// MXNet 1.x ReducePrecision: one sweep with fp32/low-precision maps, amp_multicast over inputs of
// unknown precision, outputs cast to float32, param dtypes by inference (`__dtype__` on params).
PassResult reduce_precision_v1(const PassContext& ctx);

}  // namespace mixprec::amp
