#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "core/file_io.h"
#include "formats/mxnet/params_pending.h"
#include "mixprec/amp.h"
#include "mixprec/error.h"
#include "mixprec/mxnet.h"

namespace mixprec::cli {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, sep);)
    if (!item.empty()) out.push_back(item);
  return out;
}

// "OP:ATTR:v1|v2", several separated by commas.
std::vector<amp::ConditionalFp32> parse_conditionals(const std::vector<std::string>& specs) {
  std::vector<amp::ConditionalFp32> out;
  for (const auto& spec_list : specs)
    for (const auto& spec : split(spec_list, ',')) {
      const auto parts = split(spec, ':');
      if (parts.size() != 3)
        throw Error("", "--conditional-fp32-ops", "'" + spec + "' is not OP:ATTR:value1|value2");
      out.push_back({parts[0], parts[1], split(parts[2], '|')});
    }
  return out;
}

struct ConvertArgs {
  std::string symbol, params, out_prefix, target_dtype = "float16", compat = "mxnet2";
  std::string target_ops, fp32_ops, widest_ops, excluded;
  std::vector<std::string> conditional, input_dtypes;
  bool offline = false, json = false;
  CLI::Option *target_opt = nullptr, *fp32_opt = nullptr, *widest_opt = nullptr, *cond_opt = nullptr;
};

void refuse_to_overwrite_inputs(const std::string& out, const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& in : inputs)
    if (fs::exists(out, ec) && fs::equivalent(out, in, ec))
      throw Error(out, "", "output would overwrite the input file " + in);
}

int run_convert(const ConvertArgs& a) {
  amp::AmpOptions o;
  const auto t = dtype_from_name(a.target_dtype);
  if (!t || !is_low_precision(*t)) throw Error("", "--target-dtype", "must be float16 or bfloat16, not '" + a.target_dtype + "'");
  o.target_dtype = *t;
  if (a.compat != "mxnet1" && a.compat != "mxnet2") throw Error("", "--compat", "must be mxnet1 or mxnet2, not '" + a.compat + "'");
  o.compat = a.compat == "mxnet1" ? amp::Compat::MXNet1 : amp::Compat::MXNet2;
  if (a.target_opt->count()) o.target_dtype_ops = split(a.target_ops, ',');
  if (a.fp32_opt->count()) o.fp32_ops = split(a.fp32_ops, ',');
  if (a.widest_opt->count()) o.widest_dtype_ops = split(a.widest_ops, ',');
  if (a.cond_opt->count()) o.conditional_fp32_ops = parse_conditionals(a.conditional);
  o.excluded_sym_names = split(a.excluded, ',');
  o.cast_params_offline = a.offline;
  for (const auto& spec : a.input_dtypes) {
    const auto eq = spec.find('=');
    const auto d = eq == std::string::npos ? std::nullopt : dtype_from_name(spec.substr(eq + 1));
    if (!d) throw Error("", "--input-dtype", "'" + spec + "' is not NAME=DTYPE");
    o.input_dtypes[spec.substr(0, eq)] = *d;
  }

  const std::string sym_out = a.out_prefix + "-symbol.json", par_out = a.out_prefix + "-0000.params";
  refuse_to_overwrite_inputs(sym_out, {a.symbol, a.params});
  refuse_to_overwrite_inputs(par_out, {a.symbol, a.params});

  // Tensors are moved from stage to stage, never copied: peak memory stays near one params file.
  Graph graph = mxnet::read_symbol_json(a.symbol);
  TensorMap arg, aux;
  mxnet::split_params(mxnet::read_params(a.params), arg, aux, a.params);
  amp::AmpResult r = amp::convert_model(std::move(graph), std::move(arg), std::move(aux), o);
  const std::string text = mxnet::write_symbol_json(r.graph);
  const mxnet::ParamsFile out = mxnet::make_checkpoint(std::move(r.arg_params), std::move(r.aux_params));
  write_files_atomic({mxnet::params_file(par_out, out), bytes_file(sym_out, text)});

  for (const auto& w : r.warnings) std::cerr << "mixprec: warning: " << w << "\n";
  const std::string lp(dtype_name(o.target_dtype));
  if (a.json) {
    std::cout << "{\"symbol\": \"" << sym_out << "\", \"params\": \"" << par_out << "\", \"target_dtype\": \"" << lp
              << "\", \"casts_to_target\": " << r.stats.lp_casts << ", \"casts_to_float32\": " << r.stats.fp32_casts
              << ", \"multicasts\": " << r.stats.multicasts << ", \"lp_nodes\": " << r.stats.lp_nodes
              << ", \"params_stored_low\": " << r.stats.params_lp << ", \"warnings\": " << r.warnings.size() << "}\n";
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
  c->add_option("--params", a->params, "FP32 NAME-0000.params")->required();
  c->add_option("--out-prefix", a->out_prefix, "Writes OUT-symbol.json and OUT-0000.params")->required();
  c->add_option("--target-dtype", a->target_dtype, "float16 (default) or bfloat16");
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
  return [a] { return run_convert(*a); };
}

}  // namespace mixprec::cli
