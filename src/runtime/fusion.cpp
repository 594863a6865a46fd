#include "runtime/fusion.h"

#include "runtime/kernels/nn_util.h"

namespace mixprec::runtime {
namespace {

bool is_batchnorm(const std::string& op) {
  return op == "BatchNorm" || op == "BatchNorm_v1" || op == "_contrib_SyncBatchNorm" || op == "_contrib_BatchNormWithReLU";
}
bool is_add(const std::string& op) { return op == "elemwise_add" || op == "broadcast_add" || op == "_plus" || op == "_Plus" || op == "_grad_add"; }
bool is_relu(const Node& n) { return n.op == "Activation" && n.attr("act_type") == "relu"; }

// Whether node k, reading the chain's value at input `port`, can be computed by the epilogue.
bool joinable(const FusionView& v, uint32_t k, uint32_t port, const Shape& value_shape) {
  const Node& n = v.graph.nodes[k];
  if (v.shapes[v.offset[k]] != value_shape) return false;
  if (is_relu(n) || n.op == "amp_cast") return port == 0 && n.num_outputs == 1;
  if (is_add(n.op)) {
    return n.inputs.size() == 2 && v.shapes[v.offset[n.inputs[0].node] + n.inputs[0].index] == value_shape &&
           v.shapes[v.offset[n.inputs[1].node] + n.inputs[1].index] == value_shape;
  }
  if (is_batchnorm(n.op)) {
    if (port != 0 || n.inputs.size() != 5 || value_shape.size() < 2) return false;
    const std::string axis = n.attr("axis");
    if (!axis.empty() && axis != "1" && !(value_shape.size() == 4 && axis == "-3") && !(value_shape.size() == 3 && axis == "-2")) return false;
    for (uint32_t i = 1; i < 5; ++i)
      if (!v.param(n.inputs[i]) || v.param(n.inputs[i])->storage != DType::Float32) return false;
    for (uint32_t o = 1; o < n.num_outputs; ++o)
      if (v.uses[v.offset[k] + o] != 0) return false;  // someone reads the statistics
    return true;
  }
  return false;
}

}  // namespace

std::vector<ConvGroup> plan_conv_groups(const FusionView& v, bool fuse) {
  const Graph& g = v.graph;
  // The one reader of each slot that has exactly one (graph outputs count as readers with no node).
  std::vector<int64_t> reader(v.uses.size(), -1);
  std::vector<uint32_t> reader_port(v.uses.size(), 0);
  for (uint32_t k = 0; k < g.nodes.size(); ++k)
    for (uint32_t p = 0; p < g.nodes[k].inputs.size(); ++p) {
      const Entry& e = g.nodes[k].inputs[p];
      reader[v.offset[e.node] + e.index] = k;
      reader_port[v.offset[e.node] + e.index] = p;
    }

  std::vector<ConvGroup> groups;
  std::vector<bool> taken(g.nodes.size(), false);
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.op != "Convolution" || n.inputs.size() < 2 || taken[i]) continue;
    if (v.param(n.inputs[0]) || !v.param(n.inputs[1]) || (n.inputs.size() > 2 && !v.param(n.inputs[2]))) continue;
    ConvGroup grp;
    grp.conv = i;
    const Shape& shape = v.shapes[v.offset[i]];
    uint32_t cur = i;
    while (fuse) {
      const uint32_t slot = v.offset[cur];
      if (v.uses[slot] != 1 || reader[slot] < 0) break;  // other readers, or a graph output
      const auto k = static_cast<uint32_t>(reader[slot]);
      if (taken[k] || !joinable(v, k, reader_port[slot], shape)) break;
      const Node& next = g.nodes[k];
      if (is_add(next.op)) grp.residuals.push_back(next.inputs[1 - reader_port[slot]]);
      grp.absorbed.push_back(k);
      taken[k] = true;
      cur = k;
    }
    groups.push_back(std::move(grp));
  }
  return groups;
}

Epilogue build_epilogue(const FusionView& v, const ConvGroup& group) {
  Epilogue e;
  EpilogueStep conv_round;
  conv_round.dtype = v.dtypes[v.offset[group.conv]];
  e.add(std::move(conv_round));
  int residual = 0;
  for (uint32_t k : group.absorbed) {
    const Node& n = v.graph.nodes[k];
    EpilogueStep s;
    s.dtype = v.dtypes[v.offset[k]];
    if (is_batchnorm(n.op)) {
      s.kind = EpilogueStep::Kind::BatchNorm;
      const float* gamma = v.param(n.inputs[1])->v.data();
      const float* beta = v.param(n.inputs[2])->v.data();
      const float* mean = v.param(n.inputs[3])->v.data();
      const float* var = v.param(n.inputs[4])->v.data();
      const int64_t C = v.shapes[v.offset[k]][1];
      s.scale = batchnorm_scale(gamma, var, C, nn::attr_float(n, "eps", 1e-3), nn::attr_bool(n, "fix_gamma", true));
      s.mean.assign(mean, mean + C);
      s.beta.assign(beta, beta + C);
      s.relu = n.op == "_contrib_BatchNormWithReLU";
    } else if (is_relu(n)) {
      s.kind = EpilogueStep::Kind::Relu;
    } else if (is_add(n.op)) {
      s.kind = EpilogueStep::Kind::Add;
      s.residual = residual++;
    } else {
      s.kind = EpilogueStep::Kind::Cast;
    }
    e.add(std::move(s));
  }
  return e;
}

}  // namespace mixprec::runtime
