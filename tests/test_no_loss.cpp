// No loss on failure: `mixprec convert` killed at any moment (SIGKILL), or stopped by a full disk or a
// file-size limit, leaves each output path holding either the previous file or the complete new one,
// never a partial file, and leaves its inputs byte-identical.
//
// The model is generated once per test process with `mixprec zoo`; a reference conversion, run
// unkilled, gives the complete new outputs and the timings the kills are spread over.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cli_test_util.h"
#include "sanitizer_util.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using mixprec::testing::kCli;
using mixprec::testing::scaled;
using mixprec::testing::slurp;

// Big enough that writing its float32 params (47 MB; 17 MB under ASan, where everything runs slower)
// takes a visible share of a conversion.
constexpr const char* kModel = mixprec::testing::kUnderSanitizer ? "mobilenet1.0" : "resnet18_v1";

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct ModelFiles {
  std::string symbol, params;  // the files' bytes
};

// True when the file at `path` holds exactly `bytes` (compared in pieces: no second copy in memory).
bool holds(const fs::path& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool same = ::fstat(fd, &st) == 0 && static_cast<size_t>(st.st_size) == bytes.size();
  static std::vector<char> buf(1 << 20);
  for (size_t off = 0; same && off < bytes.size();) {
    const ssize_t r = ::read(fd, buf.data(), std::min(buf.size(), bytes.size() - off));
    if (r < 0 && errno == EINTR) continue;
    same = r > 0 && std::memcmp(buf.data(), bytes.data() + off, static_cast<size_t>(r)) == 0;
    off += r > 0 ? static_cast<size_t>(r) : 0;
  }
  ::close(fd);
  return same;
}

enum class State { Previous, New, Other };
void PrintTo(State s, std::ostream* os) {
  *os << (s == State::Previous ? "previous" : s == State::New ? "new" : "partial/other");
}

State classify(const fs::path& path, const std::string& previous, const std::string& fresh) {
  if (holds(path, previous)) return State::Previous;
  if (holds(path, fresh)) return State::New;
  return State::Other;
}

// src/core/file_io.cpp writes unnamed temporaries (O_TMPFILE) and names them ".<target>.tmp<pid>_<random>"
// just before the renames (or from the start where O_TMPFILE is not supported).
bool is_temp_name(const std::string& leaf) {
  for (const std::string target : {".out-symbol.json.tmp", ".out-0000.params.tmp"}) {
    if (leaf.rfind(target, 0) != 0) continue;
    const std::string rest = leaf.substr(target.size());  // <pid>_<random>
    const size_t us = rest.find('_');
    auto digits = [](const std::string& d) { return !d.empty() && d.find_first_not_of("0123456789") == std::string::npos; };
    return us != std::string::npos && digits(rest.substr(0, us)) && digits(rest.substr(us + 1));
  }
  return false;
}

// Starts `args` with stdout and stderr sent to files; `fsize_limit` caps the size of any file the
// child writes (RLIMIT_FSIZE; SIGXFSZ ignored, so an over-long write fails with EFBIG).
pid_t spawn(const std::vector<std::string>& args, const fs::path& out, const fs::path& err,
            rlim_t fsize_limit = RLIM_INFINITY) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));  // never kill(-1)
  if (pid == 0) {  // only async-signal-safe calls from here on
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0) ::_exit(126);
    if (fsize_limit != RLIM_INFINITY) {
      ::signal(SIGXFSZ, SIG_IGN);
      const rlimit r{fsize_limit, fsize_limit};
      if (::setrlimit(RLIMIT_FSIZE, &r) != 0) ::_exit(126);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Whether `pid` has a file open inside `dir` (the temporary it is writing, whatever its name).
bool writes_into(pid_t pid, const fs::path& dir) {
  std::error_code ec;
  const std::string prefix = dir.string() + "/";
  for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code gone;  // the descriptor may close while we look
    const fs::path target = fs::read_symlink(it->path(), gone);
    if (!gone && target.string().rfind(prefix, 0) == 0) return true;
  }
  return false;
}

