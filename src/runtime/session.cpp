#include "runtime/session.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "amp/dtype_inference.h"
#include "mixprec/attrs.h"
#include "mixprec/error.h"
#include "mixprec/half.h"
#include "ops/op_table.h"
#include "mixprec/limits.h"
#include "runtime/activation_memory.h"

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

// 16-bit values kept as such (`storage`), converted from float32 ones; exact when they are 16-bit already.
Buf low_from_floats(const Shape& shape, DType t, const float* values, size_t n) {
  Buf b{shape, {}, t, std::vector<uint16_t>(n)};
  if (t == DType::Float16) {
    floats_to_halves(values, b.lp.data(), n);
  } else {
    floats_to_bfloat16s(values, b.lp.data(), n);
  }
  return b;
}

void widen_in_place(Buf& b) {
  if (b.storage == DType::Float32) return;
  b.v.resize(b.lp.size());
  if (b.storage == DType::Float16) {
    halves_to_floats(b.lp.data(), b.v.data(), b.lp.size());
  } else {
    bfloat16s_to_floats(b.lp.data(), b.v.data(), b.lp.size());
  }
  std::vector<uint16_t>().swap(b.lp);  // freed: `= {}` would keep the capacity
  b.storage = DType::Float32;
}

// A parameter's values as float32: borrowed when it holds float32, widened into `owned` otherwise.
const float* float_values(const Buf& b, std::vector<float>& owned) {
  if (b.storage == DType::Float32) return b.v.data();
  Buf wide = b;
  widen_in_place(wide);
  owned = std::move(wide.v);
  return owned.data();
}

// True when every reader of variable `v` is a loss op's label slot (SoftmaxOutput's input 1, ...).
bool only_feeds_labels(const Graph& g, uint32_t v) {
  bool any = false;
  for (const Node& n : g.nodes)
    for (uint32_t s = 0; s < n.inputs.size(); ++s) {
      if (n.inputs[s].node != v) continue;
      if (ops::input_role(n, s) != ops::InputRole::Label) return false;
      any = true;
    }
  return any;
}

}  // namespace

Session::Session(Graph graph, TensorMap arg, TensorMap aux, SessionOptions options)
    : graph_(std::move(graph)), threads_(options.threads), unrounded_(options.observe_unrounded) {
  if (unrounded_ && options.fuse) throw Error(options.source, "model", "observing unrounded outputs needs an unfused session");
  // Before any primitive is built: oneDNN sizes its work split by the thread count it sees then.
  if (threads_ > 0) omp_set_num_threads(threads_);
  try {
    graph_.verify(options.source.empty() ? "model" : options.source);
    const Graph& g = graph_;
    auto param = [&](const std::string& name) -> const Tensor* {
      if (auto it = arg.find(name); it != arg.end()) return &it->second;
      if (auto it = aux.find(name); it != aux.end()) return &it->second;
      return nullptr;
    };

    // Which ops lack a kernel: all of them are reported at once, before anything runs.
    std::map<std::string, std::string> missing;  // op -> its first node
    kernel_.assign(g.nodes.size(), nullptr);
    for (uint32_t i = 0; i < g.nodes.size(); ++i) {
      if (g.nodes[i].is_variable()) continue;
      kernel_[i] = kernels().find(g.nodes[i].op);
      if (!kernel_[i]) missing.emplace(g.nodes[i].op, g.nodes[i].name);
    }
    if (!missing.empty()) {
      std::string list;
      for (const auto& [op, node] : missing) list += (list.empty() ? "" : ", ") + op + " (node '" + node + "')";
      throw Error("", "", "the engine has no kernel for: " + list);
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

    readers_.assign(dtypes_.size(), {});
    for (uint32_t i = 0; i < g.nodes.size(); ++i)
      for (const Entry& e : g.nodes[i].inputs) readers_[offset_[e.node] + e.index].push_back(i);
    is_head_.assign(dtypes_.size(), false);
    for (const Entry& h : g.heads) is_head_[offset_[h.node] + h.index] = true;

    plan_shapes(param, options);
    check_activation_memory();
    load_params(arg, aux);

    // Reference counts, so that activations are freed after their last reader.
    uses_.assign(dtypes_.size(), 0);
    for (size_t s = 0; s < readers_.size(); ++s) uses_[s] = static_cast<int>(readers_[s].size()) + (is_head_[s] ? 1 : 0);

    plan_convolutions(options.fuse);
  } catch (const Error& e) {
    if (options.source.empty() || !e.file().empty()) throw;
    throw Error(options.source, e.place(), e.reason());  // the kernels name the node, the session the file
  }
}

void Session::plan_shapes(const std::function<const Tensor*(const std::string&)>& param, const SessionOptions& options) {
  const Graph& g = graph_;
  shapes_.assign(dtypes_.size(), {});
  is_param_.assign(dtypes_.size(), false);
  folded_.assign(g.nodes.size(), false);
  // Every activation's size is checked as soon as its shape is known, before the next shape is
  // inferred from it (mixprec/limits.h).
  auto check_size = [&](const Shape& s, const std::string& place) {
    for (int64_t d : s)
      if (d < 0) throw Error("", place, "shape " + attrs::format_tuple(s) + " has a negative dimension");
    const std::optional<int64_t> n = checked_numel(s);
    if (!n) throw Error("", place, "shape " + attrs::format_tuple(s) + " has more elements than a 64-bit count can hold");
    if (*n > static_cast<int64_t>(limits::kMaxActivationBytes / sizeof(float)))
      throw Error("", place, "shape " + attrs::format_tuple(s) + " takes " + format_bytes(activation_bytes(*n)) +
                                 " as float32, more than one activation may take (" + format_bytes(limits::kMaxActivationBytes) + ")");
  };
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.is_variable()) {
      if (const Tensor* p = param(n.name)) {
        is_param_[offset_[i]] = true;
        shapes_[offset_[i]] = p->shape;  // the file's reader checked its size against the file
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
      check_size(shapes_[offset_[i]], "input '" + n.name + "'");
      continue;
    }
    std::vector<Shape> in;
    for (const Entry& e : n.inputs) in.push_back(shape_of(e));
    std::vector<Shape> out = kernel_[i]->infer_shape(n, in);
    if (out.size() != n.num_outputs)
      throw Error("", "node '" + n.name + "'", "kernel gave " + std::to_string(out.size()) + " output shapes, the node has " +
                                                   std::to_string(n.num_outputs));
    for (uint32_t o = 0; o < n.num_outputs; ++o) {
      check_size(out[o], "node '" + n.name + "'");
      shapes_[offset_[i] + o] = std::move(out[o]);
    }
    // amp_cast of a parameter is computed at load (load_params): its output is a parameter too.
    if (n.op == "amp_cast" && n.inputs.size() == 1 && is_param_[offset_[n.inputs[0].node] + n.inputs[0].index]) {
      folded_[i] = true;
      is_param_[offset_[i]] = true;
    }
  }
}

