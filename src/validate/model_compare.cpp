#include "validate/model_compare.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "mixprec/error.h"

namespace mixprec::validate {

double largest_finite(DType t) {
  switch (t) {
    case DType::Float16: return 65504.0;
    case DType::BFloat16: return 3.3895313892515355e38;
    case DType::Float64: return std::numeric_limits<double>::max();
    default: return std::numeric_limits<float>::max();
  }
}

double unit_roundoff(DType t) {
  switch (t) {
    case DType::Float16: return 0x1p-11;
    case DType::BFloat16: return 0x1p-8;
    case DType::Float64: return 0x1p-53;
    default: return 0x1p-24;
  }
}

namespace {

double finite_peak(const runtime::Buf& b) {
  double peak = 0;
  for (float x : b.v)
    if (std::isfinite(x)) peak = std::max(peak, std::fabs(static_cast<double>(x)));
  return peak;
}

// Values non-finite in `cand` where `ref` is finite (positions compared only when shapes match).
int64_t new_nonfinite(const runtime::Buf* ref, const runtime::Buf& cand) {
  int64_t n = 0;
  const bool aligned = ref && ref->shape == cand.shape;
  for (size_t i = 0; i < cand.v.size(); ++i)
    if (!std::isfinite(cand.v[i]) && (!aligned || std::isfinite(ref->v[i]))) ++n;
  return n;
}

double relative_rounding_error(const std::vector<float>& computed, const std::vector<float>& stored) {
  double num = 0, den = 0;
  for (size_t i = 0; i < computed.size() && i < stored.size(); ++i) {
    const double y = computed[i], r = stored[i];
    if (!std::isfinite(y)) continue;                                        // inherited, not this node's
    if (!std::isfinite(r)) return std::numeric_limits<double>::infinity();  // overflow while rounding
    num += (r - y) * (r - y);
    den += y * y;
  }
  return den > 0 ? std::sqrt(num / den) : 0.0;
}

}  // namespace

Comparison compare_models(runtime::Session& ref, runtime::Session& cand, const std::map<std::string, runtime::Buf>& inputs,
                          const CompareOptions& options) {
  const Graph& rg = ref.graph();
  const Graph& cg = cand.graph();
  size_t done = 0;
  size_t total = 0;
  for (const Graph* g : {&rg, &cg})
    for (const Node& n : g->nodes) total += n.is_variable() ? 0 : 1;
  auto tick = [&] {
    if (options.progress) options.progress(++done, total);
  };

  // The reference's first output of every op node, by name (conversion keeps node names).
  std::map<std::string, runtime::Buf> ref_nodes;
  const std::vector<runtime::Buf> ref_out = ref.run(inputs, [&](uint32_t n, const std::vector<const runtime::Buf*>& outs) {
    ref_nodes[rg.nodes[n].name] = *outs[0];
    tick();
  });
  auto reference_of = [&](uint32_t n) -> const runtime::Buf* {
    const Node& node = cg.nodes[n];
    if (auto it = ref_nodes.find(node.name); it != ref_nodes.end()) return &it->second;
    // An inserted cast has no reference twin: the tensor it casts stands in for it.
    if ((node.op == "amp_cast" || node.op == "amp_multicast") && !node.inputs.empty())
      if (auto it = ref_nodes.find(cg.nodes[node.inputs[0].node].name); it != ref_nodes.end()) return &it->second;
    return nullptr;
  };

  Comparison c;
  std::vector<float> computed;  // the node's first output before rounding
  const std::vector<runtime::Buf> cand_out = cand.run(
      inputs,
      [&](uint32_t n, const std::vector<const runtime::Buf*>& outs) {
        tick();
        const Node& node = cg.nodes[n];
        const DType dt = cand.dtype_of({n, 0, 0});
        if (!c.first_nonfinite) {
          const runtime::Buf* r = reference_of(n);
          if (const int64_t bad = new_nonfinite(r, *outs[0]); bad > 0)
            c.first_nonfinite = NonfiniteOrigin{node.name, node.op, dt, bad, r ? finite_peak(*r) : 0.0};
        }
        if (is_low_precision(dt) && !computed.empty()) {
          const double rel = relative_rounding_error(computed, outs[0]->v);
          c.largest_own_errors.push_back({node.name, node.op, dt, rel, rel / unit_roundoff(dt)});
        }
        computed.clear();
      },
      [&](uint32_t, const std::vector<const runtime::Buf*>& outs) { computed = outs[0]->v; });

  if (ref_out.size() != cand_out.size())
    throw Error("", "outputs", "reference has " + std::to_string(ref_out.size()) + " outputs, candidate " +
                                   std::to_string(cand_out.size()));
  for (size_t i = 0; i < ref_out.size(); ++i) c.outputs.push_back(compare(ref_out[i], cand_out[i], options.class_axis));
  c.reference = ref_out;
  c.candidate = cand_out;
  auto& own = c.largest_own_errors;
  std::stable_sort(own.begin(), own.end(), [](const OwnError& a, const OwnError& b) { return a.in_roundoff > b.in_roundoff; });
  if (own.size() > options.own_errors) own.resize(options.own_errors);
  return c;
}

}  // namespace mixprec::validate
