#include <algorithm>
#include <map>
#include <optional>

#include "amp/dtype_inference.h"
#include "amp/graph_emitter.h"
#include "amp/pass_context.h"
#include "mixprec/error.h"
#include "ops/op_table.h"

namespace mixprec::amp {
namespace {

bool contains(const std::vector<uint32_t>& v, uint32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// Embedding's weight and output have the dtype its `dtype` attribute names (float32 unless
// written), whatever the indices are: MXNet's type rule, which the 1.x pass runs with only input 0
// known. Other ops have no such attribute-fixed dtype.
std::optional<DType> attr_fixed_dtype(const Node& node) {
  if (ops::canonical_op_name(node.op) != "Embedding") return std::nullopt;
  return dtype_from_name(node.attr("dtype")).value_or(DType::Float32);
}

// The order MXNet 1.x visits nodes in (nnvm's DFSVisit): post-order depth first from each output in
// turn, a node's inputs in order and then its control dependencies. The pass is order dependent (a
// tensor's precision is known only once some consumer has asked for it), so the order matters. Nodes
// no output reaches, which MXNet drops, follow in their original order.
std::vector<uint32_t> dfs_order(const Graph& g) {
  std::vector<uint32_t> order;
  order.reserve(g.nodes.size());
  std::vector<bool> seen(g.nodes.size(), false);
  auto arity = [&](uint32_t n) { return g.nodes[n].inputs.size() + g.nodes[n].control_deps.size(); };
  auto child = [&](uint32_t n, size_t k) {
    const Node& node = g.nodes[n];
    return k < node.inputs.size() ? node.inputs[k].node : node.control_deps[k - node.inputs.size()];
  };
  std::vector<std::pair<uint32_t, size_t>> stack;
  auto visit_from = [&](uint32_t root) {
    if (seen[root]) return;
    seen[root] = true;
    stack.push_back({root, 0});
    while (!stack.empty()) {
      auto& [n, next] = stack.back();
      if (next == arity(n)) {
        order.push_back(n);
        stack.pop_back();
        continue;
      }
      const uint32_t in = child(n, next++);
      if (!seen[in]) {
        seen[in] = true;
        stack.push_back({in, 0});
      }
    }
  };
  for (const Entry& h : g.heads) visit_from(h.node);
  for (uint32_t n = 0; n < g.nodes.size(); ++n)
    if (!seen[n]) visit_from(n);
  return order;
}

// MXNet 1.x keeps, per original tensor, the new-graph entry that provides it in float32 and in
// the target type (the tensor itself or a cast); a tensor in neither map has unknown precision.
// Every cast the pass inserts is recorded in the map of its dtype, so a tensor cast for one
// consumer has a known precision for every later one (a widest op then needs no multicast, a
// neutral op reading it takes the cast's dtype). Map keys are whole entries, version included.
class PlannerV1 {
 public:
  explicit PlannerV1(const PassContext& ctx) : ctx_(ctx), g_(ctx.graph), em_(ctx.graph) {}

  PassResult run() {
    PassResult r;
    for (uint32_t n : dfs_order(g_)) r.lp_nodes += visit(n) ? 1 : 0;
    std::vector<Entry> heads;
    for (const Entry& h : g_.heads) heads.push_back(in_fp32(h, /*variables_as_is=*/false));
    r.graph = em_.finish(std::move(heads));
    assign_param_dtypes(r);
    return r;
  }

 private:
  bool is_var(Entry e) const { return g_.nodes[e.node].is_variable(); }

  // MXNet's AddCastNode: the cast becomes the tensor's entry in the map of its dtype.
  Entry cast(Entry e, DType to) {
    const Entry c = em_.cast(e, to);
    (to == DType::Float32 ? fp32_ : lp_)[e] = c;
    return c;
  }

  Entry in_fp32(Entry e, bool variables_as_is) {
    if (auto it = fp32_.find(e); it != fp32_.end()) return it->second;
    if (variables_as_is && is_var(e)) return em_.mapped(e);
    return cast(e, DType::Float32);
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
    // Rule E (neutral, unlisted, existing casts): wired as is; the precision input 0 is known in
    // flows through. Known means in a map, through a cast too: MXNet then infers the op as if it
    // read that cast (the low type first), although it is wired to the tensor itself.
    for (const Entry& e : node.inputs) in.push_back(em_.mapped(e));
    em_.copy_node(n, std::move(in));
    if (node.inputs.empty()) return false;
    const Entry first = node.inputs[0];
    const DType p = lp_.count(first) ? ctx_.target : fp32_.count(first) ? DType::Float32 : DType::Unknown;
    if (p == DType::Unknown) return false;
    std::vector<DType> types(node.inputs.size(), DType::Unknown);
    types[0] = p;
    const auto fixed = attr_fixed_dtype(node);
    const std::vector<DType> out =
        fixed ? std::vector<DType>(node.num_outputs, *fixed) : forward_type_rule(node, types);
    record_outputs(n, out);
    return !out.empty() && out[0] == ctx_.target && node.op != "amp_cast" && node.op != "amp_multicast";
  }

  bool visit_target(uint32_t n) {  // rule B
    const Node& node = g_.nodes[n];
    const ops::OpInfo& info = ops::op_info(node.op);
    const auto fixed = attr_fixed_dtype(node);
    // MXNet casts an input only when the op's type rule wants it in the target type.
    auto wants_other_type = [&](uint32_t s) {
      return contains(info.fp32_inputs, s) || (fixed && follows_data_dtype(node, s) && *fixed != ctx_.target);
    };
    std::vector<Entry> in;
    for (uint32_t s = 0; s < node.inputs.size(); ++s) {
      const Entry e = node.inputs[s];
      if (auto it = lp_.find(e); it != lp_.end()) {
        in.push_back(it->second);
      } else if (ctx_.cast_params_offline && ctx_.is_param[e.node] && ctx_.offline_allowed[e.node]) {
        // Stored in the target type; later users take it directly too. A param beyond the target's
        // range stays float32 (a deliberate difference) and so takes the runtime cast below.
        in.push_back(em_.mapped(e));
        lp_[e] = em_.mapped(e);
      } else if (ops::is_mutable_input(node, s) || wants_other_type(s) || contains(info.index_inputs, s)) {
        in.push_back(em_.mapped(e));
      } else {
        in.push_back(cast(e, ctx_.target));
      }
    }
    em_.copy_node(n, std::move(in));
    std::vector<DType> out(node.num_outputs, fixed.value_or(ctx_.target));
    for (uint32_t o : info.fp32_outputs)
      if (o < out.size()) out[o] = DType::Float32;
    record_outputs(n, out);
    return out[0] == ctx_.target;
  }

  bool visit_widest(uint32_t n) {  // rule C
    const Node& node = g_.nodes[n];
    const bool all_known = std::all_of(node.inputs.begin(), node.inputs.end(),
                                       [&](Entry e) { return lp_.count(e) || fp32_.count(e); });
    if (!all_known) {  // decided at run time: one multicast over the raw inputs, outputs stay unknown
      em_.copy_node(n, em_.multicast(node.inputs));
      return false;
    }
    // Float32 as soon as one input has a float32 version, even when it has a low one too.
    const bool all_lp =
        std::none_of(node.inputs.begin(), node.inputs.end(), [&](Entry e) { return fp32_.count(e) > 0; });
    std::vector<Entry> in;
    for (const Entry& e : node.inputs) in.push_back(all_lp ? lp_.at(e) : in_fp32(e, false));
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
        // The shared dtype: fixed by an attribute, else from any input or output that knows it.
        DType d = attr_fixed_dtype(node).value_or(DType::Unknown);
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
    refuse_untypable(g, t);
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

  // MXNet 1.x type-checks the converted graph (data inputs float32) and refuses the conversion when
  // an op's inputs disagree: a neutral op marked low because its input 0 has a low cast while it
  // reads the float32 tensor itself, a loss op run low beside its float32 label, a param wired
  // straight into a low and a float32 op. Such a graph would not load in MXNet either, so it is
  // refused here too, naming the op, instead of written.
  void refuse_untypable(const Graph& g, const std::vector<std::vector<DType>>& t) const {
    for (uint32_t i = 0; i < g.nodes.size(); ++i) {
      const Node& node = g.nodes[i];
      if (node.is_variable() || ops::op_info(node.op).rule != ops::TypeRule::Uniform) continue;
      const ops::OpInfo& info = ops::op_info(node.op);
      const auto fixed = attr_fixed_dtype(node);
      DType d = fixed.value_or(DType::Unknown);
      std::string first = fixed ? "its dtype attribute" : "";
      bool label = false;
      auto check = [&](DType x, const std::string& what, bool fixed_fp32) {
        if (!is_float(x)) return;
        const std::string is = what + " is " + std::string(dtype_name(x));
        if (fixed_fp32) {
          if (x != DType::Float32) fail(node, is + " where float32 is required", label);
        } else if (d == DType::Unknown) {
          d = x;
          first = what;
        } else if (x != d) {
          fail(node, is + " and " + first + " " + std::string(dtype_name(d)), label);
        }
      };
      for (uint32_t s = 0; s < node.inputs.size(); ++s) {
        const DType x = t[node.inputs[s].node][node.inputs[s].index];
        const std::string what = "input " + std::to_string(s) + " (" + g.nodes[node.inputs[s].node].name + ")";
        label = ops::input_role(node, s) == ops::InputRole::Label;
        if (contains(info.fp32_inputs, s)) check(x, what, true);
        else if (follows_data_dtype(node, s) || label) check(x, what, false);  // MXNet: a label shares the data's dtype
      }
      label = false;
      for (uint32_t o = 0; o < node.num_outputs; ++o)
        check(t[i][o], "output " + std::to_string(o), contains(info.fp32_outputs, o));
    }
  }

  [[noreturn]] static void fail(const Node& node, const std::string& why, bool label) {
    throw Error("", "node '" + node.name + "' (" + node.op + ")",
                "the MXNet 1.x rules give a graph whose types disagree (" + why + ")" +
                    (label ? ", since labels are never cast" : "") +
                    ": MXNet cannot type it either; convert with the mxnet2 rules (the default) instead");
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
