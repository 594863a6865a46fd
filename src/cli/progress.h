// Progress on stderr for work that takes seconds (compare, bench, large conversions): shown only
// when stderr is a terminal (or --progress asks for it), never with --quiet, and only once the
// work has run for a moment, so quick commands print nothing extra.
#pragma once
#include <chrono>
#include <cstddef>
#include <string>

#include <CLI/CLI.hpp>

namespace mixprec::cli {

enum class ProgressMode { Auto, Always, Never };

// --quiet and --progress on a subcommand.
void add_progress_options(CLI::App* command, ProgressMode& mode);

class Progress {
 public:
  Progress(ProgressMode mode, std::string label);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // "label: stage" (a step of work whose length is unknown).
  void stage(const std::string& what);
  // "label: done/total unit" with a bar.
  void count(size_t done, size_t total, const char* unit);
  // Clears the line.
  void finish();

 private:
  void draw(const std::string& text, bool force);
  bool enabled_;
  std::chrono::steady_clock::duration delay_;
  std::string label_;
  std::chrono::steady_clock::time_point start_, last_;
  bool shown_ = false;
};

}  // namespace mixprec::cli
