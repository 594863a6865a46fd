// mixprec: convert FP32 MXNet models to mixed precision (float16 / bfloat16), inspect and run them.
// Exit codes (cli/usage_error.h): 0 success, 1 bad input or failed conversion, 2 bad command line,
// 3 `compare` limits not met.
#include <iostream>
#include <map>

#include "cli/commands.h"
#include "cli/usage_error.h"
#include "core/nearest_names.h"
#include "mixprec/error.h"

int main(int argc, char** argv) {
  using namespace mixprec::cli;
  CLI::App app{"mixprec: FP32 -> mixed-precision (float16/bfloat16) model conversion, MXNet AMP compatible"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mixprec 0.1.0");
  std::map<CLI::App*, Action> actions;
  auto reg = [&](auto add) {
    const size_t before = app.get_subcommands({}).size();
    Action a = add(app);
    actions[app.get_subcommands({})[before]] = std::move(a);
  };
  reg(add_convert);
  reg(add_inspect);
  reg(add_zoo);
  reg(add_run);
  reg(add_compare);
  reg(add_bench);
  // CLI11 would call an unknown command "an argument not expected"; name it instead.
  if (argc > 1 && argv[1][0] != '-') {
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands({})) names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), argv[1]) == names.end()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      std::cerr << "mixprec: error: unknown subcommand '" << argv[1] << "'" << mixprec::did_you_mean(mixprec::nearest_names(argv[1], names))
                << " (commands: " << list << ")\n";
      return kExitUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  try {
    for (auto& [sub, action] : actions)
      if (sub->parsed()) return action();
  } catch (const UsageError& e) {
    std::cerr << "mixprec: error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "mixprec: error: " << e.what() << "\n";
    return kExitBadInput;
  }
  return kExitUsage;
}
