// `mixprec compare`'s verdict: the limits a user sets (--atol, --rtol, --max-nmse, --min-cosine,
// --min-top1) checked output by output. Non-finite values in the candidate where the reference is
// finite always fail, unless allowed: a model that turns into inf is never good enough.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "validate/model_compare.h"

namespace mixprec::validate {

struct GateLimits {
  std::optional<double> atol, rtol;  // numpy's allclose: |cand - ref| <= atol + rtol * |ref|; a missing one is 0
  std::optional<double> max_nmse;
  std::optional<double> min_cosine;  // an undefined (NaN) cosine fails
  std::optional<double> min_top1;    // fraction in [0, 1]; checked on outputs that have class scores
  bool allow_nonfinite = false;
};

struct GateCheck {
  std::string check;  // "nonfinite", "allclose", "nmse", "cosine", "top1"
  size_t output = 0;
  double value = 0;   // the measured figure (violations for allclose and nonfinite)
  double limit = 0;
  bool passed = false;
  std::string detail;  // what failed, in words
};

// Every check the limits ask for, on every output it applies to.
std::vector<GateCheck> evaluate_gate(const Comparison& comparison, const GateLimits& limits);
bool all_passed(const std::vector<GateCheck>& checks);

}  // namespace mixprec::validate
