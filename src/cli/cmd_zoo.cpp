#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "core/file_io.h"
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
    const zoo::ZooModel m = zoo::build_zoo_model(a->name, o);
    const std::string text = mxnet::write_symbol_json(m.graph);
    write_files_atomic({{a->out_prefix + "-0000.params", mxnet::write_params(mxnet::make_checkpoint(m.arg_params, m.aux_params))},
                        {a->out_prefix + "-symbol.json", std::vector<uint8_t>(text.begin(), text.end())}});
    std::cout << "wrote " << a->out_prefix << "-symbol.json (" << m.graph.nodes.size() << " nodes) and " << a->out_prefix
              << "-0000.params (" << m.arg_params.size() + m.aux_params.size() << " arrays)\n";
    return 0;
  };
}

}  // namespace mixprec::cli
