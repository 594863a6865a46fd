#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_inputs.h"
#include "validate/model_compare.h"

namespace mixprec::cli {

Action add_compare(CLI::App& app) {
  struct Args {
    std::string reference, candidate;
    std::vector<std::string> inputs, shapes;
    int threads = 0;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("compare", "Run a reference and a candidate model on the same inputs and report the error");
  c->add_option("--reference", a->reference, "Reference model prefix (PREFIX-symbol.json, PREFIX-0000.params), usually FP32")->required();
  c->add_option("--candidate", a->candidate, "Candidate model prefix, usually the converted model")->required();
  c->add_option("--inputs,--input", a->inputs, "NAME=file.npy or NAME=random:SEED (repeatable; default random:0)");
  c->add_option("--shape", a->shapes, "NAME=d0,d1,... for inputs without a .npy file or __shape__ (repeatable)");
  c->add_option("--threads", a->threads, "Threads (default: all cores)");
  c->add_flag("--json", a->json, "Print the report as JSON");
  return [a] {
    const InputSpecs in = parse_inputs(a->inputs);
    runtime::SessionOptions o;
    o.threads = a->threads;
    o.fuse = false;  // per-node errors need every node's output
    o.input_shapes = parse_shapes(a->shapes);
    add_file_shapes(in, o.input_shapes);
    LoadedModel r = load_model_prefix(a->reference), k = load_model_prefix(a->candidate);
    runtime::SessionOptions ro = o, ko = o;
    ro.source = a->reference + "-symbol.json", ko.source = a->candidate + "-symbol.json";
    runtime::Session rs(std::move(r.graph), std::move(r.arg), std::move(r.aux), ro);
    runtime::Session cs(std::move(k.graph), std::move(k.arg), std::move(k.aux), ko);
    const auto inputs = make_inputs(rs, in);
    const validate::Comparison cmp = validate::compare_models(rs, cs, inputs);
    nlohmann::json j;
    for (const auto& m : cmp.outputs)
      j["outputs"].push_back({{"max_abs", m.max_abs}, {"max_rel", m.max_rel}, {"nmse", m.nmse}, {"cosine", m.cosine},
                              {"top1_agreement", m.top1_agreement}, {"rows", m.rows},
                              {"reference_inf_nan", m.ref_nonfinite}, {"candidate_inf_nan", m.cand_nonfinite}});
    for (const auto& e : cmp.first_jumps) j["first_error_jumps"].push_back({{"node", e.name}, {"op", e.op}, {"nmse", e.nmse}, {"jump", e.jump}});
    if (!j.contains("first_error_jumps")) j["first_error_jumps"] = nlohmann::json::array();
    if (a->json) {
      std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";  // names need not be UTF-8
      return 0;
    }
    for (size_t i = 0; i < cmp.outputs.size(); ++i) {
      const auto& m = cmp.outputs[i];
      std::cout << "output " << i << ": max abs " << m.max_abs << ", max rel " << m.max_rel << ", NMSE " << m.nmse << ", cosine "
                << std::setprecision(8) << m.cosine << std::setprecision(6) << ", top-1 agreement " << 100 * m.top1_agreement
                << "% of " << m.rows << ", inf/NaN " << m.ref_nonfinite << " (reference) " << m.cand_nonfinite << " (candidate)\n";
    }
    if (cmp.first_jumps.empty()) {
      std::cout << "no node where the error grows tenfold\n";
    } else {
      std::cout << "first nodes where the error grows tenfold:\n";
      for (const auto& e : cmp.first_jumps)
        std::cout << "  " << e.name << " (" << e.op << "): NMSE " << e.nmse << ", " << e.jump << "x its inputs'\n";
    }
    return 0;
  };
}

}  // namespace mixprec::cli
