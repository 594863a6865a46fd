// The public entry points: validate options, find exclusions, run the chosen pass, then retype
// the params the plan says to store in the low type.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>

#include "amp/exclusions.h"
#include "amp/op_lists.h"
#include "amp/pass_context.h"
#include "mixprec/amp.h"
#include "mixprec/error.h"

namespace mixprec::amp {
namespace {

// Largest finite value of the target type: params beyond it would turn into inf.
float max_finite(DType t) { return t == DType::Float16 ? 65504.0f : 3.38953139e38f; }

// Name of the first element that the target type cannot hold, or -1.
int64_t first_out_of_range(const Tensor& t, DType target) {
  if (t.dtype != DType::Float32) return -1;
  const float lim = max_finite(target);
  const float* v = t.as<float>();
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i)
    if (std::isfinite(v[i]) && std::fabs(v[i]) > lim) return i;
  return -1;
}

// The cast nodes the passes interpret must be well formed (a graph read from a file may hold
// anything): amp_cast and Cast read one tensor into one output, amp_multicast has one output per
// input.
void check_cast_nodes(const Graph& g, const std::string& source) {
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    auto fail = [&](const std::string& why) {
      throw Error(source, "node " + std::to_string(i) + " ('" + n.name + "')", why);
    };
    if ((n.op == "amp_cast" || n.op == "Cast") && (n.inputs.size() != 1 || n.num_outputs != 1))
      fail(n.op + " must have 1 input and 1 output, it has " + std::to_string(n.inputs.size()) + " and " +
           std::to_string(n.num_outputs));
    if (n.op == "amp_multicast" && (n.inputs.empty() || n.inputs.size() != n.num_outputs))
      fail("amp_multicast must have as many outputs as inputs (at least 1), it has " + std::to_string(n.inputs.size()) +
           " inputs and " + std::to_string(n.num_outputs) + " outputs");
  }
}

// A model already converted to the other 16-bit type would come out holding both: refused, since
// its float32 meaning cannot be recovered from the rounded params (convert the FP32 model instead).
void refuse_other_low_type(const Graph& g, DType target, const std::map<std::string, DType>& param_dtypes) {
  std::map<DType, size_t> casts;
  for (const Node& n : g.nodes)
    if (n.op == "amp_cast" || n.op == "Cast")
      if (auto d = dtype_from_name(n.attr("dtype")); d && is_low_precision(*d) && *d != target) ++casts[*d];
  for (const auto& [d, count] : casts)
    throw Error("", "input graph", "already converted to " + std::string(dtype_name(d)) + " (" + std::to_string(count) +
                                       " casts to it); converting it to " + std::string(dtype_name(target)) +
                                       " would mix both types: convert the FP32 model instead");
  for (const auto& [name, d] : param_dtypes)
    if (is_low_precision(d) && d != target)
      throw Error("", "param '" + name + "'", "is stored in " + std::string(dtype_name(d)) + "; converting to " +
                                                 std::string(dtype_name(target)) +
                                                 " would mix both types: convert the FP32 model instead");
}

AmpResult run(Graph& graph, const AmpOptions& options, const std::map<std::string, DType>& param_dtypes,
              const std::set<std::string>& out_of_range) {
  graph.verify("input graph");
  check_cast_nodes(graph, "input graph");
  if (is_low_precision(options.target_dtype)) refuse_other_low_type(graph, options.target_dtype, param_dtypes);
  AmpResult result;
  const OpLists lists = effective_lists(options);
  const OpCategories cats(lists);
  const Exclusions ex = find_exclusions(graph, cats, options.excluded_sym_names, result.warnings);

  PassContext ctx{graph, options.target_dtype, cats, ex, {}, {}, {}, options.cast_params_offline, &result.warnings};
  ctx.variable_dtype.assign(graph.nodes.size(), DType::Unknown);
  ctx.is_param.assign(graph.nodes.size(), false);
  ctx.offline_allowed.assign(graph.nodes.size(), false);
  std::set<std::string> unknown_ops, inputs_seen;
  for (uint32_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& n = graph.nodes[i];
    if (!n.is_variable()) {
      if (cats.of(n.op) == Category::Unknown && unknown_ops.insert(n.op).second)
        result.warnings.push_back("op '" + n.op + "' is in no AMP list and unknown to MXNet: kept in its original precision");
      continue;
    }
    if (auto p = param_dtypes.find(n.name); p != param_dtypes.end()) {
      ctx.is_param[i] = true;
      ctx.variable_dtype[i] = p->second;
      ctx.offline_allowed[i] = !out_of_range.count(n.name);
    } else if (auto d = options.input_dtypes.find(n.name); d != options.input_dtypes.end()) {
      ctx.variable_dtype[i] = d->second;
      inputs_seen.insert(n.name);
    } else {
      ctx.variable_dtype[i] = DType::Float32;  // data inputs default to float32, as in MXNet
    }
  }
  for (const auto& [name, dt] : options.input_dtypes)
    if (!inputs_seen.count(name) && !param_dtypes.count(name))
      throw Error("", "input_dtypes", "'" + name + "' is not an input of the graph");

  PassResult pass = options.compat == Compat::MXNet1 ? reduce_precision_v1(ctx) : reduce_precision_v2(ctx);
  result.graph = std::move(pass.graph);
  result.stats = count_casts(result.graph, options.target_dtype);
  result.stats.lp_nodes = pass.lp_nodes;
  result.stats.params_lp = pass.param_dtypes.size();
  return result;
}

std::string shortest(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
  return buf;
}

