// Shared by the fuzz targets: what counts as a finding besides a sanitizer report.
// A parser may reject input only with mixprec::Error naming the file it was given and a place in
// it; any other exception, an Error without the file or place, or a broken invariant (a round
// trip that changes what was read) aborts, which libFuzzer records as a crash.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <typeinfo>

#include "mixprec/error.h"

namespace mixprec::fuzz {

[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what.c_str());
  std::abort();
}

inline void check(bool ok, const std::string& what) {
  if (!ok) finding(what);
}

// A rejection by a reader of `source` must name the file and the place.
inline void check_error(const Error& e, const std::string& source) {
  if (e.file() != source) finding("error does not name the file '" + source + "': " + e.what());
  if (e.place().empty()) finding("error does not name a place: " + std::string(e.what()));
}

// Runs `body`; converts an escaping non-mixprec exception into a finding that says its type.
template <typename F>
void guard(const char* stage, F&& body) {
  try {
    body();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    finding(std::string(stage) + ": " + typeid(e).name() + " escaped: " + e.what());
  } catch (...) {
    finding(std::string(stage) + ": a non-std exception escaped");
  }
}

}  // namespace mixprec::fuzz
