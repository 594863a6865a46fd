// mixprec: convert FP32 MXNet models to mixed precision (float16 / bfloat16), inspect and run them.
// Exit codes: 0 success, 1 bad input or failed conversion, 2 bad command line.
#include <iostream>
#include <map>

#include "cli/commands.h"
#include "mixprec/error.h"

int main(int argc, char** argv) {
  CLI::App app{"mixprec: FP32 -> mixed-precision (float16/bfloat16) model conversion, MXNet AMP compatible"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mixprec 0.1.0");
  std::map<CLI::App*, mixprec::cli::Action> actions;
  auto reg = [&](auto add) {
    const size_t before = app.get_subcommands({}).size();
    mixprec::cli::Action a = add(app);
    actions[app.get_subcommands({})[before]] = std::move(a);
  };
  reg(mixprec::cli::add_convert);
  reg(mixprec::cli::add_inspect);
  reg(mixprec::cli::add_zoo);
  reg(mixprec::cli::add_run);
  reg(mixprec::cli::add_compare);
  reg(mixprec::cli::add_bench);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    for (auto& [sub, action] : actions)
      if (sub->parsed()) return action();
  } catch (const mixprec::Error& e) {
    std::cerr << "mixprec: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "mixprec: error: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
