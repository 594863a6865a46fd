#include "runtime/session.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "amp/dtype_inference.h"
#include "mixprec/attrs.h"
#include "mixprec/error.h"
#include "mixprec/half.h"

namespace mixprec::runtime {

void round_to_dtype(std::vector<float>& v, DType t) {
  if (t == DType::Float16) round_floats_to_halves(v.data(), v.size());
  if (t == DType::BFloat16) round_floats_to_bfloat16s(v.data(), v.size());
}

namespace {

Buf to_buf(const Tensor& t, const std::string& name) {
  Buf b;
  b.shape = t.shape;
  if (!is_float(t.dtype) && t.dtype != DType::Int32 && t.dtype != DType::Int64 && t.dtype != DType::UInt8 && t.dtype != DType::Int8)
    throw Error("", "param '" + name + "'", "dtype " + std::string(dtype_name(t.dtype)) + " is not supported by the engine");
  const auto n = static_cast<size_t>(t.numel());
  b.v.resize(n);
  switch (t.dtype) {
    case DType::Float32: std::copy_n(t.as<float>(), n, b.v.begin()); break;
    case DType::Float16: halves_to_floats(t.as<uint16_t>(), b.v.data(), n); break;
    case DType::BFloat16: bfloat16s_to_floats(t.as<uint16_t>(), b.v.data(), n); break;
    case DType::Float64: for (size_t i = 0; i < n; ++i) b.v[i] = static_cast<float>(t.as<double>()[i]); break;
    case DType::Int32: for (size_t i = 0; i < n; ++i) b.v[i] = static_cast<float>(t.as<int32_t>()[i]); break;
    case DType::Int64: for (size_t i = 0; i < n; ++i) b.v[i] = static_cast<float>(t.as<int64_t>()[i]); break;
    case DType::UInt8: for (size_t i = 0; i < n; ++i) b.v[i] = t.as<uint8_t>()[i]; break;
    case DType::Int8: for (size_t i = 0; i < n; ++i) b.v[i] = t.as<int8_t>()[i]; break;
    default: break;
  }
  return b;
}

// Low-precision weights that only FullyConnected reads stay 16-bit: half the bytes per inference.
Buf keep_low(const Tensor& t) {
  Buf b;
  b.shape = t.shape;
  b.storage = t.dtype;
  b.lp.resize(static_cast<size_t>(t.numel()));
  std::memcpy(b.lp.data(), t.data.data(), b.lp.size() * 2);
  return b;
}

// Low-precision weights whose readers widen them on the fly (FullyConnected's weight, a prepared
// Convolution's weight) stay 16-bit: half the bytes in memory and per inference.
bool only_feeds_widening_readers(const Graph& g, uint32_t v) {
  bool any = false;
  for (const Node& n : g.nodes)
    for (uint32_t s = 0; s < n.inputs.size(); ++s) {
      if (n.inputs[s].node != v) continue;
      if ((n.op != "FullyConnected" && n.op != "Convolution") || s != 1) return false;
      any = true;
    }
  return any;
}

void widen_in_place(Buf& b) {
  if (b.storage == DType::Float32) return;
  b.v.resize(b.lp.size());
  if (b.storage == DType::Float16) {
    halves_to_floats(b.lp.data(), b.v.data(), b.lp.size());
  } else {
    bfloat16s_to_floats(b.lp.data(), b.v.data(), b.lp.size());
  }
  b.lp = {};
  b.storage = DType::Float32;
}

// True when every reader of variable `v` is a loss op's label slot (SoftmaxOutput's input 1, ...).
bool only_feeds_labels(const Graph& g, uint32_t v) {
  bool any = false;
  for (const Node& n : g.nodes)
    for (uint32_t s = 0; s < n.inputs.size(); ++s) {
      if (n.inputs[s].node != v) continue;
      const bool label = s == 1 && n.op.size() > 6 && n.op.compare(n.op.size() - 6, 6, "Output") == 0;
      if (!label) return false;
      any = true;
    }
  return any;
}

}  // namespace

Session::Session(Graph graph, const TensorMap& arg, const TensorMap& aux, SessionOptions options)
    : graph_(std::move(graph)), threads_(options.threads), unrounded_(options.observe_unrounded) {
  if (unrounded_ && options.fuse) throw Error("", "model", "observing unrounded outputs needs an unfused session");
  // Before any primitive is built: oneDNN sizes its work split by the thread count it sees then.
  if (threads_ > 0) omp_set_num_threads(threads_);
  graph_.verify("model");
  const Graph& g = graph_;
  auto param = [&](const std::string& name) -> const Tensor* {
    if (auto it = arg.find(name); it != arg.end()) return &it->second;
    if (auto it = aux.find(name); it != aux.end()) return &it->second;
    return nullptr;
  };

  // Which ops lack a kernel: all of them are reported at once, before anything runs.
  std::set<std::string> missing;
  kernel_.assign(g.nodes.size(), nullptr);
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    if (g.nodes[i].is_variable()) continue;
    kernel_[i] = kernels().find(g.nodes[i].op);
    if (!kernel_[i]) missing.insert(g.nodes[i].op);
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    throw Error("", "model", "the engine has no kernel for: " + list);
  }

