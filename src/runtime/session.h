// Runs an MXNet-dialect graph (FP32 or mixed precision) on the CPU with the numerics of
// low-precision hardware: every node computes in float32 and its outputs are rounded to the node's
// dtype (round to nearest even, overflow to inf), so float16 overflow shows as it would on a GPU.
#pragma once
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "mixprec/dtype.h"
#include "mixprec/graph.h"
#include "mixprec/tensor.h"
#include "runtime/conv_plan.h"
#include "runtime/fusion.h"
#include "runtime/kernel.h"

namespace mixprec::runtime {

struct SessionOptions {
  // The file the graph came from: the file of every error planning throws (no kernel for an op,
  // shapes that do not fit, sizes past mixprec/limits.h).
  std::string source;
  int threads = 0;                           // 0: OpenMP's default
  std::map<std::string, Shape> input_shapes;  // data inputs; falls back to a variable's __shape__
  std::map<std::string, DType> input_dtypes;  // data inputs that are not float32
  // Run BatchNorm/ReLU/add/amp_cast behind a convolution in its epilogue (runtime/fusion.h). Results
  // are bit-identical either way; unfused, an observer sees every node's output.
  bool fuse = true;
  // Lets run() show each node's outputs before they are rounded to the node's dtype: what the node
  // computes in float32 from its actual (rounded) inputs, so that its own rounding error can be
  // told from the error it inherits. Needs fuse = false.
  bool observe_unrounded = false;
};

// Called after each node runs, with its (rounded) outputs. Nodes fused into a convolution's
// epilogue are not reported (only the last node of each fused chain is).
using NodeObserver = std::function<void(uint32_t node, const std::vector<const Buf*>& outputs)>;
// Called just before a node's outputs are rounded to its dtype (SessionOptions::observe_unrounded);
// the buffers are rounded in place right after, so an observer that keeps them must copy them.

class Session {
 public:
  // Plans the whole run up front: dtypes, shapes, kernels. Throws mixprec::Error listing every op
  // without a kernel, or naming the node whose shapes do not fit or whose activations would be too
  // large (mixprec/limits.h), before anything runs or is allocated for activations.
  // The params are taken by value so that a caller can move them in: each is then converted (and
  // its amp_casts computed) and released one at a time, and the session never holds a second copy
  // of the model beside the one it was given.
  Session(Graph graph, TensorMap arg_params, TensorMap aux_params, SessionOptions options = {});

  const std::vector<std::string>& input_names() const { return input_names_; }
  const Shape& input_shape(const std::string& name) const;
  const Graph& graph() const { return graph_; }
  // dtype of every visible output of the graph (its heads).
  std::vector<DType> output_dtypes() const;
  DType dtype_of(Entry e) const { return dtypes_[offset_[e.node] + e.index]; }
  const Shape& shape_of(Entry e) const { return shapes_[offset_[e.node] + e.index]; }

  // Runs once. `inputs` maps every data input to values of its planned shape (they are rounded to
  // the input's dtype). Returns the graph's outputs.
  // `before_rounding` needs SessionOptions::observe_unrounded.
  std::vector<Buf> run(const std::map<std::string, Buf>& inputs, const NodeObserver& observe = nullptr,
                       const NodeObserver& before_rounding = nullptr);

  // The values of parameter `name` when the session holds them as plain float32 (null otherwise: a
  // 16-bit weight, or a convolution weight held by its prepared plan). A change is seen by every node
  // that reads the parameter afterwards, later in the same run too: what BatchNorm calibration needs
  // (zoo/calibrate.h) from an unfused session's observer.
  Buf* mutable_param(const std::string& name);

  // Bytes the session holds for parameters (convolution weights in their prepared layout).
  size_t weight_bytes() const;
  // How many nodes run inside a convolution's epilogue rather than as kernels of their own.
  size_t fused_nodes() const;

 private:
  Graph graph_;
  std::vector<uint32_t> offset_;  // node -> first output slot
  std::vector<DType> dtypes_;
  std::vector<Shape> shapes_;
  std::vector<const KernelDef*> kernel_;  // per node (null for variables)
  std::vector<Buf> params_;               // per output slot of parameter variables (widened once)
  std::vector<bool> is_param_;            // per output slot
  std::vector<int> uses_;                 // per output slot: how many inputs/heads read it
  std::vector<std::string> input_names_;
  std::map<std::string, uint32_t> input_node_;
  std::set<std::string> labels_;  // inputs only loss ops read as labels: optional at run time
  int threads_ = 0;
  bool unrounded_ = false;  // convolution plans leave rounding to the session (observe_unrounded)

  // Convolutions run prepared (runtime/conv_plan.h), each with the nodes fused behind it.
  std::vector<ConvGroup> groups_;
  std::vector<std::unique_ptr<ConvPlan>> plans_;  // per group
  std::vector<int> group_at_;                     // per node: the group that runs when this node's turn comes, or -1
  std::vector<bool> folded_;                      // per node: a cast computed at load (its output is a parameter)
  std::vector<bool> in_group_;                    // per node: part of a group (it runs with the group, not alone)
  ConvScratch scratch_;
  std::vector<std::vector<float>> pool_;          // freed activation buffers, reused by later nodes and runs

  std::vector<std::vector<uint32_t>> readers_;  // per output slot: the nodes reading it, once per input
  std::vector<bool> is_head_;                    // per output slot: a graph output

  // Shapes of every input and node output, each checked against mixprec/limits.h as it is inferred;
  // marks the amp_casts of parameters that load_params computes.
  void plan_shapes(const std::function<const Tensor*(const std::string&)>& param, const SessionOptions& options);
  // Refuses a plan whose activations alive at once exceed the machine's physical memory.
  void check_activation_memory() const;
  // Converts each parameter into the form its readers need and computes the amp_casts of it, one
  // parameter at a time, releasing each file tensor as soon as it is converted: amp_cast of a
  // parameter runs once, at load, so runtime-cast models run (and weigh) as offline-cast ones.
  void load_params(TensorMap& arg, TensorMap& aux);
  void fold_casts_of(uint32_t slot, const float* values, size_t n);
  // Whether every reader widens 16-bit values on the fly (FullyConnected's and Convolution's weight).
  bool only_widening_readers(uint32_t slot) const;
  void plan_convolutions(bool fuse);
  std::vector<float> take_buffer(size_t n, bool zeroed = true);
  void give_back(std::vector<float>&& v);
};

// Rounds every value to `t` (float16 / bfloat16: nearest even, overflow to inf); a no-op for float32.
void round_to_dtype(std::vector<float>& v, DType t);

}  // namespace mixprec::runtime
