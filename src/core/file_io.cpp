#include "core/file_io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>

#include "mixprec/error.h"

namespace mixprec {

static std::string errno_text() { return std::strerror(errno); }

// Opens a regular file for reading and tells its size; the caller closes the descriptor.
static int open_regular_file(const std::string& path, size_t& size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path, "", "cannot open: " + errno_text());
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path, "", "not a regular file");
  }
  size = static_cast<size_t>(st.st_size);
  return fd;
}

std::vector<uint8_t> read_file(const std::string& path) {
  size_t size = 0;
  const int fd = open_regular_file(path, size);
  std::vector<uint8_t> buf(size);
  size_t done = 0;
  while (done < buf.size()) {
    const ssize_t r = ::read(fd, buf.data() + done, buf.size() - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      ::close(fd);
      throw Error(path, "byte " + std::to_string(done), r == 0 ? "file shrank while reading" : "read failed: " + errno_text());
    }
    done += static_cast<size_t>(r);
  }
  ::close(fd);
  return buf;
}

std::string read_text_file(const std::string& path) {
  std::vector<uint8_t> b = read_file(path);
  return std::string(b.begin(), b.end());
}

namespace {

// A complete file waiting to be renamed over its target. Where the file system allows it, the file
// is written unnamed (O_TMPFILE) and only gets its temporary name when every file of the set is
// complete, just before the renames: a process killed while writing leaves nothing behind.
struct TempFile {
  std::string target;  // the path it will replace
  int fd = -1;         // open until it is named
  std::string name;    // its temporary name beside the target, once it has one
};

// Closes and removes a temporary (an unnamed file vanishes with its descriptor). Never throws.
void discard(TempFile& t) noexcept {
  if (t.fd >= 0) ::close(t.fd);
  if (!t.name.empty()) ::unlink(t.name.c_str());
  t.fd = -1;
  t.name.clear();
}

// ".<leaf>.tmp<pid>_<random>" in the target's directory.
std::string temp_name(const std::filesystem::path& dir, const std::filesystem::path& target) {
  std::random_device rd;
  std::string leaf = ".";  // built by appending: GCC 12 warns falsely (-Wrestrict) on "." + string
  leaf.append(target.filename().string()).append(".tmp").append(std::to_string(::getpid()));
  leaf.append("_").append(std::to_string(rd()));
  return (dir / leaf).string();
}

std::string proc_fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// Writes the produced bytes into a temporary beside `path` and flushes them to disk. On any
// failure the temporary is removed and an Error naming `path` is thrown.
TempFile write_temp_beside(const std::string& path, const std::function<void(const ByteSink&)>& produce) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  TempFile t{path, ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644), ""};
  // Naming an unnamed file goes through /proc/self/fd: without /proc, use a named temporary.
  if (t.fd >= 0 && ::access(proc_fd_path(t.fd).c_str(), F_OK) != 0) {
    ::close(t.fd);
    t.fd = -1;
    errno = EOPNOTSUPP;
  }
  if (t.fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {  // no O_TMPFILE here
    t.name = temp_name(dir, target);
    t.fd = ::open(t.name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (t.fd < 0) t.name.clear();
  }
  if (t.fd < 0) throw Error(path, "", "cannot create a temporary file in " + dir.string() + ": " + errno_text());
  try {
    auto write_all = [&](const uint8_t* p, size_t n) {
      while (n > 0) {
        const ssize_t w = ::write(t.fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) throw Error(path, "", "write failed: " + errno_text());
        p += w;
        n -= static_cast<size_t>(w);
      }
    };
    // Small pieces are gathered so that a header field does not cost a system call.
    std::vector<uint8_t> buf;
    buf.reserve(1 << 16);
    auto flush = [&] {
      write_all(buf.data(), buf.size());
      buf.clear();
    };
    produce([&](const void* data, size_t size) {
      const auto* p = static_cast<const uint8_t*>(data);
      if (buf.size() + size <= buf.capacity()) {
        buf.insert(buf.end(), p, p + size);
        return;
      }
      flush();
      write_all(p, size);
    });
    flush();
    if (::fsync(t.fd) != 0) throw Error(path, "", "fsync failed: " + errno_text());
  } catch (...) {
    discard(t);
    throw;
  }
  return t;
}

// Gives every temporary its name and closes it, then renames each over its target. On failure
// all temporaries not yet renamed are removed.
void commit(std::vector<TempFile>& temps) {
  try {
    for (TempFile& t : temps) {
      if (t.name.empty()) {
        const std::string name = temp_name(std::filesystem::path(t.target).parent_path(), t.target);
        if (::linkat(AT_FDCWD, proc_fd_path(t.fd).c_str(), AT_FDCWD, name.c_str(), AT_SYMLINK_FOLLOW) != 0)
          throw Error(t.target, "", "cannot name the temporary file: " + errno_text());
        t.name = name;
      }
      const int fd = t.fd;
      t.fd = -1;
      if (::close(fd) != 0) throw Error(t.target, "", "close failed: " + errno_text());
    }
  } catch (...) {
    for (TempFile& t : temps) discard(t);
    throw;
  }
  // A target that did not exist before is removed again when a later rename fails: a failed run
  // leaves no new file. (One that existed has been replaced; two renames cannot be one step.)
  std::vector<bool> existed;
  for (const TempFile& t : temps) existed.push_back(::access(t.target.c_str(), F_OK) == 0);
  for (size_t i = 0; i < temps.size(); ++i) {
    if (::rename(temps[i].name.c_str(), temps[i].target.c_str()) != 0) {
      const std::string why = errno_text();
      for (size_t j = i; j < temps.size(); ++j) discard(temps[j]);
      for (size_t j = 0; j < i; ++j)
        if (!existed[j]) ::unlink(temps[j].target.c_str());
      throw Error(temps[i].target, "", "rename failed: " + why);
    }
    temps[i].name.clear();
  }
}

// A target that exists but is no regular file (a directory, say) would fail its rename after the
// others succeeded: refused before anything is written.
void require_replaceable(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;  // absent: created
  if (S_ISDIR(st.st_mode)) throw Error(path, "", "is a directory; cannot write a file in its place");
  if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) throw Error(path, "", "is not a regular file; cannot replace it");
}

}  // namespace

void write_file_atomic(const std::string& path, const void* data, size_t size) {
  require_replaceable(path);
  std::vector<TempFile> temps;
  temps.reserve(1);
  temps.push_back(write_temp_beside(path, [&](const ByteSink& sink) { sink(data, size); }));
  commit(temps);
}

void write_files_atomic(const std::vector<PendingFile>& files) {
  for (const PendingFile& f : files) require_replaceable(f.path);
  std::vector<TempFile> temps;
  temps.reserve(files.size());
  try {
    for (const PendingFile& f : files) temps.push_back(write_temp_beside(f.path, f.write));
  } catch (...) {
    for (TempFile& t : temps) discard(t);
    throw;
  }
  commit(temps);
}

MappedFile::MappedFile(const std::string& path) {
  const int fd = open_regular_file(path, size_);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const std::string why = errno_text();
      ::close(fd);
      throw Error(path, "", "cannot map: " + why);
    }
    ::madvise(p, size_, MADV_SEQUENTIAL);
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

void MappedFile::release_before(size_t offset) {
  const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t end = std::min(offset, size_) / page * page;
  if (end > released_) {
    ::madvise(const_cast<uint8_t*>(data_) + released_, end - released_, MADV_DONTNEED);
    released_ = end;
  }
}

}  // namespace mixprec
