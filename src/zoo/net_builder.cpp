#include "zoo/net_builder.h"

#include <algorithm>

#include "mixprec/attrs.h"
#include "mixprec/error.h"
#include "zoo/calibrate.h"

namespace mixprec::zoo {
namespace {

std::string tuple2(Hw v) { return attrs::format_tuple({v.h, v.w}); }
const char* py_bool(bool b) { return b ? "True" : "False"; }

// The __init__ hint Gluon writes for a parameter of this role when its layer is built with the default
// initializers: nn.Conv2D / nn.Dense bias 'zeros'; nn.BatchNorm gamma 'ones', beta 'zeros', running mean
// 'zeros', running var 'ones'; nn.LayerNorm gamma 'ones', beta 'zeros'. Weights and embeddings have no
// initializer of their own (weight_initializer=None) and so no hint.
std::string_view gluon_init(Init init) {
  switch (init) {
    case Init::Bias:
    case Init::BnBeta:
    case Init::RunningMean:
    case Init::Zeros:
      return "zeros";
    case Init::BnGamma:
    case Init::RunningVar:
    case Init::Ones:
      return "ones";
    case Init::HeNormal:
    case Init::Embedding:
    case Init::Normal:
    case Init::Uniform:
      break;
  }
  return {};
}

}  // namespace

NetBuilder::NetBuilder(std::string model, std::string root, const ZooOptions& opt)
    : model_(std::move(model)), opt_(opt) {
  push(std::move(root));
}

void NetBuilder::push(std::string prefix) {
  // Gluon keeps a scope's counters for its lifetime: re-entering continues the numbering.
  auto it = left_.find(prefix);
  scopes_.push_back({std::move(prefix), it == left_.end() ? decltype(Scope::counters){} : std::move(it->second)});
}

void NetBuilder::leave() {
  Scope& s = scopes_.back();
  if (!s.counters.empty()) left_[s.prefix] = std::move(s.counters);
  scopes_.pop_back();
}

std::string NetBuilder::next(std::string_view hint) {
  Scope& s = scopes_.back();
  int64_t n = 0;
  auto it = std::find_if(s.counters.begin(), s.counters.end(), [&](const auto& c) { return c.first == hint; });
  if (it == s.counters.end())
    s.counters.emplace_back(std::string(hint), 1);
  else
    n = it->second++;
  std::string name = s.prefix;
  name += hint;
  name += std::to_string(n);
  return name;
}

Entry NetBuilder::input(const std::string& name, std::vector<int64_t> shape) {
  inputs_.emplace_back(name, std::move(shape));
  return g_.var(name);
}

Entry NetBuilder::param(const std::string& name, std::vector<int64_t> shape, Init init, int64_t fan_in,
                        std::string_view declared_init) {
  // What Gluon's Parameter.var writes on every parameter (MXNet's AMP tells params from data by
  // __dtype__), and __init__ where the layer declared an initializer.
  AttrMap a{{"__dtype__", "0"},
            {"__lr_mult__", "1.0"},
            {"__shape__", attrs::format_tuple(shape)},
            {"__storage_type__", "0"},
            {"__wd_mult__", "1.0"}};
  if (declared_init.empty()) declared_init = gluon_init(init);
  if (!declared_init.empty()) a["__init__"] = std::string(declared_init);
  Entry e = g_.var(name, std::move(a));
  if (opt_.weights) specs_.push_back({name, std::move(shape), init, fan_in, false});
  return e;
}

Entry NetBuilder::aux(const std::string& name, std::vector<int64_t> shape, Init init) {
  Entry e = param(name, std::move(shape), init);
  if (opt_.weights) specs_.back().aux = true;
  return e;
}

Entry NetBuilder::op(const std::string& op, const std::string& name, std::vector<Entry> inputs, AttrMap attrs) {
  return g_.op(op, name, std::move(inputs), std::move(attrs));
}

Feat NetBuilder::image_input(int64_t default_size) {
  const int64_t s = opt_.image_size > 0 ? opt_.image_size : default_size;
  return {input("data", {opt_.batch, 3, s, s}), 3, s, s};
}

int64_t NetBuilder::window_out(int64_t in, int64_t k, int64_t s, int64_t p, bool ceil) const {
  const int64_t span = in + 2 * p - k;
  if (span < 0)
    throw Error("", model_, "image_size " + std::to_string(opt_.image_size) + " is too small: a " +
                                std::to_string(k) + "-wide window meets a " + std::to_string(in) + "-wide map");
  return (ceil ? (span + s - 1) / s : span / s) + 1;
}

Feat NetBuilder::conv(const Feat& x, const ConvSpec& s, const std::string& name) {
  const int64_t in_per_group = x.c / s.groups;
  const int64_t fan_in = in_per_group * s.kernel.h * s.kernel.w;
  std::vector<Entry> in{x.e, param(name + "_weight", {s.channels, in_per_group, s.kernel.h, s.kernel.w}, Init::HeNormal, fan_in,
                                   s.weight_init)};
  if (s.bias) in.push_back(param(name + "_bias", {s.channels}, Init::Bias));
  Entry y = op("Convolution", name + "_fwd", std::move(in),
               {{"dilate", "(1, 1)"},
                {"kernel", tuple2(s.kernel)},
                {"layout", "NCHW"},
                {"no_bias", py_bool(!s.bias)},
                {"num_filter", std::to_string(s.channels)},
                {"num_group", std::to_string(s.groups)},
                {"pad", tuple2(s.pad)},
                {"stride", tuple2(s.stride)}});
  return {y, s.channels, window_out(x.h, s.kernel.h, s.stride.h, s.pad.h, false),
          window_out(x.w, s.kernel.w, s.stride.w, s.pad.w, false)};
}

Feat NetBuilder::batchnorm(const Feat& x, const std::string& name, std::string_view eps, bool scale, bool center) {
  // Gluon keeps gamma and beta even when scale/center are off; they then stay at their initial 1 and 0.
  Entry gamma = param(name + "_gamma", {x.c}, scale ? Init::BnGamma : Init::Ones);
  Entry beta = param(name + "_beta", {x.c}, center ? Init::BnBeta : Init::Zeros);
  Entry mean = aux(name + "_running_mean", {x.c}, Init::RunningMean);
  Entry var = aux(name + "_running_var", {x.c}, Init::RunningVar);
  Entry y = op("BatchNorm", name + "_fwd", {x.e, gamma, beta, mean, var},
               {{"axis", "1"},
                {"eps", std::string(eps)},
                {"fix_gamma", py_bool(!scale)},
                {"momentum", "0.9"},
                {"use_global_stats", "False"}});
  return {y, x.c, x.h, x.w};
}

Feat NetBuilder::relu(const Feat& x, const std::string& name) {
  return {op("Activation", name + "_fwd", {x.e}, {{"act_type", "relu"}}), x.c, x.h, x.w};
}

Feat NetBuilder::relu6(const Feat& x, const std::string& name) {
  // RELU6.hybrid_forward calls F.clip(x, 0, 6, name="relu6") inside the block's own scope.
  return {op("clip", name + "_relu6", {x.e}, {{"a_max", "6"}, {"a_min", "0"}}), x.c, x.h, x.w};
}

Feat NetBuilder::pool(const Feat& x, const PoolSpec& s, const std::string& name) {
  AttrMap a{{"global_pool", "False"},
            {"kernel", tuple2(s.kernel)},
            {"layout", "NCHW"},
            {"pad", tuple2(s.pad)},
            {"pool_type", std::string(s.type)},
            {"pooling_convention", s.ceil ? "full" : "valid"},
            {"stride", tuple2(s.stride)}};
  if (s.type == "avg") a["count_include_pad"] = "True";  // Gluon's AvgPool2D default, written explicitly
  Entry y = op("Pooling", name + "_fwd", {x.e}, std::move(a));
  return {y, x.c, window_out(x.h, s.kernel.h, s.stride.h, s.pad.h, s.ceil),
          window_out(x.w, s.kernel.w, s.stride.w, s.pad.w, s.ceil)};
}

Feat NetBuilder::global_avg_pool(const Feat& x) {
  Entry y = op("Pooling", next("pool") + "_fwd", {x.e},
               {{"global_pool", "True"},
                {"kernel", "(1, 1)"},
                {"layout", "NCHW"},
                {"pad", "(0, 0)"},
                {"pool_type", "avg"},
                {"pooling_convention", "full"},
                {"stride", "(1, 1)"}});
  return {y, x.c, 1, 1};
}

Feat NetBuilder::flatten(const Feat& x) {
  // nn.Flatten traces F.Flatten inside its own scope, hence the doubled name.
  const std::string name = next("flatten");
  const std::string leaf = name.substr(prefix().size());
  return {op("Flatten", name + "_" + leaf, {x.e}), x.c * x.h * x.w, 1, 1};
}

Feat NetBuilder::dropout(const Feat& x, std::string_view p) {
  return {op("Dropout", next("dropout") + "_fwd", {x.e}, {{"axes", "()"}, {"cudnn_off", "False"}, {"p", std::string(p)}}),
          x.c, x.h, x.w};
}

Feat NetBuilder::dense(const Feat& x, int64_t units, std::string_view act, std::string_view weight_init) {
  const std::string name = next("dense");
  const int64_t in_units = x.c * x.h * x.w;
  Entry w = param(name + "_weight", {units, in_units}, Init::HeNormal, in_units, weight_init);
  Entry b = param(name + "_bias", {units}, Init::Bias);
  Entry y = op("FullyConnected", name + "_fwd", {x.e, w, b},
               {{"flatten", "True"}, {"no_bias", "False"}, {"num_hidden", std::to_string(units)}});
  if (!act.empty())
    y = op("Activation", name + "_" + std::string(act) + "_fwd", {y}, {{"act_type", std::string(act)}});
  return {y, units, 1, 1};
}

Feat NetBuilder::activation(const Feat& x) {
  return {op("Activation", next("activation"), {x.e}, {{"act_type", "relu"}}), x.c, x.h, x.w};
}

Feat NetBuilder::add(const Feat& a, const Feat& b, std::string_view hint) {
  return {op("elemwise_add", next(hint), {a.e, b.e}), a.c, a.h, a.w};
}

Feat NetBuilder::concat(const std::vector<Feat>& xs) {
  std::vector<Entry> in;
  int64_t c = 0;
  for (const Feat& x : xs) {
    in.push_back(x.e);
    c += x.c;
  }
  Entry y = op("Concat", next("concat"), std::move(in), {{"dim", "1"}, {"num_args", std::to_string(xs.size())}});
  return {y, c, xs.front().h, xs.front().w};
}

ZooModel NetBuilder::finish(std::vector<Entry> heads) {
  // The version MXNet 1.9.1 writes: the last 1.x release, whose Gluon API these names come from.
  g_.graph().attrs["mxnet_version"] = R"(["int", 10901])";
  ZooModel m;
  m.graph = g_.build(std::move(heads));
  m.inputs = std::move(inputs_);
  for (const ParamSpec& s : specs_) (s.aux ? m.aux_params : m.arg_params)[s.name] = make_param(opt_.seed, s);
  if (opt_.weights && opt_.calibrate) calibrate(m, opt_.seed);
  return m;
}

}  // namespace mixprec::zoo
