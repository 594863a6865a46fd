#include <algorithm>
#include <set>

#include "amp/dtype_inference.h"
#include "amp/graph_emitter.h"
#include "amp/pass_context.h"
#include "ops/op_table.h"

namespace mixprec::amp {
namespace {

constexpr DType kAsIs = DType::Unknown;  // an input wired without any cast

bool contains(const std::vector<uint32_t>& v, uint32_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

bool passes_through(const std::string& op) { return op == "amp_cast" || op == "amp_multicast" || op == "Cast"; }

class PlannerV2 {
 public:
  explicit PlannerV2(const PassContext& ctx) : ctx_(ctx), g_(ctx.graph) {
    const DTypeTable t = infer_dtypes(g_, [&](uint32_t i) { return ctx.variable_dtype[i]; });
    // Flat per-output tables: offset_[n] is node n's first output.
    offset_.reserve(g_.nodes.size() + 1);
    offset_.push_back(0);
    for (const auto& outs : t) {
      orig_.insert(orig_.end(), outs.begin(), outs.end());
      offset_.push_back(static_cast<uint32_t>(orig_.size()));
    }
    // Per-node facts that do not change between sweeps: the category and what low precision needs.
    category_.resize(g_.nodes.size());
    lp_req_.resize(g_.nodes.size());
    for (uint32_t n = 0; n < g_.nodes.size(); ++n) {
      const Node& node = g_.nodes[n];
      if (node.is_variable()) continue;
      const bool excluded = ctx.exclusions.by_name_or_flag[n] || ctx.exclusions.by_condition[n];
      category_[n] = excluded ? Category::Fp32 : ctx.categories.of(node.op);
      lp_req_[n] = lp_requirements(n);
    }
  }

  PassResult run() {
    // Sweep 1 only discovers which casts exist; sweep 2 decides again knowing them, so a neutral
    // op visited before the op that forced a cast of its input still reuses that cast.
    sweep();
    sweep();
    if (ctx_.cast_params_offline) plan_offline_params();
    return emit();
  }

 private:
  DType cur(Entry e) const { return cur_[offset_[e.node] + e.index]; }
  DType orig(Entry e) const { return orig_[offset_[e.node] + e.index]; }
  DType& cur_out(uint32_t n, uint32_t o) { return cur_[offset_[n] + o]; }
  void reset_outputs(uint32_t n) { std::copy(orig_.begin() + offset_[n], orig_.begin() + offset_[n + 1], cur_.begin() + offset_[n]); }
  bool has(Entry e, DType d) const { return cur(e) == d || seen_casts_.count({e.node, e.index, d}) > 0; }

  void request(uint32_t n, uint32_t slot, DType d) {
    want_[n][slot] = d;
    const Entry e = g_.nodes[n].inputs[slot];
    if (d != kAsIs && cur(e) != d) seen_casts_.insert({e.node, e.index, d});
  }

  void keep_original(uint32_t n) {
    const Node& node = g_.nodes[n];
    for (uint32_t s = 0; s < node.inputs.size(); ++s) request(n, s, orig(node.inputs[s]));
    reset_outputs(n);
  }

  // The dtype each input needs when `n` computes in the target type (kAsIs: left alone).
  std::vector<DType> lp_requirements(uint32_t n) const {
    const Node& node = g_.nodes[n];
    const ops::OpInfo& info = ops::op_info(node.op);
    std::vector<DType> req(node.inputs.size(), kAsIs);
    for (uint32_t s = 0; s < node.inputs.size(); ++s) {
      const DType o = orig(node.inputs[s]);
      if (contains(info.index_inputs, s) || !is_float(o)) continue;  // indices and ints keep their type
      req[s] = contains(info.fp32_inputs, s) ? DType::Float32 : ctx_.target;
    }
    return req;
  }

  bool try_low_precision(uint32_t n) {
    const Node& node = g_.nodes[n];
    const std::vector<DType>& req = lp_req_[n];
    bool any_lp = false;
    for (uint32_t s = 0; s < req.size(); ++s) {
      if (req[s] == ctx_.target && ops::is_mutable_input(node, s)) return false;  // aux states stay as stored
      any_lp = any_lp || req[s] == ctx_.target;
    }
    if (!any_lp) return false;
    for (uint32_t s = 0; s < req.size(); ++s) request(n, s, req[s] == kAsIs ? cur(node.inputs[s]) : req[s]);
    const ops::OpInfo& info = ops::op_info(node.op);
    for (uint32_t o = 0; o < node.num_outputs; ++o) {
      const DType od = orig({n, o, 0});
      cur_out(n, o) = contains(info.fp32_outputs, o) ? DType::Float32 : (is_float(od) || od == DType::Unknown ? ctx_.target : od);
    }
    lp_[n] = true;
    return true;
  }

  bool some_data_input_has_lp(uint32_t n) const {
    const std::vector<DType>& req = lp_req_[n];
    for (uint32_t s = 0; s < req.size(); ++s)
      if (req[s] == ctx_.target && has(g_.nodes[n].inputs[s], ctx_.target)) return true;
    return false;
  }

  // A widest-type op runs low only when every input already has the needed dtype: no new cast.
  bool all_inputs_free(uint32_t n) const {
    const std::vector<DType>& req = lp_req_[n];
    for (uint32_t s = 0; s < req.size(); ++s)
      if (req[s] != kAsIs && !has(g_.nodes[n].inputs[s], req[s])) return false;
    return true;
  }

  void decide(uint32_t n) {
    const Node& node = g_.nodes[n];
    if (node.is_variable()) return;
    if (passes_through(node.op)) {  // casts already in the graph stay as they are
      std::vector<DType> in;
      for (uint32_t s = 0; s < node.inputs.size(); ++s) {
        request(n, s, kAsIs);
        in.push_back(cur(node.inputs[s]));
      }
      const std::vector<DType> out = forward_type_rule(node, in);
      std::copy(out.begin(), out.end(), cur_.begin() + offset_[n]);
      return;
    }
    switch (category_[n]) {
      case Category::Fp32:
      case Category::Unknown: keep_original(n); return;
      case Category::Target:
        if (!try_low_precision(n)) {
          if (!warned_.count(n) && sweep_ == 2)
            ctx_.warnings->push_back("node '" + node.name + "' (" + node.op +
                                     "): no input can run in the low type (aux state or no float input); kept in its original precision");
          warned_.insert(n);
          keep_original(n);
        }
        return;
      case Category::Widest:
        if (some_data_input_has_lp(n) && all_inputs_free(n) && try_low_precision(n)) return;
        keep_original(n);
        return;
      case Category::Neutral:
        if (some_data_input_has_lp(n) && try_low_precision(n)) return;
        keep_original(n);
        return;
    }
  }

  void sweep() {
    ++sweep_;
    cur_ = orig_;
    if (want_.empty()) {
      want_.resize(g_.nodes.size());
      for (uint32_t n = 0; n < g_.nodes.size(); ++n) want_[n].resize(g_.nodes[n].inputs.size());
    }
    for (auto& w : want_) std::fill(w.begin(), w.end(), kAsIs);
    lp_.assign(g_.nodes.size(), false);
    for (uint32_t n = 0; n < g_.nodes.size(); ++n) decide(n);
  }

  // A param is stored in the low type when every use of it reads a low-type cast of it.
  void plan_offline_params() {
    std::vector<int> lp_uses(g_.nodes.size(), 0), other_uses(g_.nodes.size(), 0);
    for (uint32_t n = 0; n < g_.nodes.size(); ++n)
      for (uint32_t s = 0; s < g_.nodes[n].inputs.size(); ++s) {
        const Entry e = g_.nodes[n].inputs[s];
        const DType w = want_[n][s];
        (w == ctx_.target && cur(e) != w ? lp_uses : other_uses)[e.node]++;
      }
    for (const Entry& h : g_.heads) other_uses[h.node]++;
    for (uint32_t v = 0; v < g_.nodes.size(); ++v) {
      if (!ctx_.is_param[v] || lp_uses[v] == 0 || other_uses[v] != 0) continue;
      if (!ctx_.offline_allowed[v]) continue;
      cur_out(v, 0) = ctx_.target;  // every consumer now reads the stored low-type param directly
      offline_.push_back(v);
    }
  }

  PassResult emit() {
    GraphEmitter em(g_);
    auto wire = [&](Entry e, DType want) { return want == kAsIs || want == cur(e) ? em.mapped(e) : em.cast(e, want); };
    PassResult r;
    for (uint32_t n = 0; n < g_.nodes.size(); ++n) {
      std::vector<Entry> in;
      in.reserve(g_.nodes[n].inputs.size());
      for (uint32_t s = 0; s < g_.nodes[n].inputs.size(); ++s) in.push_back(wire(g_.nodes[n].inputs[s], want_[n][s]));
      em.copy_node(n, std::move(in));
      r.lp_nodes += lp_[n] ? 1 : 0;
    }
    for (uint32_t v : offline_) {
      em.new_node(v).attrs["__amp_dtype__"] = std::string(dtype_name(ctx_.target));
      r.param_dtypes.emplace_back(g_.nodes[v].name, ctx_.target);
    }
    std::vector<Entry> heads;
    for (const Entry& h : g_.heads) heads.push_back(wire(h, orig(h)));  // outputs keep their original dtype
    r.graph = em.finish(std::move(heads));
    return r;
  }

  struct CastKey {
    uint32_t node, index;
    DType to;
    auto operator<=>(const CastKey&) const = default;
  };

  const PassContext& ctx_;
  const Graph& g_;
  std::vector<uint32_t> offset_;
  std::vector<DType> orig_, cur_;
  std::vector<Category> category_;
  std::vector<std::vector<DType>> lp_req_;
  std::vector<std::vector<DType>> want_;
  std::vector<bool> lp_;
  std::set<CastKey> seen_casts_;
  std::set<uint32_t> warned_;
  std::vector<uint32_t> offline_;
  int sweep_ = 0;
};

}  // namespace

PassResult reduce_precision_v2(const PassContext& ctx) { return PlannerV2(ctx).run(); }

}  // namespace mixprec::amp
