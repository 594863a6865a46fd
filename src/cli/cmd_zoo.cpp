#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "core/file_io.h"
#include "formats/mxnet/params_pending.h"
#include "mixprec/mxnet.h"
#include "mixprec/zoo.h"

namespace mixprec::cli {

Action add_zoo(CLI::App& app) {
  struct Args {
    std::string name, out_prefix;
    uint64_t seed = 0;
    bool list = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("zoo", "Write a model-zoo network (Gluon names) with deterministic seeded FP32 weights");
  c->add_option("name", a->name, "Model name, e.g. resnet50_v1 (see --list)");
  c->add_option("--out-prefix", a->out_prefix, "Writes OUT-symbol.json and OUT-0000.params");
  c->add_option("--seed", a->seed, "Weight seed (default 0)");
  c->add_flag("--list", a->list, "List the model names");
  return [a] {
    if (a->list || a->name.empty()) {
      for (const auto& n : zoo::zoo_names()) std::cout << n << "\n";
      return a->list ? 0 : 2;
    }
    if (a->out_prefix.empty()) a->out_prefix = a->name;
    zoo::ZooOptions o;
    o.seed = a->seed;
    zoo::ZooModel m = zoo::build_zoo_model(a->name, o);
    const std::string text = mxnet::write_symbol_json(m.graph);
    const mxnet::ParamsFile params = mxnet::make_checkpoint(std::move(m.arg_params), std::move(m.aux_params));
    write_files_atomic({mxnet::params_file(a->out_prefix + "-0000.params", params), bytes_file(a->out_prefix + "-symbol.json", text)});
    std::cout << "wrote " << a->out_prefix << "-symbol.json (" << m.graph.nodes.size() << " nodes) and " << a->out_prefix
              << "-0000.params (" << params.arrays.size() << " arrays)\n";
    return 0;
  };
}

}  // namespace mixprec::cli