  // dtypes: params as stored, data inputs float32 unless told otherwise.
  amp::FlatDTypes t = amp::infer_dtypes_flat(g, [&](uint32_t i) {
    const Node& n = g.nodes[i];
    if (const Tensor* p = param(n.name)) return p->dtype;
    auto d = options.input_dtypes.find(n.name);
    return d == options.input_dtypes.end() ? DType::Float32 : d->second;
  });
  offset_ = std::move(t.offset);
  dtypes_ = std::move(t.dtypes);

  // shapes, node by node; params and inputs first.
  shapes_.assign(dtypes_.size(), {});
  params_.assign(dtypes_.size(), {});
  is_param_.assign(dtypes_.size(), false);
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.is_variable()) {
      if (const Tensor* p = param(n.name)) {
        params_[offset_[i]] = is_low_precision(p->dtype) && only_feeds_widening_readers(g, i) ? keep_low(*p) : to_buf(*p, n.name);
        is_param_[offset_[i]] = true;
        shapes_[offset_[i]] = p->shape;
        continue;
      }
      input_names_.push_back(n.name);
      input_node_[n.name] = i;
      if (auto s = options.input_shapes.find(n.name); s != options.input_shapes.end()) {
        shapes_[offset_[i]] = s->second;
      } else if (!n.attr("__shape__").empty()) {
        shapes_[offset_[i]] = attrs::parse_tuple(n.attr("__shape__"), "__shape__ of " + n.name);
      } else if (only_feeds_labels(g, i)) {
        shapes_[offset_[i]] = {1};  // a training label: inference kernels never read it
        labels_.insert(n.name);
      } else {
        throw Error("", "input '" + n.name + "'", "no shape given (and the variable has no __shape__ attribute)");
      }
      for (int64_t d : shapes_[offset_[i]])
        if (d <= 0) throw Error("", "input '" + n.name + "'", "shape " + attrs::format_tuple(shapes_[offset_[i]]) + " has an unknown dimension");
      continue;
    }
    std::vector<Shape> in;
    for (const Entry& e : n.inputs) in.push_back(shape_of(e));
    std::vector<Shape> out = kernel_[i]->infer_shape(n, in);
    if (out.size() != n.num_outputs)
      throw Error("", "node '" + n.name + "'", "kernel gave " + std::to_string(out.size()) + " output shapes, the node has " +
                                                   std::to_string(n.num_outputs));
    for (uint32_t o = 0; o < n.num_outputs; ++o) shapes_[offset_[i] + o] = std::move(out[o]);
  }

  fold_param_casts();

  // Reference counts, so that activations are freed after their last reader.
  uses_.assign(dtypes_.size(), 0);
  for (const Node& n : g.nodes)
    for (const Entry& e : n.inputs) ++uses_[offset_[e.node] + e.index];
  for (const Entry& h : g.heads) ++uses_[offset_[h.node] + h.index];

  plan_convolutions(options.fuse);
}

void Session::fold_param_casts() {
  const Graph& g = graph_;
  folded_.assign(g.nodes.size(), false);
  std::vector<int> readers(dtypes_.size(), 0), folded_readers(dtypes_.size(), 0);
  for (const Node& n : g.nodes)
    for (const Entry& e : n.inputs) ++readers[offset_[e.node] + e.index];
  for (const Entry& h : g.heads) ++readers[offset_[h.node] + h.index];
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.op != "amp_cast" || n.inputs.size() != 1) continue;
    const uint32_t in = offset_[n.inputs[0].node] + n.inputs[0].index, out = offset_[i];
    if (!is_param_[in]) continue;
    Buf b = params_[in];
    widen_in_place(b);
    round_to_dtype(b.v, dtypes_[out]);
    if (is_low_precision(dtypes_[out]) && only_feeds_widening_readers(g, i)) {
      Buf low{b.shape, {}, dtypes_[out], std::vector<uint16_t>(b.v.size())};
      if (dtypes_[out] == DType::Float16) {
        floats_to_halves(b.v.data(), low.lp.data(), b.v.size());  // exact: the values are float16 already
      } else {
        floats_to_bfloat16s(b.v.data(), low.lp.data(), b.v.size());
      }
      b = std::move(low);
    }
    params_[out] = std::move(b);
    is_param_[out] = true;
    folded_[i] = true;
    ++folded_readers[in];
  }
  for (size_t s = 0; s < params_.size(); ++s)
    if (is_param_[s] && readers[s] > 0 && readers[s] == folded_readers[s]) params_[s] = Buf{params_[s].shape, {}};
}

