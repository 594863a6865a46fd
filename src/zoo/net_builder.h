// Builds zoo graphs the way MXNet 1.9.1's HybridBlock.export lays them out: Gluon's automatic names (a
// prefix per name scope plus a per-scope counter for each layer kind: "resnetv10_stage1_conv3"), MXNet
// 1.x attribute spellings, parameters declared next to the op that reads them (the export's depth-first
// order) with the attributes Gluon's Parameter.var writes on them, and NCHW shapes tracked through
// every layer so that each parameter gets its true shape.
//
// Every parameter's __shape__ is complete, as in the export of a model whose weights were loaded before
// its first forward (get_model(..., pretrained=True), or load_parameters then export). A network that
// was only initialize()d exports 0 for each dimension its layers left to deferred inference (the input
// channels of most convolutions, every BatchNorm's width): "(64, 0, 7, 7)", "(0,)". The zoo's weights
// stand in for trained ones, so it writes the trained model's export; tests/oracle/test_zoo_export.py
// checks both against MXNet.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <unordered_map>
#include <vector>

#include "ir/graph_builder.h"
#include "mixprec/zoo.h"
#include "zoo/weights.h"

namespace mixprec::zoo {

// An NCHW feature map; h = w = 1 once pooled globally or flattened.
struct Feat {
  Entry e;
  int64_t c = 0, h = 1, w = 1;
};

struct Hw {
  int64_t h = 1, w = 1;
};

struct ConvSpec {
  int64_t channels = 0;
  Hw kernel{1, 1};
  Hw stride{1, 1};
  Hw pad{0, 0};
  int64_t groups = 1;
  bool bias = false;
  std::string_view weight_init = {};  // Gluon's weight_initializer as __init__ writes it ("": none)
};

struct PoolSpec {
  std::string_view type = "max";  // "max" or "avg"
  Hw kernel{2, 2};
  Hw stride{2, 2};
  Hw pad{0, 0};
  bool ceil = false;  // pooling_convention "full" (Gluon's ceil_mode)
};

class NetBuilder {
 public:
  // `model` names the model in errors; `root` is its Gluon prefix ("resnetv10_").
  NetBuilder(std::string model, std::string root, const ZooOptions& opt);
  const ZooOptions& opt() const { return opt_; }
  // Room for `nodes` nodes up front: deep benchmark graphs then never move their node array.
  void reserve(size_t nodes) { g_.graph().nodes.reserve(nodes); }

  // --- Gluon naming ---
  void enter(const std::string& scope) { push(prefix() + scope); }  // a child prefix ("stage1_")
  // Enters the scope of a new auto-named child block ("linearbottleneck3_").
  void enter_block(std::string_view hint) { push(next(hint) + "_"); }
  // Enters a scope that is not nested in the current one (a second top-level block: "bertencoder0_").
  void enter_absolute(std::string scope) { push(std::move(scope)); }
  void leave();
  const std::string& prefix() const { return scopes_.back().prefix; }
  // The next automatic name for `hint` in the current scope: "<prefix><hint><n>".
  std::string next(std::string_view hint);

  // --- graph pieces ---
  Entry input(const std::string& name, std::vector<int64_t> shape);
  // A parameter variable with Parameter.var's attributes. `init` draws our values; the __init__ hint is
  // the Gluon layer's default initializer for the parameter's role (bias, BatchNorm gamma, ...: see
  // gluon_init in net_builder.cpp) unless `gluon_init` names the one the layer was given.
  Entry param(const std::string& name, std::vector<int64_t> shape, Init init, int64_t fan_in = 1,
              std::string_view gluon_init = {});
  Entry aux(const std::string& name, std::vector<int64_t> shape, Init init);
  Entry op(const std::string& op, const std::string& name, std::vector<Entry> inputs, AttrMap attrs = {});
  // The NCHW "data" input of an image model at the options' batch and image size.
  Feat image_input(int64_t default_size);

  // --- Gluon layers; `name` is the layer's base name (from next()), ops get "<name>_fwd" ---
  Feat conv(const Feat& x, const ConvSpec& s, const std::string& name);
  Feat conv(const Feat& x, const ConvSpec& s) { return conv(x, s, next("conv")); }
  // eps as Python writes it ("1e-05"); scale=false fixes gamma, as Gluon's BatchNorm(scale=False).
  Feat batchnorm(const Feat& x, const std::string& name, std::string_view eps = "1e-05", bool scale = true,
                 bool center = true);
  Feat batchnorm(const Feat& x) { return batchnorm(x, next("batchnorm")); }
  Feat relu(const Feat& x, const std::string& name);  // nn.Activation('relu')
  Feat relu(const Feat& x) { return relu(x, next("relu")); }
  Feat relu6(const Feat& x, const std::string& name);  // MobileNetV2's RELU6 block: clip(x, 0, 6)
  Feat pool(const Feat& x, const PoolSpec& s, const std::string& name);
  Feat pool(const Feat& x, const PoolSpec& s) { return pool(x, s, next("pool")); }
  // AvgPool2D over the whole remaining map (Gluon's AvgPool2D(7) / (8) / (13) at the default size).
  Feat avg_pool_all(const Feat& x) { return pool(x, {"avg", {x.h, x.w}, {x.h, x.w}, {0, 0}, false}); }
  Feat global_avg_pool(const Feat& x);               // nn.GlobalAvgPool2D
  Feat flatten(const Feat& x);                       // nn.Flatten
  Feat dropout(const Feat& x, std::string_view p);   // nn.Dropout
  // nn.Dense (flatten=True); `act` adds Gluon's inner Activation ("relu", "tanh"); `weight_init` is the
  // layer's weight_initializer as __init__ writes it ("": none given).
  Feat dense(const Feat& x, int64_t units, std::string_view act = "", std::string_view weight_init = {});
  // Traced ops: F.Activation ("activation0"), `a + b` ("_plus0") or F.elemwise_add, F.concat(dim=1).
  Feat activation(const Feat& x);
  Feat add(const Feat& a, const Feat& b, std::string_view hint = "_plus");
  Feat concat(const std::vector<Feat>& xs);

  // Builds and verifies the graph; generates the parameters unless opt().weights is false, and
  // calibrates them (zoo/calibrate.h) when opt().calibrate is also set.
  ZooModel finish(std::vector<Entry> heads);

 private:
  // Output extent of a window op along one axis; throws when the image is too small.
  int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t p, bool ceil) const;

  std::string model_;
  ZooOptions opt_;
  GraphBuilder g_;
  // A name scope and its per-hint counters: a handful of hints per scope, so a flat list is fastest.
  struct Scope {
    std::string prefix;
    std::vector<std::pair<std::string, int64_t>> counters;
  };
  void push(std::string prefix);
  std::vector<Scope> scopes_;
  std::unordered_map<std::string, std::vector<std::pair<std::string, int64_t>>> left_;  // counters of left scopes
  std::vector<ParamSpec> specs_;
  std::vector<std::pair<std::string, std::vector<int64_t>>> inputs_;
};

}  // namespace mixprec::zoo
