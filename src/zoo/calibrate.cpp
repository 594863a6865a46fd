#include "zoo/calibrate.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "mixprec/attrs.h"
#include "mixprec/error.h"
#include "runtime/kernel.h"
#include "runtime/session.h"
#include "zoo/weights.h"

namespace mixprec::zoo {
namespace {

using runtime::Buf;
using runtime::Shape;

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// ---- where the BatchNorms are ----

// A BatchNorm whose running statistics are calibrated: its node, its data input, and the names of
// its running mean and variance (aux params of the model).
struct BatchNormSite {
  uint32_t node = 0;
  Entry data;
  std::string mean, var;
};

bool is_batchnorm(const std::string& op) {
  return op == "BatchNorm" || op == "BatchNorm_v1" || op == "_contrib_SyncBatchNorm" || op == "_contrib_BatchNormWithReLU";
}

std::vector<BatchNormSite> batchnorm_sites(const ZooModel& m) {
  std::vector<BatchNormSite> sites;
  for (uint32_t i = 0; i < m.graph.nodes.size(); ++i) {
    const Node& n = m.graph.nodes[i];
    if (!is_batchnorm(n.op) || n.inputs.size() != 5) continue;
    BatchNormSite s{i, n.inputs[0], m.graph.nodes[n.inputs[3].node].name, m.graph.nodes[n.inputs[4].node].name};
    if (m.aux_params.count(s.mean) && m.aux_params.count(s.var)) sites.push_back(std::move(s));
  }
  return sites;
}

// The channel axis, as the engine's kernel reads it: only BatchNorm and BatchNormWithReLU take `axis`.
size_t channel_axis(const Node& bn, size_t ndim) {
  int64_t axis = 1;
  if ((bn.op == "BatchNorm" || bn.op == "_contrib_BatchNormWithReLU") && !bn.attr("axis").empty())
    axis = attrs::parse_int(bn.attr("axis"), "axis");
  const auto d = static_cast<int64_t>(ndim);
  if (axis < 0) axis += d;
  if (axis < 0 || axis >= d) throw Error("", bn.name, "calibration: axis out of range for " + std::to_string(ndim) + " dimensions");
  return static_cast<size_t>(axis);
}

// ---- the calibration batch ----

// Output shapes of every node for the given input shapes, by the engine kernels' own shape rules.
std::vector<std::vector<Shape>> infer_shapes(const ZooModel& m, const std::map<std::string, Shape>& inputs) {
  const Graph& g = m.graph;
  std::vector<std::vector<Shape>> shapes(g.nodes.size());
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.is_variable()) {
      if (auto a = m.arg_params.find(n.name); a != m.arg_params.end()) shapes[i] = {a->second.shape};
      else if (auto x = m.aux_params.find(n.name); x != m.aux_params.end()) shapes[i] = {x->second.shape};
      else if (auto in = inputs.find(n.name); in != inputs.end()) shapes[i] = {in->second};
      else throw Error("", n.name, "calibration: a variable that is neither a parameter nor an input");
      continue;
    }
    const runtime::KernelDef* k = runtime::kernels().find(n.op);
    if (!k) throw Error("", n.name, "calibration: the engine has no kernel for " + n.op);
    std::vector<Shape> in;
    for (const Entry& e : n.inputs) in.push_back(shapes[e.node].at(e.index));
    shapes[i] = k->infer_shape(n, in);
  }
  return shapes;
}

// The smallest batch that gives every BatchNorm kMinChannelSamples values per channel, within
// [kMinCalibrationBatch, kMaxCalibrationBatch]. Per-channel counts grow linearly with the batch.
int64_t calibration_batch(const ZooModel& m, const std::vector<BatchNormSite>& sites) {
  if (sites.empty()) return kMinCalibrationBatch;
  std::map<std::string, Shape> one;
  for (const auto& [name, shape] : m.inputs) {
    Shape s = shape;
    s.at(0) = 1;
    one[name] = s;
  }
  const std::vector<std::vector<Shape>> shapes = infer_shapes(m, one);
  int64_t fewest = INT64_MAX;
  for (const BatchNormSite& s : sites) {
    const Shape& x = shapes[s.data.node].at(s.data.index);
    fewest = std::min(fewest, numel(x) / std::max<int64_t>(x.at(channel_axis(m.graph.nodes[s.node], x.size())), 1));
  }
  const int64_t batch = (kMinChannelSamples + std::max<int64_t>(fewest, 1) - 1) / std::max<int64_t>(fewest, 1);
  return std::clamp(batch, kMinCalibrationBatch, kMaxCalibrationBatch);
}

