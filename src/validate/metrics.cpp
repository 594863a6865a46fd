#include "validate/metrics.h"

#include <cmath>

#include "mixprec/attrs.h"
#include "mixprec/error.h"

namespace mixprec::validate {

double nmse(const runtime::Buf& r, const runtime::Buf& c) {
  double num = 0, den = 0;
  for (size_t i = 0; i < r.v.size() && i < c.v.size(); ++i) {
    if (!std::isfinite(r.v[i]) || !std::isfinite(c.v[i])) continue;
    const double d = static_cast<double>(r.v[i]) - c.v[i];
    num += d * d;
    den += static_cast<double>(r.v[i]) * r.v[i];
  }
  return den > 0 ? num / den : num;
}

OutputMetrics compare(const runtime::Buf& r, const runtime::Buf& c) {
  if (r.shape != c.shape)
    throw Error("", "outputs", "reference shape " + attrs::format_tuple(r.shape) + " differs from candidate shape " +
                                   attrs::format_tuple(c.shape));
  OutputMetrics m;
  double peak = 0;
  for (float x : r.v)
    if (std::isfinite(x)) peak = std::max(peak, std::fabs(static_cast<double>(x)));
  const double floor = std::max(1e-3 * peak, 1e-30);
  double num = 0, den = 0, dot = 0, cc = 0;
  for (size_t i = 0; i < r.v.size(); ++i) {
    const bool rf = std::isfinite(r.v[i]), cf = std::isfinite(c.v[i]);
    m.ref_nonfinite += rf ? 0 : 1;
    m.cand_nonfinite += cf ? 0 : 1;
    if (!rf || !cf) continue;
    const double a = r.v[i], b = c.v[i], d = std::fabs(a - b);
    m.max_abs = std::max(m.max_abs, d);
    m.max_rel = std::max(m.max_rel, d / std::max(std::fabs(a), floor));
    num += d * d;
    den += a * a;
    dot += a * b;
    cc += b * b;
  }
  m.nmse = den > 0 ? num / den : num;
  m.cosine = den > 0 && cc > 0 ? dot / std::sqrt(den * cc) : (num == 0 ? 1.0 : 0.0);
  // Rows over the last axis: the class scores of a classifier.
  const int64_t cols = r.shape.empty() ? 1 : r.shape.back();
  m.rows = cols > 0 ? static_cast<int64_t>(r.v.size()) / cols : 0;
  int64_t agree = 0;
  for (int64_t row = 0; row < m.rows; ++row) {
    int64_t ar = 0, ac = 0;
    for (int64_t k = 1; k < cols; ++k) {
      if (r.v[static_cast<size_t>(row * cols + k)] > r.v[static_cast<size_t>(row * cols + ar)]) ar = k;
      if (c.v[static_cast<size_t>(row * cols + k)] > c.v[static_cast<size_t>(row * cols + ac)]) ac = k;
    }
    agree += ar == ac ? 1 : 0;
  }
  m.top1_agreement = m.rows ? static_cast<double>(agree) / static_cast<double>(m.rows) : 1.0;
  return m;
}

}  // namespace mixprec::validate
