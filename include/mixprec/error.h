// Errors carry where they happened (file, place) so that the CLI can print one clear line.
#pragma once
#include <stdexcept>
#include <string>

namespace mixprec {

class Error : public std::runtime_error {
 public:
  // `file` is the path being read or written ("" when none); `place` names the spot inside it
  // (a byte offset, a node, a JSON path); `what` says what is wrong.
  Error(std::string file, std::string place, const std::string& what)
      : std::runtime_error(compose(file, place, what)),
        file_(std::move(file)),
        place_(std::move(place)),
        reason_(what) {}
  explicit Error(const std::string& what) : Error("", "", what) {}

  const std::string& file() const { return file_; }
  const std::string& place() const { return place_; }
  const std::string& reason() const { return reason_; }

 private:
  static std::string compose(const std::string& file, const std::string& place, const std::string& what) {
    std::string s;
    if (!file.empty()) s += file + ": ";
    if (!place.empty()) s += place + ": ";
    return s + what;
  }
  std::string file_, place_, reason_;
};

}  // namespace mixprec