void Session::check_activation_memory() const {
  std::vector<uint64_t> bytes(shapes_.size(), 0);
  for (size_t s = 0; s < shapes_.size(); ++s)
    if (!is_param_[s]) bytes[s] = activation_bytes(*checked_numel(shapes_[s]));  // every size was checked
  const uint64_t physical = physical_memory_bytes();
  const ActivationPeak peak = activation_peak(graph_, offset_, bytes);
  if (physical == 0 || peak.bytes <= physical) return;
  const Node& n = graph_.nodes[peak.node];
  uint64_t own = 0;
  for (uint32_t o = 0; o < n.num_outputs; ++o) own += bytes[offset_[peak.node] + o];
  const std::string place = (n.is_variable() ? "input '" : "node '") + n.name + "'";
  throw Error("", place, "the activations alive here take " + format_bytes(peak.bytes) + " (this " + (n.is_variable() ? "input" : "node's output") +
                             " " + attrs::format_tuple(shapes_[offset_[peak.node]]) + " alone " + format_bytes(own) +
                             "), more than the machine's physical memory (" + format_bytes(physical) + ")");
}

bool Session::only_widening_readers(uint32_t slot) const {
  // FullyConnected's weight and a prepared Convolution's weight are widened on the fly by their readers.
  if (is_head_[slot] || readers_[slot].empty()) return false;
  for (uint32_t r : readers_[slot]) {
    const Node& n = graph_.nodes[r];
    if (n.op != "FullyConnected" && n.op != "Convolution") return false;
    for (uint32_t p = 0; p < n.inputs.size(); ++p)
      if (offset_[n.inputs[p].node] + n.inputs[p].index == slot && p != 1) return false;
  }
  return true;
}