void Session::plan_convolutions(bool fuse) {
  const Graph& g = graph_;
  const FusionView view{g, offset_, dtypes_, shapes_, uses_, [this](Entry e) -> const Buf* {
                          const uint32_t s = offset_[e.node] + e.index;
                          return is_param_[s] ? &params_[s] : nullptr;
                        }};
  groups_ = plan_conv_groups(view, fuse);
  group_at_.assign(g.nodes.size(), -1);
  in_group_.assign(g.nodes.size(), false);
  for (size_t k = 0; k < groups_.size(); ++k) {
    const ConvGroup& grp = groups_[k];
    const Node& conv = g.nodes[grp.conv];
    const Buf* bias = conv.inputs.size() > 2 ? view.param(conv.inputs[2]) : nullptr;
    Epilogue epilogue = build_epilogue(view, grp);
    if (unrounded_) {  // the convolution alone, left in float32: run() rounds it after observing
      epilogue = Epilogue{};
      epilogue.add(EpilogueStep{});
    }
    plans_.push_back(std::make_unique<ConvPlan>(conv, shape_of(conv.inputs[0]), shapes_[offset_[grp.conv]], *view.param(conv.inputs[1]),
                                                bias, std::move(epilogue)));
    group_at_[grp.tail()] = static_cast<int>(k);
    in_group_[grp.conv] = true;
    for (uint32_t a : grp.absorbed) in_group_[a] = true;
  }
  // Parameters: a plan holds its convolution's weights in its own layout, so the session's copy goes
  // when plans are its only readers; 16-bit ones that a plain kernel reads after all are widened.
  std::vector<bool> plan_only(dtypes_.size(), true);
  for (uint32_t i = 0; i < g.nodes.size(); ++i)
    for (uint32_t p = 0; p < g.nodes[i].inputs.size(); ++p) {
      const Entry& e = g.nodes[i].inputs[p];
      const bool plan_weight = in_group_[i] && g.nodes[i].op == "Convolution" && p == 1;
      if (!plan_weight) plan_only[offset_[e.node] + e.index] = false;
      const bool widens = (g.nodes[i].op == "FullyConnected" && p == 1) || plan_weight;
      if (!widens && is_param_[offset_[e.node] + e.index]) widen_in_place(params_[offset_[e.node] + e.index]);
    }
  for (const Entry& h : g.heads) plan_only[offset_[h.node] + h.index] = false;
  for (size_t s = 0; s < params_.size(); ++s)
    if (is_param_[s] && plan_only[s]) params_[s] = Buf{params_[s].shape, {}};
}

Buf* Session::mutable_param(const std::string& name) {
  const int64_t id = graph_.find(name);
  if (id < 0 || !graph_.nodes[static_cast<size_t>(id)].is_variable()) return nullptr;
  const uint32_t s = offset_[static_cast<size_t>(id)];
  Buf& b = params_[s];
  if (!is_param_[s] || b.storage != DType::Float32 || static_cast<int64_t>(b.v.size()) != b.numel()) return nullptr;
  return &b;
}

size_t Session::weight_bytes() const {
  size_t n = 0;
  for (const Buf& b : params_) n += b.v.size() * sizeof(float) + b.lp.size() * sizeof(uint16_t);
  for (const auto& p : plans_) n += p->weight_bytes();
  return n;
}

size_t Session::fused_nodes() const {
  size_t n = 0;
  for (const ConvGroup& grp : groups_) n += grp.absorbed.size();
  return n;
}

std::vector<float> Session::take_buffer(size_t n, bool zeroed) {
  // Best fit among the freed buffers: no page faults and no allocator round trips on the hot path.
  size_t best = pool_.size();
  for (size_t i = 0; i < pool_.size(); ++i)
    if (pool_[i].capacity() >= n && (best == pool_.size() || pool_[i].capacity() < pool_[best].capacity())) best = i;
  std::vector<float> v;
  if (best < pool_.size()) {
    v = std::move(pool_[best]);
    pool_[best] = std::move(pool_.back());
    pool_.pop_back();
  }
  if (zeroed) {
    v.assign(n, 0.0f);
  } else {
    v.resize(n);  // contents left as they were: the caller writes every element
  }
  return v;
}

void Session::give_back(std::vector<float>&& v) {
  if (v.capacity() > 0) pool_.push_back(std::move(v));
}