class NoLoss : public ::testing::Test {
 protected:
  // Generates the model, the previous output (bfloat16, params stored low) and the new reference
  // output (float16), timing the reference run and the moment it starts writing.
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("mixprec_NoLoss_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    for (const char* d : {"in", "prev", "ref", "logs"}) fs::create_directories(root_ / d);
    in_prefix_ = (root_ / "in" / "m").string();
    if (!run_ok({kCli, "zoo", kModel, "--out-prefix", in_prefix_})) return;
    input_ = {slurp(in_prefix_ + "-symbol.json"), slurp(in_prefix_ + "-0000.params")};
    if (!run_ok(convert_args(root_ / "prev", {"--target-dtype", "bfloat16", "--cast-params-offline"}))) return;
    previous_ = {slurp(root_ / "prev" / "out-symbol.json"), slurp(root_ / "prev" / "out-0000.params")};

    if (!run_ok(convert_args(root_ / "ref"))) return;
    fresh_ = {slurp(root_ / "ref" / "out-symbol.json"), slurp(root_ / "ref" / "out-0000.params")};

    // Timed again with a warm cache, polled every 200 µs for the moment it opens a file in its output folder.
    const auto t0 = Clock::now();
    const pid_t pid = spawn(convert_args(root_ / "ref"), root_ / "logs" / "ref.out", root_ / "logs" / "ref.err");
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (write_start_s_ < 0 && writes_into(pid, root_ / "ref")) write_start_s_ = seconds_since(t0);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    run_s_ = seconds_since(t0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      setup_error_ = "reference conversion failed: " + slurp(root_ / "logs" / "ref.err");
      return;
    }
    std::printf("[ NoLoss   ] %s: params %zu bytes in, %zu previous, %zu new; convert %.3f s, writing from %.3f s\n",
                kModel, input_.params.size(), previous_.params.size(), fresh_.params.size(), run_s_, write_start_s_);
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    ASSERT_NE(previous_.params, fresh_.params);
    ASSERT_NE(previous_.symbol, fresh_.symbol);
    dir_ = root_ / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    ::umount2((dir_ / "mnt").c_str(), MNT_DETACH);  // FullDiskFailsCleanly's tmpfs, if a check stopped it early
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static std::vector<std::string> convert_args(const fs::path& out_dir, std::vector<std::string> extra = {}) {
    std::vector<std::string> a{kCli, "convert", "--symbol", in_prefix_ + "-symbol.json", "--params",
                               in_prefix_ + "-0000.params", "--out-prefix", (out_dir / "out").string()};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  static bool run_ok(const std::vector<std::string>& args) {
    const int status = wait_for(spawn(args, root_ / "logs" / "setup.out", root_ / "logs" / "setup.err"));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
    setup_error_ = args[1] + " failed (status " + std::to_string(status) + "): " + slurp(root_ / "logs" / "setup.err");
    return false;
  }

  // Puts the previous output at `out_dir`/out-* (unless it is there already).
  static void place_previous(const fs::path& out_dir) {
    for (const char* leaf : {"out-symbol.json", "out-0000.params"}) {
      const std::string& bytes = std::string(leaf) == "out-symbol.json" ? previous_.symbol : previous_.params;
      if (!holds(out_dir / leaf, bytes)) fs::copy_file(root_ / "prev" / leaf, out_dir / leaf, fs::copy_options::overwrite_existing);
    }
  }

  // The invariants after any interrupted or failed run into `out_dir`: each output is the previous
  // file or the complete new one, nothing else but temp-named files is there (they are removed
  // and counted), and the inputs are untouched.
  struct Seen {
    State symbol, params;
    int temps;
  };
  static Seen check_outputs(const fs::path& out_dir, const std::string& when) {
    Seen s{classify(out_dir / "out-symbol.json", previous_.symbol, fresh_.symbol),
           classify(out_dir / "out-0000.params", previous_.params, fresh_.params), 0};
    EXPECT_NE(s.symbol, State::Other) << when << ": out-symbol.json is partial or foreign";
    EXPECT_NE(s.params, State::Other) << when << ": out-0000.params is partial or foreign";
    for (const auto& e : fs::directory_iterator(out_dir)) {
      const std::string leaf = e.path().filename().string();
      if (leaf == "out-symbol.json" || leaf == "out-0000.params") continue;
      EXPECT_TRUE(is_temp_name(leaf)) << when << ": stray file " << leaf;
      ++s.temps;
      fs::remove(e.path());
    }
    EXPECT_TRUE(holds(in_prefix_ + "-symbol.json", input_.symbol)) << when << ": input symbol changed";
    EXPECT_TRUE(holds(in_prefix_ + "-0000.params", input_.params)) << when << ": input params changed";
    return s;
  }

  // Starts a conversion into dir_ over the previous output, waits `delay_s` after `trigger` holds (or
  // from the start), kills it with SIGKILL and checks the invariants. Returns whether it was killed.
  template <class Trigger>
  bool kill_after(double delay_s, const std::string& when, Trigger trigger, int* temps = nullptr) {
    place_previous(dir_);
    const pid_t pid = spawn(convert_args(dir_), root_ / "logs" / "kill.out", root_ / "logs" / "kill.err");
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    int status = 0;
    bool done = false;
    while (!trigger(pid) && Clock::now() < deadline) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        done = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    if (!done) {
      std::this_thread::sleep_for(std::chrono::duration<double>(delay_s));
      ::kill(pid, SIGKILL);
      status = wait_for(pid);
    }
    const bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    const Seen s = check_outputs(dir_, when);
    if (!killed) {
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << when << ": " << slurp(root_ / "logs" / "kill.err");
      EXPECT_EQ(s.symbol, State::New) << when;
      EXPECT_EQ(s.params, State::New) << when;
    }
    if (temps) *temps += s.temps;
    return killed;
  }

  // Runs a conversion expected to fail for lack of space into `out_dir` (holding the previous
  // output); checks exit code 1, one error line naming `failing_file`, and the invariants.
  static void expect_clean_failure(const fs::path& out_dir, rlim_t fsize_limit, const std::string& failing_file,
                                   const std::string& when) {
    place_previous(out_dir);
    const fs::path err = root_ / "logs" / "full.err";
    const int status = wait_for(spawn(convert_args(out_dir), root_ / "logs" / "full.out", err, fsize_limit));
    const std::string msg = slurp(err);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << when << ": status " << status << ", stderr: " << msg;
    EXPECT_NE(msg.find("mixprec: error: " + (out_dir / failing_file).string() + ": "), std::string::npos)
        << when << ": the error must name " << failing_file << ": " << msg;
    EXPECT_TRUE(msg.find("File too large") != std::string::npos || msg.find("No space left") != std::string::npos)
        << when << ": " << msg;
    EXPECT_EQ(msg.find('\n'), msg.size() - 1) << when << ": one line expected: " << msg;
    const Seen s = check_outputs(out_dir, when);
    EXPECT_EQ(s.symbol, State::Previous) << when;
    EXPECT_EQ(s.params, State::Previous) << when;
    EXPECT_EQ(s.temps, 0) << when << ": a failed write must remove its temporaries";
  }

  static inline fs::path root_;
  static inline std::string in_prefix_, setup_error_;
  static inline ModelFiles input_, previous_, fresh_;
  static inline double run_s_ = 0, write_start_s_ = -1;
  fs::path dir_;
};

// SIGKILL at evenly spaced moments (each jittered at random inside its slot) across the whole run:
// reading, converting, writing, renaming, and just past the end.
TEST_F(NoLoss, SigkillAtAnyMomentLeavesPreviousOrCompleteOutput) {
  const int n = scaled(20, 12);
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  int killed = 0, temps = 0;
  for (int i = 0; i < n; ++i) {
    // The first kill comes at once (the child is still starting), so that at least one run is killed
    // whatever the machine's load did to the timings measured in SetUpTestSuite.
    const double delay = i == 0 ? 0.0 : run_s_ * 1.1 * (i + jitter(rng)) / n;
    const std::string when = "kill " + std::to_string(i) + " at " + std::to_string(delay) + " s (seed " +
                             std::to_string(seed) + ")";
    killed += kill_after(delay, when, [](pid_t) { return true; }, &temps);
  }
  std::printf("[ NoLoss   ] %d of %d runs killed, %d temporaries left behind (removed)\n", killed, n, temps);
  EXPECT_GT(killed, 0);
}

// SIGKILL while the outputs are being written: triggered by the child having a file open in the
// output folder, then spread across the measured writing time.
TEST_F(NoLoss, SigkillWhileWritingLeavesPreviousOrCompleteOutput) {
  ASSERT_GT(write_start_s_, 0.0) << "the reference run was never seen writing";
  const double writing_s = run_s_ - write_start_s_;
  const int n = scaled(10, 6);
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  int killed = 0, temps = 0;
  const fs::path dir = dir_;
  for (int i = 0; i < n; ++i) {
    // The first kill comes as soon as the child is seen with an output file open (writing ~47 MB takes
    // tens of ms; the poll is every 100 us), so at least one run is killed mid-write, however long the
    // reference run's write took on a loaded machine.
    const double delay = i == 0 ? 0.0 : writing_s * (i + jitter(rng)) / n;
    const std::string when = "kill " + std::to_string(i) + " at " + std::to_string(delay) +
                             " s after writing began (seed " + std::to_string(seed) + ")";
    killed += kill_after(delay, when, [&dir](pid_t pid) { return writes_into(pid, dir); }, &temps);
  }
  std::printf("[ NoLoss   ] writing took %.3f s; %d of %d runs killed while writing, %d temporaries left behind (removed)\n",
              writing_s, killed, n, temps);
  EXPECT_GT(killed, 0);
}

// A file-size limit (RLIMIT_FSIZE; no privileges needed): the params write fails with EFBIG at
// various points, from the first block to the last byte.
TEST_F(NoLoss, FileSizeLimitFailsCleanly) {
  const rlim_t size = fresh_.params.size();
  for (const rlim_t limit : {rlim_t{4096}, rlim_t{1} << 20, size / 2, size - 1})
    expect_clean_failure(dir_, limit, "out-0000.params", "limit " + std::to_string(limit));
}

// A full file system: a small tmpfs holding the previous output, with room for less than the new
// params, then for the params but not the symbol, then (a control) for both.
TEST_F(NoLoss, FullDiskFailsCleanly) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  const fs::path mnt = dir_ / "mnt";
  fs::create_directories(mnt);
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  auto pages = [page](size_t bytes) { return (bytes + page - 1) / page * page; };
  const size_t used = pages(previous_.symbol.size()) + pages(previous_.params.size());
  const size_t new_params = pages(fresh_.params.size()), new_symbol = pages(fresh_.symbol.size());
  ASSERT_GE(new_symbol, 4 * page) << "the symbol must span several pages for the second case";
  struct Case {
    size_t free;
    const char* failing;  // nullptr: the conversion fits
  };
  for (const Case c : {Case{16 * page, "out-0000.params"}, Case{new_params + new_symbol / 2 / page * page, "out-symbol.json"},
                       Case{new_params + new_symbol + 16 * page, nullptr}}) {
    const std::string opts = "size=" + std::to_string(used + c.free);
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, opts.c_str()) != 0)
      GTEST_SKIP() << "cannot mount a tmpfs: " << std::strerror(errno);
    const std::string when = "tmpfs with " + std::to_string(c.free) + " bytes free";
    if (c.failing) {
      expect_clean_failure(mnt, RLIM_INFINITY, c.failing, when);
    } else {
      place_previous(mnt);
      const int status = wait_for(spawn(convert_args(mnt), root_ / "logs" / "fits.out", root_ / "logs" / "fits.err"));
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << when << ": " << slurp(root_ / "logs" / "fits.err");
      const Seen s = check_outputs(mnt, when);
      EXPECT_EQ(s.symbol, State::New) << when;
      EXPECT_EQ(s.params, State::New) << when;
    }
    EXPECT_EQ(::umount2(mnt.c_str(), MNT_DETACH), 0) << std::strerror(errno);
  }
}

}  // namespace
