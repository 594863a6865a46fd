#include <algorithm>
#include <map>

#include "amp/dtype_inference.h"
#include "amp/graph_emitter.h"
#include "amp/pass_context.h"
#include "ops/op_table.h"

namespace mixprec::amp {
namespace {

bool contains(const std::vector<uint32_t>& v, uint32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// MXNet 1.x keeps, per original tensor, the new-graph entry that provides it in float32 and in
// the target type (the tensor itself or a cast); a tensor in neither map has unknown precision.
class PlannerV1 {
 public:
  explicit PlannerV1(const PassContext& ctx) : ctx_(ctx), g_(ctx.graph), em_(ctx.graph) {}

  PassResult run() {
    PassResult r;
    for (uint32_t n = 0; n < g_.nodes.size(); ++n) r.lp_nodes += visit(n) ? 1 : 0;
    std::vector<Entry> heads;
    for (const Entry& h : g_.heads) heads.push_back(in_fp32(h, /*variables_as_is=*/false));
    r.graph = em_.finish(std::move(heads));
    assign_param_dtypes(r);
    return r;
  }

 private:
  static Entry key(Entry e) { return {e.node, e.index, 0}; }
  bool is_var(Entry e) const { return g_.nodes[e.node].is_variable(); }

  Entry in_fp32(Entry e, bool variables_as_is) {
    if (auto it = fp32_.find(key(e)); it != fp32_.end()) return it->second;
    if (variables_as_is && is_var(e)) return em_.mapped(e);
    return em_.cast(e, DType::Float32);
  }

  void record_outputs(uint32_t n, const std::vector<DType>& out) {
    for (uint32_t o = 0; o < out.size(); ++o) {
      const Entry e{n, o, 0};
      if (out[o] == ctx_.target) lp_[e] = em_.mapped(e);
      if (out[o] == DType::Float32) fp32_[e] = em_.mapped(e);
    }
  }

  // Returns true when the node computes in the target type.
  bool visit(uint32_t n) {
    const Node& node = g_.nodes[n];
    const bool excluded = ctx_.exclusions.by_name_or_flag[n];
    if (node.is_variable()) {
      em_.copy_node(n, {});
      if (excluded) record_outputs(n, {DType::Float32});
      return false;
    }
    const Category cat = excluded ? Category::Fp32 : ctx_.categories.of(node.op);
    std::vector<Entry> in;
    if (cat == Category::Fp32) {  // rule A: variables are assumed float32 and wired directly
      for (const Entry& e : node.inputs) in.push_back(in_fp32(e, true));
      em_.copy_node(n, std::move(in));
      record_outputs(n, std::vector<DType>(node.num_outputs, DType::Float32));
      return false;
    }
    if (cat == Category::Target) return visit_target(n);
    if (cat == Category::Widest) return visit_widest(n);
    if (ctx_.exclusions.by_condition[n]) {  // rule D: every non-aux input to float32, variables too
      for (uint32_t s = 0; s < node.inputs.size(); ++s)
        in.push_back(ops::is_mutable_input(node, s) ? em_.mapped(node.inputs[s]) : in_fp32(node.inputs[s], false));
      em_.copy_node(n, std::move(in));
      record_outputs(n, std::vector<DType>(node.num_outputs, DType::Float32));
      return false;
    }
    // Rule E (neutral, unlisted, existing casts): wired as is; the precision of input 0 flows through.
    for (const Entry& e : node.inputs) in.push_back(em_.mapped(e));
    em_.copy_node(n, std::move(in));
    if (node.inputs.empty()) return false;
    const DType p = raw_precision(node.inputs[0]);
    if (p == DType::Unknown) return false;
    std::vector<DType> types(node.inputs.size(), DType::Unknown);
    types[0] = p;
    const std::vector<DType> out = forward_type_rule(node, types);
    record_outputs(n, out);
    return !out.empty() && out[0] == ctx_.target && node.op != "amp_cast" && node.op != "amp_multicast";
  }

  // The precision a tensor has as produced (not through a cast).
  DType raw_precision(Entry e) const {
    auto lp = lp_.find(key(e));
    if (lp != lp_.end() && lp->second == em_.mapped(e)) return ctx_.target;
    auto f = fp32_.find(key(e));
    if (f != fp32_.end() && f->second == em_.mapped(e)) return DType::Float32;
    return DType::Unknown;
  }

  bool visit_target(uint32_t n) {  // rule B
    const Node& node = g_.nodes[n];
    const ops::OpInfo& info = ops::op_info(node.op);
    std::vector<Entry> in;
    for (uint32_t s = 0; s < node.inputs.size(); ++s) {
      const Entry e = node.inputs[s];
      if (auto it = lp_.find(key(e)); it != lp_.end()) {
        in.push_back(it->second);
      } else if (ctx_.cast_params_offline && ctx_.is_param[e.node]) {
        in.push_back(em_.mapped(e));  // stored in the target type; later users take it directly too
        lp_[key(e)] = em_.mapped(e);
      } else if (ops::is_mutable_input(node, s) || contains(info.fp32_inputs, s) || contains(info.index_inputs, s)) {
        in.push_back(em_.mapped(e));
      } else {
        in.push_back(em_.cast(e, ctx_.target));
      }
    }
    em_.copy_node(n, std::move(in));
    std::vector<DType> out(node.num_outputs, ctx_.target);
    for (uint32_t o : info.fp32_outputs)
      if (o < out.size()) out[o] = DType::Float32;
    record_outputs(n, out);
    return true;
  }

  bool visit_widest(uint32_t n) {  // rule C
    const Node& node = g_.nodes[n];
    const bool all_known = std::all_of(node.inputs.begin(), node.inputs.end(),
                                       [&](Entry e) { return lp_.count(key(e)) || fp32_.count(key(e)); });
    if (!all_known) {  // decided at run time: one multicast over the raw inputs, outputs stay unknown
      em_.copy_node(n, em_.multicast(node.inputs));
      return false;
    }
    const bool all_lp = std::all_of(node.inputs.begin(), node.inputs.end(), [&](Entry e) { return lp_.count(key(e)) > 0; });
    std::vector<Entry> in;
    for (const Entry& e : node.inputs) in.push_back(all_lp ? lp_.at(key(e)) : in_fp32(e, false));
    em_.copy_node(n, std::move(in));
    record_outputs(n, std::vector<DType>(node.num_outputs, all_lp ? ctx_.target : DType::Float32));
    return all_lp;
  }

  // MXNet 1.x infers param dtypes on the converted graph with only data inputs typed: a param
  // wired straight into a low-precision op becomes low precision; one behind a cast stays float32.
  void assign_param_dtypes(PassResult& r) {
    Graph& g = r.graph;
    std::vector<std::vector<DType>> t(g.nodes.size());
    for (uint32_t i = 0; i < g.nodes.size(); ++i) {
      const Node& node = g.nodes[i];
      const bool param = node.is_variable() && param_names_().count(node.name);
      t[i].assign(node.num_outputs, node.is_variable() && !param ? DType::Float32 : DType::Unknown);
    }
    auto set = [&](Entry e, DType d) {
      DType& slot = t[e.node][e.index];
      if (slot != DType::Unknown || d == DType::Unknown) return false;
      slot = d;
      return true;
    };
    for (bool changed = true; changed;) {
      changed = false;
      for (uint32_t i = 0; i < g.nodes.size(); ++i) {
        const Node& node = g.nodes[i];
        if (node.is_variable()) continue;
        const ops::OpInfo& info = ops::op_info(node.op);
        std::vector<DType> in;
        for (const Entry& e : node.inputs) in.push_back(t[e.node][e.index]);
        if (info.rule != ops::TypeRule::Uniform) {
          const std::vector<DType> out = forward_type_rule(node, in);
          for (uint32_t o = 0; o < out.size(); ++o) changed |= set({i, o, 0}, out[o]);
          continue;
        }
        DType d = DType::Unknown;  // the shared dtype, from any input or output that knows it
        for (uint32_t s = 0; s < in.size() && d == DType::Unknown; ++s)
          if (follows_data_dtype(node, s) && is_float(in[s])) d = in[s];
        for (uint32_t o = 0; o < node.num_outputs && d == DType::Unknown; ++o)
          if (!contains(info.fp32_outputs, o) && is_float(t[i][o])) d = t[i][o];
        for (uint32_t s = 0; s < in.size(); ++s) {
          if (contains(info.fp32_inputs, s)) changed |= set(node.inputs[s], DType::Float32);
          else if (follows_data_dtype(node, s)) changed |= set(node.inputs[s], d);
        }
        for (uint32_t o = 0; o < node.num_outputs; ++o)
          changed |= set({i, o, 0}, contains(info.fp32_outputs, o) ? DType::Float32 : d);
      }
    }
    if (ctx_.cast_params_offline) infer_unknown_params(g, t);
    for (uint32_t i = 0; i < g.nodes.size(); ++i) {
      Node& node = g.nodes[i];
      if (!node.is_variable() || !param_names_().count(node.name)) continue;
      DType d = t[i][0] == DType::Unknown ? DType::Float32 : t[i][0];
      const auto orig = g_.find(node.name);
      if (d == ctx_.target && orig >= 0 && !ctx_.offline_allowed[static_cast<size_t>(orig)]) d = DType::Float32;
      node.attrs["__dtype__"] = std::to_string(static_cast<int>(d));
      if (d != DType::Float32) r.param_dtypes.emplace_back(node.name, d);
    }
  }

  // MXNet's AMPInferUnknown (cast_optional_params only): an amp_cast of a variable wants it in the
  // cast's dtype, a multicast whose inputs are all variables wants them in the target type; a param
  // of unknown dtype whose demands all agree takes that dtype, one with conflicting demands keeps
  // its original type (CheckAndUpdateInferredDtypes), whatever their order.
  void infer_unknown_params(const Graph& g, std::vector<std::vector<DType>>& t) {
    std::map<uint32_t, std::vector<DType>> cast_targets;
    for (const Node& node : g.nodes) {
      if (node.op == "amp_cast" && g.nodes[node.inputs[0].node].is_variable())
        cast_targets[node.inputs[0].node].push_back(dtype_from_name(node.attr("dtype")).value_or(DType::Unknown));
      if (node.op == "amp_multicast" &&
          std::all_of(node.inputs.begin(), node.inputs.end(), [&](Entry e) { return g.nodes[e.node].is_variable(); }))
        for (const Entry& e : node.inputs) cast_targets[e.node].push_back(ctx_.target);
    }
    for (const auto& target : cast_targets) {
      // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
      const uint32_t v = target.first;
      const std::vector<DType>& ds = target.second;
      if (t[v][0] == DType::Unknown && std::all_of(ds.begin(), ds.end(), [&](DType d) { return d == ds[0]; }))
        t[v][0] = ds[0];
    }
  }

  const std::set<std::string>& param_names_() {
    if (param_names_cache_.empty())
      for (uint32_t i = 0; i < g_.nodes.size(); ++i)
        if (ctx_.is_param[i]) param_names_cache_.insert(g_.nodes[i].name);
    return param_names_cache_;
  }

  const PassContext& ctx_;
  const Graph& g_;  // only read: this pass copies nodes
  GraphEmitter em_;
  std::map<Entry, Entry> fp32_, lp_;
  std::set<std::string> param_names_cache_;
};

}  // namespace

PassResult reduce_precision_v1(const PassContext& ctx) { return PlannerV1(ctx).run(); }

}  // namespace mixprec::amp