const Shape& Session::input_shape(const std::string& name) const {
  auto it = input_node_.find(name);
  if (it == input_node_.end()) throw Error("", "input '" + name + "'", "not an input of the model");
  return shapes_[offset_[it->second]];
}

std::vector<DType> Session::output_dtypes() const {
  std::vector<DType> d;
  for (const Entry& h : graph_.heads) d.push_back(dtype_of(h));
  return d;
}

std::vector<Buf> Session::run(const std::map<std::string, Buf>& inputs, const NodeObserver& observe,
                              const NodeObserver& before_rounding) {
  if (before_rounding && !unrounded_) throw Error("", "run", "the session was not built with observe_unrounded");
  if (threads_ > 0) omp_set_num_threads(threads_);
  const Graph& g = graph_;
  std::vector<Buf> act(dtypes_.size());
  std::vector<int> left = uses_;
  for (const auto& name : input_names_) {
    if (inputs.count(name)) continue;
    if (!labels_.count(name)) throw Error("", "input '" + name + "'", "no value given");
    act[offset_[input_node_[name]]] = Buf{{1}, {0.0f}};  // unread label placeholder
  }
  for (const auto& [name, buf] : inputs) {
    auto it = input_node_.find(name);
    if (it == input_node_.end()) throw Error("", "input '" + name + "'", "not an input of the model");
    const uint32_t slot = offset_[it->second];
    if (buf.shape != shapes_[slot])
      throw Error("", "input '" + name + "'", "has shape " + attrs::format_tuple(buf.shape) + ", the model was planned for " +
                                                 attrs::format_tuple(shapes_[slot]));
    act[slot] = buf;
    round_to_dtype(act[slot].v, dtypes_[slot]);
  }
  auto value = [&](Entry e) -> const Buf& {
    const uint32_t s = offset_[e.node] + e.index;
    return is_param_[s] ? params_[s] : act[s];
  };
  auto release_inputs = [&](uint32_t i) {
    for (const Entry& e : g.nodes[i].inputs) {
      const uint32_t s = offset_[e.node] + e.index;
      if (--left[s] == 0 && !g.nodes[e.node].is_variable()) {  // last reader done: recycle it
        give_back(std::move(act[s].v));
        act[s] = Buf{};
      }
    }
  };
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.is_variable() || folded_[i]) continue;
    if (in_group_[i] && group_at_[i] < 0) continue;  // runs later, with its group's last node
    if (group_at_[i] >= 0) {
      const ConvGroup& grp = groups_[static_cast<size_t>(group_at_[i])];
      Buf& y = act[offset_[i]];
      y.shape = shapes_[offset_[i]];
      y.v = take_buffer(static_cast<size_t>(y.numel()), false);
      std::vector<const float*> residuals;
      for (const Entry& r : grp.residuals) residuals.push_back(value(r).v.data());
      plans_[static_cast<size_t>(group_at_[i])]->run(value(g.nodes[grp.conv].inputs[0]), y, residuals, scratch_);
      if (unrounded_) {
        if (before_rounding) before_rounding(i, {&y});
        round_to_dtype(y.v, dtypes_[offset_[i]]);
      }
      if (observe) observe(i, {&y});
      release_inputs(grp.conv);
      for (uint32_t a : grp.absorbed) release_inputs(a);
      continue;
    }
    KernelArgs args{n, {}, {}};
    for (const Entry& e : n.inputs) args.in.push_back(&value(e));
    for (uint32_t o = 0; o < n.num_outputs; ++o) {
      Buf& b = act[offset_[i] + o];
      b.shape = shapes_[offset_[i] + o];
      b.v = take_buffer(static_cast<size_t>(b.numel()));
      args.out.push_back(&b);
    }
    kernel_[i]->run(args);
    std::vector<const Buf*> outs(args.out.begin(), args.out.end());
    if (before_rounding) before_rounding(i, outs);
    outs.clear();
    for (uint32_t o = 0; o < n.num_outputs; ++o) {
      round_to_dtype(act[offset_[i] + o].v, dtypes_[offset_[i] + o]);
      outs.push_back(&act[offset_[i] + o]);
    }
    if (observe) observe(i, outs);
    release_inputs(i);
    for (uint32_t o = 0; o < n.num_outputs; ++o)
      if (left[offset_[i] + o] == 0) {  // hidden outputs nobody reads
        give_back(std::move(act[offset_[i] + o].v));
        act[offset_[i] + o] = Buf{};
      }
  }
  std::vector<Buf> out;
  for (const Entry& h : g.heads) out.push_back(value(h));
  return out;
}

}  // namespace mixprec::runtime
