#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace mixprec::cli {
namespace {

using Clock = std::chrono::steady_clock;
// Nothing is drawn before this much time has passed, nor more often than every `kRedraw`.
constexpr auto kDelay = std::chrono::milliseconds(700);
constexpr auto kRedraw = std::chrono::milliseconds(100);

}  // namespace

void add_progress_options(CLI::App* c, ProgressMode& mode) {
  c->add_flag_callback("--quiet", [&mode] { mode = ProgressMode::Never; }, "No progress display on stderr");
  c->add_flag_callback("--progress", [&mode] { mode = ProgressMode::Always; },
                       "Show progress on stderr even when it is not a terminal");
}

Progress::Progress(ProgressMode mode, std::string label)
    : enabled_(mode == ProgressMode::Always || (mode == ProgressMode::Auto && ::isatty(STDERR_FILENO))),
      delay_(mode == ProgressMode::Always ? Clock::duration::zero() : Clock::duration(kDelay)),
      label_(std::move(label)),
      start_(Clock::now()),
      last_(start_) {}

Progress::~Progress() { finish(); }

void Progress::draw(const std::string& text, bool force) {
  if (!enabled_) return;
  const auto now = Clock::now();
  if (!force && (now - start_ < delay_ || (shown_ && now - last_ < kRedraw))) return;
  last_ = now;
  shown_ = true;
  std::fprintf(stderr, "\r\033[K%s: %s", label_.c_str(), text.c_str());
  std::fflush(stderr);
}

// A stage is drawn at once: it may last long with nothing else to redraw it; finish() clears it.
void Progress::stage(const std::string& what) { draw(what, true); }

void Progress::count(size_t done, size_t total, const char* unit) {
  constexpr size_t kWidth = 24;
  const size_t filled = total ? done * kWidth / total : 0;
  std::string bar = "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] ";
  draw(bar + std::to_string(done) + "/" + std::to_string(total) + " " + unit, false);
}

void Progress::finish() {
  if (!shown_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  shown_ = false;
}

}  // namespace mixprec::cli
