#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/option_values.h"
#include "cli/usage_error.h"
#include "inspect/model_summary.h"
#include "inspect/summary_output.h"

namespace mixprec::cli {

Action add_inspect(CLI::App& app) {
  struct Args {
    std::vector<std::string> files, shapes;
    bool json = false, checksums = false;
    inspect::OutputOptions output;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand(
      "inspect", "Summarise symbol JSON and params files: inputs, outputs, ops, casts, params by dtype (headers only)");
  c->add_option("files", a->files, "NAME-symbol.json and/or NAME-0000.params files")->required();
  c->add_flag("--params", a->output.params, "List every param: name, dtype, shape, bytes");
  c->add_flag("--checksums", a->checksums,
              "With the param list: the CRC-32 (zlib) of each array's stored bytes; reads the data (implies --params)");
  c->add_flag("--nodes", a->output.nodes, "List every op node in graph order: name, op, dtype after type inference, shape");
  // One value per --shape, so that files may follow it.
  c->add_option("--shape", a->shapes, "NAME=d0,d1,... a data input's shape, for output shapes (repeatable)")->allow_extra_args(false);
  c->add_flag("--json", a->json, "One JSON object with keys nodes, ops, casts, params, param_bytes, inputs, outputs, ...");
  return [a] {
    inspect::InspectOptions o;
    o.checksums = a->checksums;
    if (a->checksums) a->output.params = true;
    for (const std::string& spec : a->shapes) {
      const auto [name, dims] = split_assignment(spec, "--shape", "NAME=d0,d1,... (e.g. data=1,3,224,224)");
      o.input_shapes[name] = parse_dims(dims, "--shape " + name);
    }
    inspect::Summary s;
    try {
      s = inspect::inspect_files(a->files, o);
    } catch (const Error& e) {
      if (e.place().rfind("--shape", 0) == 0) throw UsageError(e.place(), e.reason());  // a name the model lacks: exit 2
      throw;
    }
    if (a->json)  // param names need not be UTF-8
      std::cout << inspect::to_json(s, a->output).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    else
      std::cout << inspect::to_text(s, a->output);
    return 0;
  };
}

}  // namespace mixprec::cli