void Session::load_params(TensorMap& arg, TensorMap& aux) {
  const Graph& g = graph_;
  params_.assign(dtypes_.size(), {});
  // A file tensor is released after the last variable naming it (a name may appear twice).
  std::map<std::string, int> variables_named;
  for (const Node& n : g.nodes)
    if (n.is_variable()) ++variables_named[n.name];
  for (uint32_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const uint32_t slot = offset_[i];
    if (!n.is_variable() || !is_param_[slot]) continue;
    auto it = arg.find(n.name);
    TensorMap& owner = it != arg.end() ? arg : aux;
    if (it == arg.end()) it = aux.find(n.name);
    Tensor& t = it->second;
    bool read_directly = is_head_[slot];
    bool has_casts = false;
    for (uint32_t r : readers_[slot]) (folded_[r] ? has_casts : read_directly) = true;
    // Only what some reader needs is made: the value itself, the casts computed from it, or both.
    if (has_casts) {
      // float32 values are read in place: the only copies made are the casts' results.
      Buf widened = t.dtype == DType::Float32 ? Buf{} : to_buf(t, n.name);
      fold_casts_of(slot, t.dtype == DType::Float32 ? t.as<float>() : widened.v.data(), static_cast<size_t>(t.numel()));
    }
    if (read_directly) {
      params_[slot] = is_low_precision(t.dtype) && only_widening_readers(slot) ? keep_low(t) : to_buf(t, n.name);
    } else {
      params_[slot] = Buf{t.shape, {}};
    }
    if (--variables_named[n.name] == 0) owner.erase(it);  // the file's copy goes now, not at the end
  }
}

void Session::fold_casts_of(uint32_t slot, const float* values, size_t n) {
  for (uint32_t c : readers_[slot]) {
    if (!folded_[c]) continue;
    const uint32_t out = offset_[c];
    const DType t = dtypes_[out];
    if (is_low_precision(t) && only_widening_readers(out)) {
      params_[out] = low_from_floats(shapes_[out], t, values, n);  // rounded once, straight to 16 bits
    } else {
      params_[out] = Buf{shapes_[out], std::vector<float>(values, values + n)};
      round_to_dtype(params_[out].v, t);
    }
    bool chained = false;  // amp_cast of this amp_cast
    for (uint32_t r : readers_[out]) chained = chained || folded_[r];
    if (chained) {
      std::vector<float> owned;
      fold_casts_of(out, float_values(params_[out], owned), n);
    }
  }
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
    group_at_[groups_[k].tail()] = static_cast<int>(k);
    in_group_[groups_[k].conv] = true;
    for (uint32_t a : groups_[k].absorbed) in_group_[a] = true;
  }
  // Parameters: a plan holds its convolution's weights in its own layout, so the session's copy goes
  // as soon as the last plan reading it is built, when plans are its only readers.
  auto slot_of = [&](const Entry& e) { return offset_[e.node] + e.index; };
  std::vector<bool> plan_only(dtypes_.size(), true);
  std::vector<int> plans_left(dtypes_.size(), 0);
  for (uint32_t i = 0; i < g.nodes.size(); ++i)
    for (uint32_t p = 0; p < g.nodes[i].inputs.size(); ++p) {
      const bool plan_weight = in_group_[i] && g.nodes[i].op == "Convolution" && p == 1;
      if (plan_weight) ++plans_left[slot_of(g.nodes[i].inputs[p])];
      if (!plan_weight) plan_only[slot_of(g.nodes[i].inputs[p])] = false;
    }
  for (const Entry& h : g.heads) plan_only[slot_of(h)] = false;
  for (const ConvGroup& grp : groups_) {
    const Node& conv = g.nodes[grp.conv];
    const Buf* bias = conv.inputs.size() > 2 ? view.param(conv.inputs[2]) : nullptr;
    const uint32_t w = slot_of(conv.inputs[1]);
    Buf weight;
    if (--plans_left[w] == 0 && plan_only[w]) {
      weight = std::move(params_[w]);  // the last plan reading it takes the session's copy over
      params_[w] = Buf{weight.shape, {}};
    } else {
      weight = params_[w];
    }
    Epilogue epilogue = build_epilogue(view, grp);
    if (unrounded_) {  // the convolution alone, left in float32: run() rounds it after observing
      epilogue = Epilogue{};
      epilogue.add(EpilogueStep{});
    }
    plans_.push_back(std::make_unique<ConvPlan>(conv, shape_of(conv.inputs[0]), shapes_[offset_[grp.conv]], std::move(weight), bias,
                                                std::move(epilogue)));
  }
  // 16-bit parameters that a plain kernel reads after all are widened for it.
  for (uint32_t i = 0; i < g.nodes.size(); ++i)
    for (uint32_t p = 0; p < g.nodes[i].inputs.size(); ++p) {
      const bool widens = (g.nodes[i].op == "FullyConnected" && p == 1) || (in_group_[i] && g.nodes[i].op == "Convolution" && p == 1);
      const uint32_t s = slot_of(g.nodes[i].inputs[p]);
      if (!widens && is_param_[s]) widen_in_place(params_[s]);
    }
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
