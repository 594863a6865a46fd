#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "inspect/model_summary.h"

namespace mixprec::cli {

Action add_inspect(CLI::App& app) {
  struct Args {
    std::vector<std::string> files;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("inspect", "Summarise symbol JSON and params files: ops, casts, param dtypes and bytes");
  c->add_option("files", a->files, "NAME-symbol.json and/or NAME-0000.params files")->required();
  c->add_flag("--json", a->json, "One JSON object with keys nodes, ops, casts, params, param_bytes, ...");
  return [a] {
    inspect::Summary s;
    for (const auto& f : a->files) inspect::add_file(s, f);
    if (a->json) std::cout << inspect::to_json(s).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";  // param names need not be UTF-8
    else std::cout << inspect::to_text(s);
    return 0;
  };
}

}  // namespace mixprec::cli
