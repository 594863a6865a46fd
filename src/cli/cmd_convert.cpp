#include <algorithm>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.h"
#include "cli/model_files.h"
#include "cli/option_values.h"
#include "cli/progress.h"
#include "cli/usage_error.h"
#include "core/file_io.h"
#include "formats/mxnet/params_pending.h"
#include "mixprec/amp.h"
#include "mixprec/error.h"
#include "mixprec/mxnet.h"

namespace mixprec::cli {
namespace {

// "OP:ATTR:v1|v2", several separated by commas.
std::vector<amp::ConditionalFp32> parse_conditionals(const std::vector<std::string>& specs) {
  std::vector<amp::ConditionalFp32> out;
  for (const auto& spec_list : specs)
    for (const auto& spec : split_list(spec_list, ',')) {
      const auto parts = split_list(spec, ':');
      if (parts.size() != 3)
        throw UsageError("--conditional-fp32-ops", "'" + spec + "' is not OP:ATTR:value1|value2");
      out.push_back({parts[0], parts[1], split_list(parts[2], '|')});
    }
  return out;
}

struct ConvertArgs {
  std::string symbol, params, out_prefix, target_dtype = "float16", compat = "mxnet2";
  std::string target_ops, fp32_ops, widest_ops, excluded;
  std::vector<std::string> conditional, input_dtypes;
  std::optional<int> epoch;
  bool offline = false, json = false;
  ProgressMode progress = ProgressMode::Auto;
  CLI::Option *target_opt = nullptr, *fp32_opt = nullptr, *widest_opt = nullptr, *cond_opt = nullptr;
};

void refuse_to_overwrite_inputs(const std::string& out, const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& in : inputs)
    if (fs::exists(out, ec) && fs::equivalent(out, in, ec))
      throw Error(out, "", "output would overwrite the input file " + in);
}

amp::AmpOptions amp_options(const ConvertArgs& a) {
  amp::AmpOptions o;
  o.target_dtype = parse_target_dtype(a.target_dtype, "--target-dtype");
  if (a.compat != "mxnet1" && a.compat != "mxnet2") throw UsageError("--compat", "must be mxnet1 or mxnet2, not '" + a.compat + "'");
  o.compat = a.compat == "mxnet1" ? amp::Compat::MXNet1 : amp::Compat::MXNet2;
  if (a.target_opt->count()) o.target_dtype_ops = split_list(a.target_ops, ',');
  if (a.fp32_opt->count()) o.fp32_ops = split_list(a.fp32_ops, ',');
  if (a.widest_opt->count()) o.widest_dtype_ops = split_list(a.widest_ops, ',');
  if (a.cond_opt->count()) o.conditional_fp32_ops = parse_conditionals(a.conditional);
  o.excluded_sym_names = split_list(a.excluded, ',');
  o.cast_params_offline = a.offline;
  for (const auto& spec : a.input_dtypes) {
    const auto [name, dtype] = split_assignment(spec, "--input-dtype", "NAME=DTYPE");
    o.input_dtypes[name] = parse_dtype(dtype, "--input-dtype " + name);
  }
  return o;
}

int run_convert(const ConvertArgs& a) {
  amp::AmpOptions o = amp_options(a);
  // Options are checked before any file is read: a list typo costs nothing and is a usage error.
  try {
    amp::effective_lists(o);
  } catch (const Error& e) {
    std::string option = "--" + e.place();  // the API's list names, as the CLI spells them
    std::replace(option.begin(), option.end(), '_', '-');
    throw UsageError(option, e.reason());
  }
  if (std::filesystem::is_directory(a.out_prefix))
    throw UsageError("--out-prefix", "'" + a.out_prefix + "' is a directory; --out-prefix names the output files: e.g. --out-prefix " +
                                         (std::filesystem::path(a.out_prefix) / "model").string() + " writes " +
                                         (std::filesystem::path(a.out_prefix) / "model").string() + "-symbol.json and " +
                                         params_path((std::filesystem::path(a.out_prefix) / "model").string(), 0) + " in it");
  const int epoch = a.epoch ? *a.epoch : epoch_of(a.params).value_or(0);
  const std::string sym_out = symbol_path(a.out_prefix), par_out = params_path(a.out_prefix, epoch);
  refuse_to_overwrite_inputs(sym_out, {a.symbol, a.params});
  refuse_to_overwrite_inputs(par_out, {a.symbol, a.params});

  Progress progress(a.progress, "convert");
  progress.stage("reading " + a.params);
  // Tensors are moved from stage to stage, never copied: peak memory stays near one params file.
  LoadedModel m = load_model({a.symbol, a.params});
  std::set<std::string> named;
  for (const auto& [name, d] : o.input_dtypes) named.insert(name);
  require_weights(classify_variables(m.graph, m.arg, m.aux, named), m.files);
  progress.stage("converting " + std::to_string(m.graph.nodes.size()) + " nodes");
  amp::AmpResult r = amp::convert_model(std::move(m.graph), std::move(m.arg), std::move(m.aux), o);
  progress.stage("writing " + sym_out + " and " + par_out);
  const std::string text = mxnet::write_symbol_json(r.graph);
  const mxnet::ParamsFile out = mxnet::make_checkpoint(std::move(r.arg_params), std::move(r.aux_params));
  write_files_atomic({mxnet::params_file(par_out, out), bytes_file(sym_out, text)});
  progress.finish();

  for (const auto& w : r.warnings) std::cerr << "mixprec: warning: " << w << "\n";
  const std::string lp(dtype_name(o.target_dtype));
  if (a.json) {
    const nlohmann::json j = {{"symbol", sym_out},
                              {"params", par_out},
                              {"target_dtype", lp},
                              {"casts_to_target", r.stats.lp_casts},
                              {"casts_to_float32", r.stats.fp32_casts},
                              {"multicasts", r.stats.multicasts},
                              {"lp_nodes", r.stats.lp_nodes},
                              {"params_stored_low", r.stats.params_lp},
                              {"warnings", r.warnings.size()}};
    std::cout << j.dump() << "\n";
  } else {
    std::cout << "converted " << a.symbol << " to " << lp << " (" << a.compat << " rules): " << r.stats.lp_nodes
              << " ops run in " << lp << "; " << r.stats.lp_casts << " casts to " << lp << ", " << r.stats.fp32_casts
              << " to float32";
    if (r.stats.multicasts) std::cout << ", " << r.stats.multicasts << " multicasts";
    std::cout << "; " << r.stats.params_lp << " params stored in " << lp << "\n";
    std::cout << "wrote " << sym_out << " and " << par_out << "\n";
  }
  return 0;
}

}  // namespace

