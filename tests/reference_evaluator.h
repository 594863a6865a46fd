// An independent reference for the engine, written for the tests: it evaluates an MXNet graph in
// double precision with naive loops, straight from MXNet's documented operator semantics. It shares
// no code with src/runtime (no kernels, no attribute parser, no half conversions, no dtype
// inference): only the graph IR (mixprec/graph.h) and the Tensor container are read.
//
// Two uses:
//  - exact evaluation (round = false): the FP32 engine must agree with it to float32 accuracy;
//  - emulated evaluation (round = true): every node's outputs are rounded to the node's dtype
//    (round to nearest even, overflow to inf; written here from the IEEE definitions), which is what
//    the engine claims to do in float16/bfloat16, so the emulation itself is checked.
//
// Each evaluated element also carries a bound on how far a float32 evaluation of the same node
// (any summation order, with or without FMA) may be from the exact value computed here, given the
// same inputs: gamma_K * sum|terms| for a K-term reduction (Higham, "Accuracy and Stability of
// Numerical Algorithms", Thm 3.1/3.5: |fl(sum) - sum| <= gamma_K sum|x_i|, gamma_K = K u / (1 - K u),
// u = 2^-24). Tests use it to check the engine node by node with derived, not guessed, tolerances.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mixprec/dtype.h"
#include "mixprec/graph.h"
#include "mixprec/tensor.h"

namespace mixprec::testing::ref {

// Unit roundoffs (half an ulp of 1): float32 2^-24, float16 2^-11, bfloat16 2^-8.
double unit_roundoff(DType t);
// gamma_k = k u / (1 - k u) for float32 (Higham's constant for k roundings).
double gamma32(double k);

// Round to nearest even, written from the formats' definitions (no library conversion is used):
// float16: 11 significant bits, normals from 2^-14, subnormal quantum 2^-24, largest 65504;
// bfloat16: 8 significant bits, float32's exponent range, subnormal quantum 2^-133.
// Values beyond the largest finite number after rounding become +-inf; NaN stays NaN.
double round_to_float16(double x);
double round_to_bfloat16(double x);
// float16, bfloat16, float32 (the C++ conversion, round to nearest even); any other dtype: x.
double round_to(double x, DType t);

struct Array {
  std::vector<int64_t> shape;
  std::vector<double> v;
  // Per element: a bound on |float32 evaluation of this node - v| given the same inputs (0 for
  // exact operations such as copies, max or relu). Filled by eval_node; 0 for inputs and params.
  std::vector<double> bound;
  DType dtype = DType::Float32;
  int64_t numel() const;
};

// The values of a params-file tensor (float32, float16, bfloat16, float64 and integer types),
// decoded here bit by bit.
Array from_tensor(const Tensor& t);
Array from_floats(std::vector<int64_t> shape, const std::vector<float>& values, DType dtype = DType::Float32);

// The dtypes of a node's outputs from its inputs' dtypes, as MXNet's type rules give them for the
// ops this evaluator knows (amp_cast: only float32/16/bfloat16 change; amp_multicast: the widest
// float type, float32 if any input is float32, else input 0's; BatchNorm: the data's dtype, its
// statistics outputs float32; every other op here: its first input's dtype).
std::vector<DType> output_dtypes(const Node& node, const std::vector<DType>& inputs);

// Evaluates one node exactly (in double) from its inputs. Throws std::runtime_error for an op or
// attribute this evaluator does not know. Output dtypes are set from output_dtypes(); values are
// not rounded.
std::vector<Array> eval_node(const Node& node, const std::vector<const Array*>& inputs);

struct Evaluation {
  std::vector<std::vector<Array>> values;  // per node, per output (variables: their value)
  std::vector<Array> outputs;              // the graph's heads
};

// Evaluates the whole graph. Variables named in `arg`/`aux` are params (their stored dtype);
// the others must be in `inputs`. round = true rounds every op node's outputs to its dtype.
Evaluation evaluate(const Graph& graph, const TensorMap& arg, const TensorMap& aux, const std::map<std::string, Array>& inputs,
                    bool round);

// sum (a - b)^2 / sum b^2 (b the reference).
double nmse(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace mixprec::testing::ref
