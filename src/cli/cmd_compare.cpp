#include <cmath>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/model_inputs.h"
#include "cli/usage_error.h"
#include "mixprec/attrs.h"
#include "mixprec/error.h"
#include "validate/accuracy_gate.h"
#include "validate/model_compare.h"

namespace mixprec::cli {
namespace {

struct CompareArgs {
  std::string reference, candidate;
  std::optional<int> epoch, class_axis;
  std::vector<std::string> inputs, shapes;
  int threads = 0;
  bool json = false;
  ProgressMode progress = ProgressMode::Auto;
  validate::GateLimits limits;
  std::optional<double> min_top1_percent;
};

// JSON has no inf or NaN (nlohmann would write null, hiding them): such figures become strings.
nlohmann::json figure(double v) {
  if (std::isfinite(v)) return v;
  return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
}

std::string fmt(double v, int precision = 4) {
  if (std::isnan(v)) return "nan";  // not "-nan": the sign of a NaN means nothing
  std::ostringstream s;
  s << std::setprecision(precision) << v;
  return s.str();
}

// "7.1e+04 > 65504, the float16 range" when the reference's values exceed the dtype's range.
std::string magnitude_note(const validate::NonfiniteOrigin& o) {
  std::string s = "largest FP32 magnitude there " + fmt(o.reference_peak, 3);
  const double limit = validate::largest_finite(o.dtype);
  if (o.reference_peak > limit) s += " > " + fmt(limit, 6) + ", the " + std::string(dtype_name(o.dtype)) + " range";
  return s;
}

int run_compare(const CompareArgs& a) {
  validate::GateLimits limits = a.limits;
  if (a.min_top1_percent) limits.min_top1 = *a.min_top1_percent / 100.0;
  const InputSpecs specs = parse_input_specs(a.inputs, a.shapes);
  const ModelFiles ref_files = resolve_prefix(a.reference, a.epoch), cand_files = resolve_prefix(a.candidate, a.epoch);
  runtime::SessionOptions o;
  o.threads = a.threads;
  o.fuse = false;  // every node observed
  OpenedModel ref = open_model(ref_files, specs, o);
  o.observe_unrounded = true;  // the candidate's own rounding error per node
  OpenedModel cand = open_model(cand_files, specs, o);
  if (ref.variables.data_inputs != cand.variables.data_inputs)
    throw Error(cand_files.symbol, "", "the candidate's inputs differ from the reference's");
  const auto inputs = make_inputs(ref.session, specs);

  Progress progress(a.progress, "compare");
  validate::CompareOptions co;
  co.class_axis = a.class_axis;
  co.progress = [&](size_t done, size_t total) { progress.count(done, total, "nodes"); };
  const validate::Comparison cmp = validate::compare_models(ref.session, cand.session, inputs, co);
  progress.finish();
  const std::vector<validate::GateCheck> checks = validate::evaluate_gate(cmp, limits);
  const bool passed = validate::all_passed(checks);

  if (a.json) {
    nlohmann::json j;
    j["outputs"] = nlohmann::json::array();
    for (const auto& m : cmp.outputs) {
      nlohmann::json o_json = {{"size", m.size},
                               {"max_abs", figure(m.max_abs)},
                               {"max_rel", figure(m.max_rel)},
                               {"nmse", figure(m.nmse)},
                               {"cosine", figure(m.cosine)},
                               {"reference_inf_nan", m.ref_nonfinite},
                               {"candidate_inf_nan", m.cand_nonfinite},
                               {"candidate_nonfinite_where_reference_finite", m.cand_nonfinite_where_ref_finite},
                               {"reference_nonfinite_where_candidate_finite", m.ref_nonfinite_where_cand_finite},
                               {"nonfinite_differently", m.nonfinite_differently}};
      o_json["top1"] = m.class_axis ? nlohmann::json{{"class_axis", *m.class_axis}, {"samples", m.samples}, {"agreement", m.top1_agreement}}
                                    : nlohmann::json(nullptr);
      j["outputs"].push_back(o_json);
    }
    if (cmp.first_nonfinite) {
      const auto& f = *cmp.first_nonfinite;
      j["first_nonfinite"] = {{"node", f.name},
                              {"op", f.op},
                              {"dtype", dtype_name(f.dtype)},
                              {"count", f.count},
                              {"reference_peak", f.reference_peak},
                              {"dtype_max", validate::largest_finite(f.dtype)}};
    } else {
      j["first_nonfinite"] = nullptr;
    }
    j["largest_own_errors"] = nlohmann::json::array();
    for (const auto& e : cmp.largest_own_errors)
      j["largest_own_errors"].push_back({{"node", e.name}, {"op", e.op}, {"dtype", dtype_name(e.dtype)},
                                         {"relative", figure(e.relative)}, {"unit_roundoffs", figure(e.in_roundoff)}});
    j["checks"] = nlohmann::json::array();
    for (const auto& c : checks)
      j["checks"].push_back({{"check", c.check}, {"output", c.output}, {"value", figure(c.value)}, {"limit", c.limit},
                             {"passed", c.passed}, {"detail", c.detail}});
    j["passed"] = passed;
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";  // names need not be UTF-8
    return passed ? kExitOk : kExitGateFailed;
  }

  // A broken candidate is said first, before any figure.
  for (size_t i = 0; i < cmp.outputs.size(); ++i) {
    const auto& m = cmp.outputs[i];
    if (m.cand_nonfinite_where_ref_finite)
      std::cout << "output " << i << ": " << m.cand_nonfinite_where_ref_finite
                << " positions non-finite in the candidate where the reference is finite\n";
    if (m.nonfinite_differently)
      std::cout << "output " << i << ": " << m.nonfinite_differently << " positions non-finite in both, differently\n";
  }
  if (cmp.first_nonfinite) {
    const auto& f = *cmp.first_nonfinite;
    std::cout << "first node producing inf/NaN: " << f.name << " (" << f.op << ", " << dtype_name(f.dtype) << "): " << f.count
              << " values; " << magnitude_note(f) << "\n";
  }
  for (size_t i = 0; i < cmp.outputs.size(); ++i) {
    const auto& m = cmp.outputs[i];
    std::cout << "output " << i << " " << attrs::format_tuple(cmp.reference[i].shape) << ": max abs " << fmt(m.max_abs)
              << ", max rel " << fmt(m.max_rel) << ", NMSE " << fmt(m.nmse) << ", cosine " << fmt(m.cosine, 8);
    if (m.class_axis)
      std::cout << ", top-1 agreement " << fmt(100 * m.top1_agreement) << " % of " << m.samples << " samples";
    std::cout << ", inf/NaN " << m.ref_nonfinite << " (reference) " << m.cand_nonfinite << " (candidate)\n";
  }
  if (!cmp.largest_own_errors.empty()) {
    std::cout << "largest own rounding errors (node output against its float32 value from the candidate's inputs, "
                 "in unit roundoffs of its dtype):\n";
    for (const auto& e : cmp.largest_own_errors)
      std::cout << "  " << e.name << " (" << e.op << ", " << dtype_name(e.dtype) << "): " << fmt(e.in_roundoff, 3) << " u\n";
  }
  for (const auto& c : checks)
    std::cout << (c.passed ? "PASS " : "FAIL ") << c.check << " (output " << c.output << ")"
              << (c.detail.empty() ? "" : ": " + c.detail) << "\n";
  if (!checks.empty()) std::cout << (passed ? "all checks passed\n" : "some checks failed (exit code 3)\n");
  return passed ? kExitOk : kExitGateFailed;
}

}  // namespace

Action add_compare(CLI::App& app) {
  auto a = std::make_shared<CompareArgs>();
  CLI::App* c = app.add_subcommand("compare", "Run a reference and a candidate model on the same inputs, report the error, "
                                              "and check it against limits (exit code 3 when one fails)");
  c->add_option("--reference", a->reference, "Reference model PREFIX (PREFIX-symbol.json, PREFIX-NNNN.params), usually FP32")
      ->required();
  c->add_option("--candidate", a->candidate, "Candidate model PREFIX, usually the converted model")->required();
  c->add_option("--epoch", a->epoch, "Params epoch of both prefixes (default: the only PREFIX-NNNN.params present)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--inputs,--input", a->inputs, "NAME=file.npy, NAME=random:SEED, or file.npz (repeatable; default random:0)");
  c->add_option("--shape", a->shapes, "NAME=1,3,224,224 for inputs without a file or __shape__ (repeatable)");
  c->add_option("--threads", a->threads, "Threads (default: all cores)")->check(CLI::NonNegativeNumber);
  c->add_option("--atol", a->limits.atol, "Fail unless |cand - ref| <= atol + rtol * |ref| everywhere")->check(CLI::NonNegativeNumber);
  c->add_option("--rtol", a->limits.rtol, "Relative part of that check (default 0 when only --atol is given)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--max-nmse", a->limits.max_nmse, "Fail when an output's NMSE is above this")->check(CLI::NonNegativeNumber);
  c->add_option("--min-cosine", a->limits.min_cosine, "Fail when an output's cosine similarity is below this (or undefined)")
      ->check(CLI::Range(-1.0, 1.0));
  c->add_option("--min-top1", a->min_top1_percent, "Fail when top-1 agreement is below this percentage (0-100)")
      ->check(CLI::Range(0.0, 100.0));
  c->add_option("--class-axis", a->class_axis,
                "Axis of class scores for top-1 (default: axis 1 of outputs shaped (N, C) or (N, C, 1, 1), C >= 2)");
  c->add_flag("--allow-nonfinite", a->limits.allow_nonfinite,
              "Do not fail on inf/NaN in the candidate where the reference is finite");
  c->add_flag("--json", a->json, "Print the report, every check and its verdict as JSON");
  add_progress_options(c, a->progress);
  return [a] { return run_compare(*a); };
}

}  // namespace mixprec::cli
