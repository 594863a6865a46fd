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
#include "runtime/kernel.h"

namespace mixprec::runtime {

struct SessionOptions {
  int threads = 0;                           // 0: OpenMP's default
  std::map<std::string, Shape> input_shapes;  // data inputs; falls back to a variable's __shape__
  std::map<std::string, DType> input_dtypes;  // data inputs that are not float32
};

// Called after each node runs, with its (rounded) outputs.
using NodeObserver = std::function<void(uint32_t node, const std::vector<const Buf*>& outputs)>;

class Session {
 public:
  // Plans the whole run up front: dtypes, shapes, kernels. Throws mixprec::Error listing every op
  // without a kernel, or naming the node whose shapes do not fit, before anything runs.
  Session(Graph graph, const TensorMap& arg_params, const TensorMap& aux_params, SessionOptions options = {});

  const std::vector<std::string>& input_names() const { return input_names_; }
  const Shape& input_shape(const std::string& name) const;
  const Graph& graph() const { return graph_; }
  // dtype of every visible output of the graph (its heads).
  std::vector<DType> output_dtypes() const;
  DType dtype_of(Entry e) const { return dtypes_[offset_[e.node] + e.index]; }
  const Shape& shape_of(Entry e) const { return shapes_[offset_[e.node] + e.index]; }

  // Runs once. `inputs` maps every data input to values of its planned shape (they are rounded to
  // the input's dtype). Returns the graph's outputs.
  std::vector<Buf> run(const std::map<std::string, Buf>& inputs, const NodeObserver& observe = nullptr);

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
};

// Rounds every value to `t` (float16 / bfloat16: nearest even, overflow to inf); a no-op for float32.
void round_to_dtype(std::vector<float>& v, DType t);

}  // namespace mixprec::runtime