// A param beyond the target's range matters only where its values are cast to the target type (an
// aux state or a param only float32 ops read keeps its values): there those elements become inf.
void warn_out_of_range_casts(AmpResult& r, const std::set<std::string>& out_of_range, const TensorMap& arg,
                             const TensorMap& aux, const AmpOptions& options) {
  if (out_of_range.empty()) return;
  const std::string lp(dtype_name(options.target_dtype));
  const auto readers = r.graph.consumers();
  for (uint32_t id : r.graph.variable_ids()) {
    const std::string& name = r.graph.nodes[id].name;
    if (!out_of_range.count(name)) continue;
    const Node* cast = nullptr;
    for (const auto& [reader, slot] : readers[id]) {
      const Node& n = r.graph.nodes[reader];
      if ((n.op == "amp_cast" && dtype_from_name(n.attr("dtype")) == options.target_dtype) || n.op == "amp_multicast") cast = &n;
    }
    if (!cast) continue;
    const Tensor& t = arg.count(name) ? arg.at(name) : aux.at(name);
    const int64_t at = first_out_of_range(t, options.target_dtype);
    r.warnings.push_back("param '" + name + "' holds values beyond the " + lp + " range (element " + std::to_string(at) + ": " +
                         shortest(t.as<float>()[at]) + ") and is cast to " + lp + " by '" + cast->name +
                         "': those elements become inf" +
                         (options.cast_params_offline ? "; it is kept in float32 storage" : ""));
  }
}

}  // namespace

AmpResult convert_symbol(Graph graph, const AmpOptions& options, const std::map<std::string, DType>& param_dtypes) {
  return run(graph, options, param_dtypes, {});
}

AmpResult convert_model(Graph graph, TensorMap arg_params, TensorMap aux_params, const AmpOptions& options) {
  std::map<std::string, DType> dtypes;
  std::set<std::string> out_of_range;
  for (const TensorMap* m : {&arg_params, &aux_params})
    for (const auto& [name, t] : *m) {
      if (!dtypes.emplace(name, t.dtype).second)
        throw Error("", "params", "'" + name + "' is both an arg and an aux param");
      if (is_low_precision(options.target_dtype) && first_out_of_range(t, options.target_dtype) >= 0) out_of_range.insert(name);
    }
  AmpResult r = run(graph, options, dtypes, out_of_range);
  warn_out_of_range_casts(r, out_of_range, arg_params, aux_params, options);

  // Plan done; now retype the params the plan stores in the low type, one tensor at a time.
  r.arg_params = std::move(arg_params);
  r.aux_params = std::move(aux_params);
  for (const Node& n : r.graph.nodes) {
    if (!n.is_variable()) continue;
    const std::string& named = n.attr(options.compat == Compat::MXNet1 ? "__dtype__" : "__amp_dtype__");
    if (named.empty()) continue;
    std::optional<DType> to;
    if (options.compat == Compat::MXNet1) {
      // A data input may carry any text here (the pass writes the attribute on params only).
      int64_t code = -1;
      const auto [end, ec] = std::from_chars(named.data(), named.data() + named.size(), code);
      if (ec == std::errc() && end == named.data() + named.size()) to = dtype_from_code(code);
    } else {
      to = dtype_from_name(named);
    }
    if (!to) continue;
    for (TensorMap* m : {&r.arg_params, &r.aux_params})
      if (auto it = m->find(n.name); it != m->end() && it->second.dtype != *to && is_float(it->second.dtype))
        it->second = it->second.astype(*to);
  }
  return r;
}

AmpStats count_casts(const Graph& graph, DType target) {
  AmpStats s;
  for (const Node& n : graph.nodes) {
    if (n.op == "amp_multicast") ++s.multicasts;
    if (n.op != "amp_cast") continue;
    const auto d = dtype_from_name(n.attr("dtype"));
    if (d == target) ++s.lp_casts;
    else if (d == DType::Float32) ++s.fp32_casts;
    else ++s.other_casts;
  }
  return s;
}

Graph remove_amp_casts(const Graph& g) {
  // Each consumer of a cast reads what the cast read; casts are then dropped and ids compacted.
  g.verify("graph");
  check_cast_nodes(g, "graph");
  std::vector<int64_t> new_id(g.nodes.size(), -1);
  Graph out;
  out.attrs = g.attrs;
  std::vector<std::vector<Entry>> resolved(g.nodes.size());
  auto resolve = [&](Entry e) -> Entry {
    const Node& p = g.nodes[e.node];
    if (p.op == "amp_cast") return resolved[e.node][0];
    if (p.op == "amp_multicast") return resolved[e.node][e.index];
    return {static_cast<uint32_t>(new_id[e.node]), e.index, e.version};
  };
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.op == "amp_cast" || n.op == "amp_multicast") {
      for (const Entry& e : n.inputs) resolved[i].push_back(resolve(e));
      continue;
    }
    Node c = n;
    for (Entry& e : c.inputs) e = resolve(e);
    // A control dependency on a dropped cast becomes one on the nodes the cast read.
    c.control_deps.clear();
    for (uint32_t d : n.control_deps) {
      if (new_id[d] >= 0) {
        c.control_deps.push_back(static_cast<uint32_t>(new_id[d]));
        continue;
      }
      for (const Entry& r : resolved[d])
        if (std::find(c.control_deps.begin(), c.control_deps.end(), r.node) == c.control_deps.end())
          c.control_deps.push_back(r.node);
    }
    new_id[i] = static_cast<int64_t>(out.nodes.size());
    out.nodes.push_back(std::move(c));
  }
  for (const Entry& h : g.heads) out.heads.push_back(resolve(h));
  return out;
}

}  // namespace mixprec::amp
