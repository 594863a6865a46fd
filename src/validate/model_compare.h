// Runs a reference model (usually FP32) and a candidate (its mixed-precision conversion) on the
// same inputs and says how far apart they are, output by output, and where the candidate goes
// wrong node by node: the first node that produces inf or NaN, and the nodes whose own rounding
// costs most relative to their dtype's unit roundoff.
#pragma once
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mixprec/dtype.h"
#include "runtime/session.h"
#include "validate/metrics.h"

namespace mixprec::validate {

// The first candidate node (in run order) with inf/NaN outputs where the reference is finite.
struct NonfiniteOrigin {
  std::string name, op;
  DType dtype = DType::Float32;  // of the candidate node's output
  int64_t count = 0;             // non-finite values there where the reference's are finite
  // Largest finite |value| of the FP32 reference at that node (for an inserted cast: at the tensor
  // it casts); above the dtype's largest finite value means overflow.
  double reference_peak = 0;
};

// A node's own error: its outputs as the candidate stores them (rounded to the node's dtype)
// against what the node computes in float32 from the candidate's own inputs, so error inherited
// from earlier nodes is not counted.
struct OwnError {
  std::string name, op;
  DType dtype = DType::Float32;
  double relative = 0;     // sqrt(sum (stored - computed)^2 / sum computed^2), over finite values
  double in_roundoff = 0;  // relative / the dtype's unit roundoff (2^-11 float16, 2^-8 bfloat16)
};

struct Comparison {
  std::vector<OutputMetrics> outputs;              // one per graph output
  std::vector<runtime::Buf> reference, candidate;  // the outputs themselves (tolerance checks)
  std::optional<NonfiniteOrigin> first_nonfinite;
  std::vector<OwnError> largest_own_errors;  // low-precision nodes, largest first
};

struct CompareOptions {
  std::optional<int> class_axis;  // overrides default_class_axis for every output
  size_t own_errors = 5;          // how many of the largest own errors to keep
  // Called as nodes run (both models together): done, total.
  std::function<void(size_t, size_t)> progress;
};

// The reference needs SessionOptions::fuse = false (every node observed); the candidate also
// observe_unrounded = true. Throws mixprec::Error when the models' outputs differ in count or shape.
Comparison compare_models(runtime::Session& reference, runtime::Session& candidate,
                          const std::map<std::string, runtime::Buf>& inputs, const CompareOptions& options = {});

// The largest finite value of a float type (65504 for float16).
double largest_finite(DType t);
// Half the distance from 1 to the next value: 2^-11 (float16), 2^-8 (bfloat16), 2^-24 (float32).
double unit_roundoff(DType t);

}  // namespace mixprec::validate