Action add_convert(CLI::App& app) {
  auto a = std::make_shared<ConvertArgs>();
  CLI::App* c = app.add_subcommand("convert", "Convert an FP32 MXNet model to mixed precision (MXNet AMP rules)");
  c->add_option("--symbol", a->symbol, "FP32 NAME-symbol.json")->required();
  c->add_option("--params", a->params, "FP32 NAME-NNNN.params")->required();
  c->add_option("--out-prefix", a->out_prefix, "Writes OUT-symbol.json and OUT-NNNN.params")->required();
  c->add_option("--epoch", a->epoch, "Epoch number of the output params file (default: the input's, else 0)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--target-dtype", a->target_dtype, "float16 (default; also fp16, half) or bfloat16 (also bf16)");
  a->target_opt = c->add_option("--target-dtype-ops", a->target_ops, "Comma list replacing the default ops that run in the target dtype");
  a->fp32_opt = c->add_option("--fp32-ops", a->fp32_ops, "Comma list replacing the default ops that run in float32");
  a->widest_opt = c->add_option("--widest-dtype-ops", a->widest_ops, "Comma list replacing the default ops that run in the widest input dtype");
  a->cond_opt = c->add_option("--conditional-fp32-ops", a->conditional,
                              "OP:ATTR:v1|v2 (comma separated or repeated): run OP in float32 when ATTR is written as one of the values; replaces the defaults");
  c->add_option("--excluded-sym-names", a->excluded, "Comma list of node names kept in float32");
  c->add_flag("--cast-params-offline", a->offline, "Store params in the target dtype when every consumer wants it");
  c->add_option("--compat", a->compat, "mxnet2 (default: 2.x rules) or mxnet1 (1.x structure: amp_multicast, __dtype__)");
  c->add_option("--input-dtype", a->input_dtypes, "NAME=DTYPE for a data input that is not float32 (repeatable)");
  c->add_flag("--json", a->json, "Print the summary as JSON");
  add_progress_options(c, a->progress);
  return [a] { return run_convert(*a); };
}

}  // namespace mixprec::cli
