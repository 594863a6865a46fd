#include "validate/accuracy_gate.h"

#include <cmath>
#include <sstream>

#include "mixprec/attrs.h"

namespace mixprec::validate {
namespace {

std::string fmt(double v) {
  if (std::isnan(v)) return "nan";
  std::ostringstream s;
  s.precision(4);
  s << v;
  return s.str();
}

// The multi-index of flat position `i` in `shape`, as "(0, 7)".
std::string position(const runtime::Shape& shape, int64_t i) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = shape[d] ? i % shape[d] : 0;
    i = shape[d] ? i / shape[d] : 0;
  }
  return attrs::format_tuple(idx);
}

}  // namespace

std::vector<GateCheck> evaluate_gate(const Comparison& c, const GateLimits& l) {
  std::vector<GateCheck> checks;
  bool any_classes = false;
  for (const OutputMetrics& m : c.outputs) any_classes = any_classes || m.class_axis.has_value();
  if (l.min_top1 && !any_classes)  // a limit that nothing is checked against must not pass
    checks.push_back({"top1", 0, 0, *l.min_top1, false,
                      "no output holds class scores (shaped (N, C) or (N, C, 1, 1)); name the class axis with --class-axis"});
  for (size_t o = 0; o < c.outputs.size(); ++o) {
    const OutputMetrics& m = c.outputs[o];
    if (!l.allow_nonfinite) {
      const auto bad = static_cast<double>(m.cand_nonfinite_where_ref_finite + m.nonfinite_differently);
      std::string detail;
      if (m.cand_nonfinite_where_ref_finite)
        detail = std::to_string(m.cand_nonfinite_where_ref_finite) + " positions non-finite in the candidate where the reference is finite";
      if (m.nonfinite_differently)
        detail += (detail.empty() ? "" : "; ") + std::to_string(m.nonfinite_differently) + " non-finite in both, differently";
      checks.push_back({"nonfinite", o, bad, 0, bad == 0, detail});
    }
    if (l.atol || l.rtol) {
      const double atol = l.atol.value_or(0), rtol = l.rtol.value_or(0);
      const ToleranceResult t = check_tolerance(c.reference[o], c.candidate[o], atol, rtol);
      std::string detail;
      if (t.violations) {
        const auto w = static_cast<size_t>(t.worst);
        detail = std::to_string(t.violations) + " of " + std::to_string(m.size) + " values outside atol " + fmt(atol) +
                 " + rtol " + fmt(rtol) + " * |ref|; worst at " + position(c.reference[o].shape, t.worst) + ": reference " +
                 fmt(c.reference[o].v[w]) + ", candidate " + fmt(c.candidate[o].v[w]);
      }
      checks.push_back({"allclose", o, static_cast<double>(t.violations), 0, t.violations == 0, detail});
    }
    if (l.max_nmse) {
      const bool ok = m.nmse <= *l.max_nmse;  // NaN and inf fail
      checks.push_back({"nmse", o, m.nmse, *l.max_nmse, ok, ok ? "" : "NMSE " + fmt(m.nmse) + " > " + fmt(*l.max_nmse)});
    }
    if (l.min_cosine) {
      const bool ok = m.cosine >= *l.min_cosine;  // NaN fails
      checks.push_back({"cosine", o, m.cosine, *l.min_cosine, ok,
                        ok ? "" : "cosine " + fmt(m.cosine) + " < " + fmt(*l.min_cosine)});
    }
    if (l.min_top1 && m.class_axis) {
      const bool ok = m.top1_agreement >= *l.min_top1;
      checks.push_back({"top1", o, m.top1_agreement, *l.min_top1, ok,
                        ok ? "" : "top-1 agreement " + fmt(100 * m.top1_agreement) + " % < " + fmt(100 * *l.min_top1) + " %"});
    }
  }
  return checks;
}

bool all_passed(const std::vector<GateCheck>& checks) {
  for (const GateCheck& g : checks)
    if (!g.passed) return false;
  return true;
}

}  // namespace mixprec::validate
