// How far a candidate's outputs are from a reference's: the figures `mixprec compare` reports.
//
// Nothing is skipped: a position where exactly one side is inf/NaN, or where both are but not the
// same value (inf against -inf, inf against NaN), makes max abs, max rel and NMSE infinite, and the
// cosine is taken over every position (NaN when it is undefined). A metric that hides a NaN would
// call a broken model good.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "runtime/kernel.h"

namespace mixprec::validate {

struct OutputMetrics {
  int64_t size = 0;
  double max_abs = 0;  // max |ref - cand|; inf when non-finite values disagree
  double max_rel = 0;  // max |ref - cand| / max(|ref|, 1e-3 * max|ref|)
  double nmse = 0;     // sum (ref - cand)^2 / sum ref^2 (sum of squares alone when the reference is 0)
  double cosine = 0;   // over all positions; NaN when undefined (a zero vector, inf or NaN anywhere)
  // Non-finite values: totals per side, and the positions where the two sides disagree.
  int64_t ref_nonfinite = 0, cand_nonfinite = 0;
  int64_t cand_nonfinite_where_ref_finite = 0;
  int64_t ref_nonfinite_where_cand_finite = 0;
  int64_t nonfinite_differently = 0;  // both non-finite, not the same value
  int64_t nonfinite_mismatches() const {
    return cand_nonfinite_where_ref_finite + ref_nonfinite_where_cand_finite + nonfinite_differently;
  }
  // Top-1 agreement per sample over the class axis; absent for outputs that hold no class scores.
  std::optional<int> class_axis;
  int64_t samples = 0;
  double top1_agreement = 0;  // a sample whose candidate scores are non-finite where the reference's are not disagrees
};

// The class axis of an output shaped (N, C) or (N, C, 1, 1) with C >= 2: 1. Otherwise none: an
// argmax across an image's width or a sequence's hidden units means nothing.
std::optional<int> default_class_axis(const runtime::Shape& shape);

// `class_axis` overrides default_class_axis (negative counts from the end). Throws mixprec::Error
// when the shapes differ or the axis is out of range.
OutputMetrics compare(const runtime::Buf& reference, const runtime::Buf& candidate,
                      std::optional<int> class_axis = std::nullopt);

// Normalised squared error over the positions where both sides are finite (per-node diagnostics).
double nmse(const runtime::Buf& reference, const runtime::Buf& candidate);

// Elements outside |cand - ref| <= atol + rtol * |ref| (numpy's allclose); a non-finite
// disagreement is always outside. `worst` is the index of the largest excess.
struct ToleranceResult {
  int64_t violations = 0;
  int64_t worst = -1;
  double worst_excess = 0;  // |cand - ref| - (atol + rtol * |ref|) at `worst`
};
ToleranceResult check_tolerance(const runtime::Buf& reference, const runtime::Buf& candidate, double atol, double rtol);

}  // namespace mixprec::validate