// ---- the calibration inputs ----

// Rows of the smallest Embedding table that input `id` indexes; 0 when no Embedding reads it.
int64_t embedding_rows(const Graph& g, uint32_t id) {
  int64_t rows = 0;
  for (const Node& n : g.nodes) {
    if (n.op != "Embedding" || n.inputs.empty() || n.inputs[0].node != id) continue;
    const int64_t r = attrs::parse_int(n.attr("input_dim", "0"), "input_dim of " + n.name);
    if (r > 0) rows = rows == 0 ? r : std::min(rows, r);
  }
  return rows;
}

// Seeded inputs of `batch` rows: N(0, 1) values, or ids uniform over the table an Embedding reads.
std::map<std::string, Buf> calibration_inputs(const ZooModel& m, int64_t batch, uint64_t seed) {
  std::map<std::string, Buf> out;
  for (const auto& [name, shape] : m.inputs) {
    Shape s = shape;
    s.at(0) = batch;
    const int64_t rows = embedding_rows(m.graph, static_cast<uint32_t>(m.graph.find(name)));
    const Tensor t = make_param(seed, {"calibration:" + name, s, rows > 0 ? Init::Uniform : Init::Normal});
    Buf b;
    b.shape = s;
    b.v.assign(t.as<float>(), t.as<float>() + t.numel());
    // u <= 1 - 2^-24, so floor(u * rows) <= rows - 1 for any table under 2^24 rows.
    if (rows > 0)
      for (float& x : b.v) x = static_cast<float>(std::floor(static_cast<double>(x) * static_cast<double>(rows)));
    out[name] = std::move(b);
  }
  return out;
}

// ---- statistics ----

// Sum of (p[i] - shift)^Power over n values, in double, with four partial sums.
template <int Power>
double sum_of_powers(const float* p, int64_t n, double shift) {
  double part[4] = {};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int l = 0; l < 4; ++l) {
      const double v = static_cast<double>(p[i + l]) - shift;
      part[l] += Power == 1 ? v : v * v;
    }
  for (; i < n; ++i) {
    const double v = static_cast<double>(p[i]) - shift;
    part[0] += Power == 1 ? v : v * v;
  }
  return (part[0] + part[1]) + (part[2] + part[3]);
}

// Per-channel mean and population variance of x over every axis but `axis`; the variance is taken
// around the mean in a second pass. Each channel is summed by one thread, in a fixed order.
void channel_moments(const Buf& x, size_t axis, std::vector<float>& mean, std::vector<float>& var) {
  const int64_t C = x.shape.at(axis);
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; ++d) outer *= x.shape[d];
  for (size_t d = axis + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
  const auto count = static_cast<double>(std::max<int64_t>(outer * inner, 1));
  mean.assign(static_cast<size_t>(C), 0.0f);
  var.assign(static_cast<size_t>(C), 0.0f);
  const float* p = x.v.data();
#pragma omp parallel for schedule(static) if (x.numel() > (1 << 16))
  for (int64_t c = 0; c < C; ++c) {
    double s = 0.0;
    for (int64_t o = 0; o < outer; ++o) s += sum_of_powers<1>(p + (o * C + c) * inner, inner, 0.0);
    const double mu = s / count;
    double q = 0.0;
    for (int64_t o = 0; o < outer; ++o) q += sum_of_powers<2>(p + (o * C + c) * inner, inner, mu);
    mean[static_cast<size_t>(c)] = static_cast<float>(mu);
    var[static_cast<size_t>(c)] = static_cast<float>(q / count);
  }
}

double stddev(const std::vector<float>& v) {
  if (v.empty()) return 0.0;
  const auto n = static_cast<double>(v.size());
  const double mu = sum_of_powers<1>(v.data(), static_cast<int64_t>(v.size()), 0.0) / n;
  return std::sqrt(sum_of_powers<2>(v.data(), static_cast<int64_t>(v.size()), mu) / n);
}

