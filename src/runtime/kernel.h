// The kernel interface of the inference engine. Activations are held as float32 values; a node
// whose dtype is float16/bfloat16 has its outputs rounded to that type by the session after the
// kernel runs (fp32 arithmetic and accumulation, low-precision storage: what tensor cores do).
// Kernels are keyed by MXNet op name; other dialects lower onto the same names.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mixprec/dtype.h"
#include "mixprec/graph.h"

namespace mixprec::runtime {

using Shape = std::vector<int64_t>;

struct Buf {
  Shape shape;
  std::vector<float> v;  // row-major, numel() values
  // Weights stored in float16 / bfloat16 and read only by kernels that widen them on the fly
  // (FullyConnected) stay in that form: `storage` says which, `lp` holds the bits and `v` is empty.
  DType storage = DType::Float32;
  std::vector<uint16_t> lp{};
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

struct KernelArgs {
  const Node& node;                // op and attributes, MXNet spelling
  std::vector<const Buf*> in;      // one per node input
  std::vector<Buf*> out;           // one per node output; shape set and v sized by the session
};

struct KernelDef {
  std::string_view op;
  // Output shapes (all outputs, hidden ones included) from input shapes. Throws mixprec::Error
  // (place: the node's name) when the inputs do not fit the op.
  std::vector<Shape> (*infer_shape)(const Node& node, const std::vector<Shape>& in);
  void (*run)(const KernelArgs& args);
};

// Each kernel family registers its ops here (see kernels/*.cpp).
class KernelRegistry {
 public:
  void add(KernelDef def) { defs_.push_back(def); }
  const KernelDef* find(std::string_view op) const;
  std::vector<std::string> ops() const;

 private:
  std::vector<KernelDef> defs_;
};

const KernelRegistry& kernels();

// Registration hooks, one per family file.
void register_nn_kernels(KernelRegistry& r);      // kernels/nn_*.cpp
void register_tensor_kernels(KernelRegistry& r);  // kernels/tensor_*.cpp

}  // namespace mixprec::runtime
