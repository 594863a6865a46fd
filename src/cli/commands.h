// The `mixprec` subcommands. Each registers its options on the app and runs when chosen.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace mixprec::cli {

// A registered subcommand's action; returns the process exit code.
using Action = std::function<int()>;

Action add_convert(CLI::App& app);
Action add_inspect(CLI::App& app);
Action add_zoo(CLI::App& app);
Action add_run(CLI::App& app);
Action add_compare(CLI::App& app);
Action add_bench(CLI::App& app);

}  // namespace mixprec::cli
