// Helpers for AMP tests: describe every cast of a converted graph, and count tensors the way
// MXNet 2.x's tests do (lp16 tensors, lp16 casts, other casts).
#pragma once
#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "amp/dtype_inference.h"
#include "mixprec/amp.h"
#include "mixprec/graph.h"
#include "ops/op_table.h"

namespace mixprec::testing {

// Options for the MXNet 1.x rules in `t`.
inline amp::AmpOptions v1(DType t = DType::Float16) {
  amp::AmpOptions o;
  o.compat = amp::Compat::MXNet1;
  o.target_dtype = t;
  return o;
}

// One cast: "src->dtype:user1,user2" with users sorted (heads appear as "@out<k>").
inline std::vector<std::string> describe_casts(const Graph& g) {
  const auto users = g.consumers();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.op != "amp_cast" && n.op != "amp_multicast") continue;
    std::vector<std::string> u;
    for (auto [c, s] : users[i]) u.push_back(g.nodes[c].name);
    for (size_t h = 0; h < g.heads.size(); ++h)
      if (g.heads[h].node == i) u.push_back("@out" + std::to_string(h));
    std::sort(u.begin(), u.end());
    std::string s;
    for (size_t k = 0; k < n.inputs.size(); ++k) s += (k ? "+" : "") + g.nodes[n.inputs[k].node].name;
    s += n.op == "amp_cast" ? "->" + n.attr("dtype") : "->multicast";
    s += ":";
    for (size_t k = 0; k < u.size(); ++k) s += (k ? "," : "") + u[k];
    out.push_back(s);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// MXNet 2.x test counts: (op outputs in the low type, amp_casts to it, other amp_casts).
// Variables hold float32 unless marked `__amp_dtype__`.
inline std::tuple<int, int, int> mxnet_counts(const Graph& g, DType target) {
  const auto t = amp::infer_dtypes(g, [&](uint32_t i) {
    const std::string& a = g.nodes[i].attr("__amp_dtype__");
    return a.empty() ? DType::Float32 : *dtype_from_name(a);
  });
  int lp = 0, lp_casts = 0, other = 0;
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.is_variable()) continue;
    for (uint32_t o = 0; o < ops::num_visible_outputs(n); ++o) lp += t[i][o] == target ? 1 : 0;
    if (n.op == "amp_cast") (t[i][0] == target ? lp_casts : other)++;
  }
  return {lp, lp_casts, other};
}

inline TensorMap float_params(const std::vector<std::string>& names) {
  TensorMap m;
  for (const auto& n : names) m[n] = Tensor::from_floats({2}, {0.5f, -0.25f});
  return m;
}

}  // namespace mixprec::testing
