#include "validate/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "mixprec/attrs.h"
#include "mixprec/error.h"

namespace mixprec::validate {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Both non-finite and the same: both NaN, or the same infinity.
bool same_nonfinite(float a, float b) { return (std::isnan(a) && std::isnan(b)) || (std::isinf(a) && a == b); }

// Index of the largest of `n` values `stride` apart; NaN counts as largest (the first NaN wins), so
// a NaN score is never passed over as if it were not there.
int64_t argmax(const float* p, int64_t n, int64_t stride) {
  int64_t best = 0;
  for (int64_t k = 0; k < n; ++k) {
    const float x = p[k * stride];
    if (std::isnan(x)) return k;
    if (x > p[best * stride]) best = k;
  }
  return best;
}

}  // namespace

std::optional<int> default_class_axis(const runtime::Shape& s) {
  const bool nc = s.size() == 2 || (s.size() == 4 && s[2] == 1 && s[3] == 1);
  if (nc && s[1] >= 2) return 1;
  return std::nullopt;
}

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

OutputMetrics compare(const runtime::Buf& r, const runtime::Buf& c, std::optional<int> class_axis) {
  if (r.shape != c.shape)
    throw Error("", "outputs", "reference shape " + attrs::format_tuple(r.shape) + " differs from candidate shape " +
                                   attrs::format_tuple(c.shape));
  OutputMetrics m;
  m.size = static_cast<int64_t>(r.v.size());
  double peak = 0;
  for (float x : r.v)
    if (std::isfinite(x)) peak = std::max(peak, std::fabs(static_cast<double>(x)));
  const double floor = std::max(1e-3 * peak, 1e-30);
  double num = 0, den = 0, dot = 0, rr = 0, cc = 0;
  for (size_t i = 0; i < r.v.size(); ++i) {
    const float a = r.v[i], b = c.v[i];
    const bool af = std::isfinite(a), bf = std::isfinite(b);
    m.ref_nonfinite += af ? 0 : 1;
    m.cand_nonfinite += bf ? 0 : 1;
    // The cosine sees every position: an inf or NaN anywhere makes it NaN, as it should.
    dot += static_cast<double>(a) * b;
    rr += static_cast<double>(a) * a;
    cc += static_cast<double>(b) * b;
    if (af && bf) {
      const double d = std::fabs(static_cast<double>(a) - b);
      m.max_abs = std::max(m.max_abs, d);
      m.max_rel = std::max(m.max_rel, d / std::max(std::fabs(static_cast<double>(a)), floor));
      num += d * d;
      den += static_cast<double>(a) * a;
    } else if (af) {
      ++m.cand_nonfinite_where_ref_finite;
    } else if (bf) {
      ++m.ref_nonfinite_where_cand_finite;
    } else if (!same_nonfinite(a, b)) {
      ++m.nonfinite_differently;
    }
  }
  if (m.nonfinite_mismatches() > 0) {
    m.max_abs = m.max_rel = m.nmse = kInf;
  } else {
    m.nmse = den > 0 ? num / den : num;
  }
  m.cosine = rr > 0 && cc > 0 ? dot / std::sqrt(rr * cc) : kNaN;
  if (std::isfinite(m.cosine)) m.cosine = std::clamp(m.cosine, -1.0, 1.0);  // rounding can step past 1

  m.class_axis = class_axis ? class_axis : default_class_axis(r.shape);
  if (!m.class_axis) return m;
  const int rank = static_cast<int>(r.shape.size());
  int axis = *m.class_axis;
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank)
    throw Error("", "--class-axis", std::to_string(*m.class_axis) + " is not an axis of an output shaped " +
                                        attrs::format_tuple(r.shape));
  m.class_axis = axis;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= r.shape[static_cast<size_t>(d)];
  for (int d = axis + 1; d < rank; ++d) inner *= r.shape[static_cast<size_t>(d)];
  const int64_t classes = r.shape[static_cast<size_t>(axis)];
  if (classes == 0) return m;
  int64_t agree = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      const size_t base = static_cast<size_t>(o * classes * inner + in);
      bool broken = false;  // candidate non-finite where the reference is finite
      for (int64_t k = 0; k < classes; ++k) {
        const size_t i = base + static_cast<size_t>(k * inner);
        broken = broken || (std::isfinite(r.v[i]) && !std::isfinite(c.v[i]));
      }
      if (!broken && argmax(&r.v[base], classes, inner) == argmax(&c.v[base], classes, inner)) ++agree;
    }
  m.samples = outer * inner;
  m.top1_agreement = m.samples ? static_cast<double>(agree) / static_cast<double>(m.samples) : 0.0;
  return m;
}

ToleranceResult check_tolerance(const runtime::Buf& r, const runtime::Buf& c, double atol, double rtol) {
  ToleranceResult t;
  for (size_t i = 0; i < r.v.size() && i < c.v.size(); ++i) {
    const float a = r.v[i], b = c.v[i];
    double excess;
    if (std::isfinite(a) && std::isfinite(b)) {
      excess = std::fabs(static_cast<double>(a) - b) - (atol + rtol * std::fabs(static_cast<double>(a)));
      if (excess <= 0) continue;
    } else if (same_nonfinite(a, b)) {
      continue;
    } else {
      excess = kInf;
    }
    ++t.violations;
    if (t.worst < 0 || excess > t.worst_excess) {
      t.worst = static_cast<int64_t>(i);
      t.worst_excess = excess;
    }
  }
  return t;
}

}  // namespace mixprec::validate