// Writes a running statistic into the session (nodes later in the same run read it) and the model.
void set_statistic(runtime::Session& s, ZooModel& m, const std::string& name, const std::vector<float>& v) {
  Buf* b = s.mutable_param(name);
  Tensor& t = m.aux_params.at(name);
  if (!b || b->v.size() != v.size() || t.dtype != DType::Float32 || t.numel() != static_cast<int64_t>(v.size()))
    throw Error("", name, "calibration: not a float32 statistic of " + std::to_string(v.size()) + " channels");
  std::copy(v.begin(), v.end(), b->v.begin());
  std::copy(v.begin(), v.end(), t.as<float>());
}

void scale_param(ZooModel& m, const std::string& name, float factor) {
  auto it = m.arg_params.find(name);
  if (it == m.arg_params.end() || it->second.dtype != DType::Float32) return;
  float* p = it->second.as<float>();
  for (int64_t i = 0; i < it->second.numel(); ++i) p[i] *= factor;
}

}  // namespace

int64_t final_layer_of(const Graph& g, Entry head) {
  uint32_t id = head.node;
  for (;;) {
    const Node& n = g.nodes.at(id);
    if (n.op == "FullyConnected" || n.op == "Convolution") return id;
    const bool homogeneous = n.op == "Flatten" || n.op == "Reshape" || n.op == "Pooling" || n.op == "Dropout" ||
                             (n.op == "Activation" && n.attr("act_type") == "relu");
    if (!homogeneous || n.inputs.empty()) return -1;
    id = n.inputs[0].node;
  }
}

CalibrationResult calibrate(ZooModel& m, uint64_t seed) {
  CalibrationResult r;
  const std::vector<BatchNormSite> sites = batchnorm_sites(m);
  std::vector<std::pair<size_t, uint32_t>> finals;  // (head, its final layer), each layer once
  for (size_t k = 0; k < m.graph.heads.size(); ++k) {
    const int64_t f = final_layer_of(m.graph, m.graph.heads[k]);
    if (f >= 0 && std::none_of(finals.begin(), finals.end(), [&](const auto& p) { return p.second == f; }))
      finals.emplace_back(k, static_cast<uint32_t>(f));
  }
  if (sites.empty() && finals.empty()) return r;

  r.batch = calibration_batch(m, sites);
  const std::map<std::string, Buf> inputs = calibration_inputs(m, r.batch, seed);
  runtime::SessionOptions o;
  o.fuse = false;  // the observer must see the input of every BatchNorm before that BatchNorm runs
  for (const auto& [name, b] : inputs) o.input_shapes[name] = b.shape;
  runtime::Session session(m.graph, m.arg_params, m.aux_params, o);

  auto calibrate_site = [&](const BatchNormSite& s, const Buf& x) {
    std::vector<float> mean, var;
    channel_moments(x, channel_axis(m.graph.nodes[s.node], x.shape.size()), mean, var);
    set_statistic(session, m, s.mean, mean);
    set_statistic(session, m, s.var, var);
    ++r.batchnorms;
  };
  // A BatchNorm reading a graph input is calibrated from that input now; the others when the node
  // producing their input has run.
  std::map<std::pair<uint32_t, uint32_t>, std::vector<const BatchNormSite*>> readers;
  for (const BatchNormSite& s : sites) {
    const Node& src = m.graph.nodes[s.data.node];
    if (!src.is_variable()) {
      readers[{s.data.node, s.data.index}].push_back(&s);
    } else if (auto in = inputs.find(src.name); in != inputs.end()) {
      calibrate_site(s, in->second);
    }  // else a BatchNorm of a parameter: no data to learn from
  }
  const std::vector<Buf> outputs = session.run(inputs, [&](uint32_t node, const std::vector<const Buf*>& outs) {
    for (uint32_t k = 0; k < outs.size(); ++k)
      if (auto it = readers.find({node, k}); it != readers.end())
        for (const BatchNormSite* s : it->second) calibrate_site(*s, *outs[k]);
  });

  for (const auto& [head, layer] : finals) {
    const double sd = stddev(outputs.at(head).v);
    if (!(sd > 0.0) || !std::isfinite(sd)) continue;  // nothing sensible to scale by
    const auto factor = static_cast<float>(kLogitStd / sd);
    const Node& n = m.graph.nodes[layer];
    for (size_t p = 1; p < n.inputs.size(); ++p) scale_param(m, m.graph.nodes[n.inputs[p].node].name, factor);
    r.final_layers.push_back(n.name);
    r.logit_scales.push_back(factor);
  }
  return r;
}

}  // namespace mixprec::zoo
