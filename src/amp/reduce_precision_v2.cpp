#include <algorithm>
#include <set>
#include <unordered_set>

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
    FlatDTypes t = infer_dtypes_flat(g_, [&](uint32_t i) { return ctx.variable_dtype[i]; });
    offset_ = std::move(t.offset);  // offset_[n]: node n's first output
    orig_ = std::move(t.dtypes);
    // Per input slot, flat: in_offset_[n] is node n's first slot.
    in_offset_.reserve(g_.nodes.size() + 1);
    in_offset_.push_back(0);
    for (const Node& node : g_.nodes) in_offset_.push_back(in_offset_.back() + static_cast<uint32_t>(node.inputs.size()));
    want_.assign(in_offset_.back(), kAsIs);
    // Per-node facts that do not change between sweeps: the category and what low precision needs.
    category_.resize(g_.nodes.size());
    lp_req_.assign(in_offset_.back(), kAsIs);
    for (uint32_t n = 0; n < g_.nodes.size(); ++n) {
      const Node& node = g_.nodes[n];
      if (node.is_variable()) continue;
      const bool excluded = ctx.exclusions.by_name_or_flag[n] || ctx.exclusions.by_condition[n];
      category_[n] = excluded ? Category::Fp32 : ctx.categories.of(node.op);
      fill_lp_requirements(n);
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
  static uint64_t cast_key(Entry e, DType d) {
    return (uint64_t{e.node} << 32) | (uint64_t{e.index} << 8) | static_cast<uint8_t>(d);
  }
  bool has(Entry e, DType d) const { return cur(e) == d || seen_casts_.count(cast_key(e, d)) > 0; }
  DType& want(uint32_t n, uint32_t slot) { return want_[in_offset_[n] + slot]; }
  DType want(uint32_t n, uint32_t slot) const { return want_[in_offset_[n] + slot]; }
  DType req(uint32_t n, uint32_t slot) const { return lp_req_[in_offset_[n] + slot]; }
  uint32_t slots(uint32_t n) const { return in_offset_[n + 1] - in_offset_[n]; }

  void request(uint32_t n, uint32_t slot, DType d) {
    want(n, slot) = d;
    const Entry e = g_.nodes[n].inputs[slot];
    if (d != kAsIs && cur(e) != d) seen_casts_.insert(cast_key(e, d));
  }

  void keep_original(uint32_t n) {
    const Node& node = g_.nodes[n];
    for (uint32_t s = 0; s < node.inputs.size(); ++s) request(n, s, orig(node.inputs[s]));
    reset_outputs(n);
  }

  // The dtype each input needs when `n` computes in the target type (kAsIs: left alone).
  void fill_lp_requirements(uint32_t n) {
    const Node& node = g_.nodes[n];
    const ops::OpInfo& info = ops::op_info(node.op);
    for (uint32_t s = 0; s < node.inputs.size(); ++s) {
      const DType o = orig(node.inputs[s]);
      // Indices, ints and float64 keep their type (an amp_cast would leave float64 as it is).
      if (contains(info.index_inputs, s) || !amp_cast_converts(o)) continue;
      lp_req_[in_offset_[n] + s] = contains(info.fp32_inputs, s) ? DType::Float32 : ctx_.target;
    }
  }

  bool try_low_precision(uint32_t n) {
    const Node& node = g_.nodes[n];
    bool any_lp = false;
    for (uint32_t s = 0; s < slots(n); ++s) {
      if (req(n, s) == ctx_.target && ops::is_mutable_input(node, s)) return false;  // aux states stay as stored
      any_lp = any_lp || req(n, s) == ctx_.target;
    }
    if (!any_lp) return false;
    for (uint32_t s = 0; s < slots(n); ++s) request(n, s, req(n, s) == kAsIs ? cur(node.inputs[s]) : req(n, s));
    const ops::OpInfo& info = ops::op_info(node.op);
    for (uint32_t o = 0; o < node.num_outputs; ++o) {
      const DType od = orig({n, o, 0});
      cur_out(n, o) = contains(info.fp32_outputs, o) ? DType::Float32 : (is_float(od) || od == DType::Unknown ? ctx_.target : od);
    }
    lp_[n] = true;
    return true;
  }

  bool some_data_input_has_lp(uint32_t n) const {
    for (uint32_t s = 0; s < slots(n); ++s)
      if (req(n, s) == ctx_.target && has(g_.nodes[n].inputs[s], ctx_.target)) return true;
    return false;
  }

  // A widest-type op runs low only when every input already has the needed dtype: no new cast.
  bool all_inputs_free(uint32_t n) const {
    for (uint32_t s = 0; s < slots(n); ++s)
      if (req(n, s) != kAsIs && !has(g_.nodes[n].inputs[s], req(n, s))) return false;
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
    std::fill(want_.begin(), want_.end(), kAsIs);
    lp_.assign(g_.nodes.size(), false);
    for (uint32_t n = 0; n < g_.nodes.size(); ++n) decide(n);
  }

  // A param is stored in the low type when every use of it reads a low-type cast of it.
  void plan_offline_params() {
    std::vector<int> lp_uses(g_.nodes.size(), 0), other_uses(g_.nodes.size(), 0);
    for (uint32_t n = 0; n < g_.nodes.size(); ++n)
      for (uint32_t s = 0; s < g_.nodes[n].inputs.size(); ++s) {
        const Entry e = g_.nodes[n].inputs[s];
        const DType w = want(n, s);
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
      for (uint32_t s = 0; s < g_.nodes[n].inputs.size(); ++s) in.push_back(wire(g_.nodes[n].inputs[s], want(n, s)));
      em.move_node(n, std::move(in));  // the input graph is consumed here, after all decisions
      r.lp_nodes += lp_[n] ? 1 : 0;
    }
    for (uint32_t v : offline_) {
      em.new_node(v).attrs["__amp_dtype__"] = std::string(dtype_name(ctx_.target));
      r.param_dtypes.emplace_back(em.new_node(v).name, ctx_.target);
    }
    std::vector<Entry> heads;
    for (const Entry& h : g_.heads) heads.push_back(wire(h, orig(h)));  // outputs keep their original dtype
    r.graph = em.finish(std::move(heads));
    return r;
  }

  const PassContext& ctx_;
  Graph& g_;
  std::vector<uint32_t> offset_, in_offset_;
  std::vector<DType> orig_, cur_;
  std::vector<Category> category_;
  std::vector<DType> lp_req_, want_;  // per input slot
  std::vector<bool> lp_;
  std::unordered_set<uint64_t> seen_casts_;
  std::set<uint32_t> warned_;
  std::vector<uint32_t> offline_;
  int sweep_ = 0;
};

}  // namespace

PassResult reduce_precision_v2(const PassContext& ctx) { return PlannerV2(ctx).run(); }

}  // namespace mixprec::amp
