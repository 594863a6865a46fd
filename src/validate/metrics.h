// How far a candidate's outputs are from a reference's: the figures `mixprec compare` reports.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/kernel.h"

namespace mixprec::validate {

struct OutputMetrics {
  double max_abs = 0;         // max |ref - cand| over finite pairs
  double max_rel = 0;         // max |ref - cand| / max(|ref|, 1e-3 * max|ref|)
  double nmse = 0;            // sum (ref - cand)^2 / sum ref^2
  double cosine = 1;          // cosine similarity
  double top1_agreement = 1;  // rows (last axis = classes) whose argmax agrees
  int64_t rows = 0;
  int64_t ref_nonfinite = 0, cand_nonfinite = 0;  // inf / NaN counts
};

// Throws mixprec::Error when the shapes differ.
OutputMetrics compare(const runtime::Buf& reference, const runtime::Buf& candidate);

// Normalised squared error alone (cheap; used per node).
double nmse(const runtime::Buf& reference, const runtime::Buf& candidate);

}  // namespace mixprec::validate
