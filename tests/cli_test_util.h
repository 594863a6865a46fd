// A fixture for running the `mixprec` binary as a user would: a fresh work folder per test, and
// each run's exit code, stdout and stderr.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace mixprec::testing {

namespace fs = std::filesystem;

inline const std::string kCli = MIXPREC_CLI_PATH;
inline const std::string kR20 =
    std::string(MIXPREC_SHARED_DIR) + "/models/mxnet/gluoncv_cifar_resnet20_v1/cifar_resnet20_v1";

struct CliRun {
  int code;
  std::string out, err;
};

inline std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class CliFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("mixprec_" + std::string(info->test_suite_name()) + "_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `mixprec ARGS`; its output files are removed so that they never count as leftovers.
  CliRun run(const std::string& args) {
    const fs::path out = dir_ / ".stdout.txt", err = dir_ / ".stderr.txt";
    const std::string cmd = kCli + " " + args + " >" + out.string() + " 2>" + err.string();
    const int status = std::system(cmd.c_str());
    CliRun r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
    fs::remove(out);
    fs::remove(err);
    return r;
  }
  std::string p(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

}  // namespace mixprec::testing
