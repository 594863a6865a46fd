#include "core/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "mixprec/error.h"

namespace mixprec {

static std::string errno_text() { return std::strerror(errno); }

std::vector<uint8_t> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path, "", "cannot open: " + errno_text());
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(path, "", "not a regular file");
  }
  std::vector<uint8_t> buf(static_cast<size_t>(st.st_size));
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

// Creates `path`'s temporary sibling holding `size` bytes, flushed to disk; returns its name.
std::string write_temp_beside(const std::string& path, const void* data, size_t size) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::random_device rd;
  std::string leaf = ".";  // built by appending: GCC 12 warns falsely (-Wrestrict) on "." + string
  leaf.append(target.filename().string()).append(".tmp").append(std::to_string(::getpid()));
  leaf.append("_").append(std::to_string(rd()));
  const std::string tmp = (dir / leaf).string();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path, "", "cannot create a temporary file in " + dir.string() + ": " + errno_text());
  auto fail = [&](const std::string& what) {
    const std::string why = errno_text();
    ::close(fd);
    ::unlink(tmp.c_str());
    throw Error(path, "", what + ": " + why);
  };
  const auto* p = static_cast<const uint8_t*>(data);
  size_t done = 0;
  while (done < size) {
    const ssize_t w = ::write(fd, p + done, size - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail("write failed");
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0) fail("fsync failed");
  if (::close(fd) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw Error(path, "", "close failed: " + why);
  }
  return tmp;
}

}  // namespace

void write_file_atomic(const std::string& path, const void* data, size_t size) {
  const std::string tmp = write_temp_beside(path, data, size);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw Error(path, "", "rename failed: " + why);
  }
}

void write_files_atomic(const std::vector<PendingFile>& files) {
  std::vector<std::string> temps;
  try {
    for (const PendingFile& f : files) temps.push_back(write_temp_beside(f.path, f.bytes.data(), f.bytes.size()));
  } catch (...) {
    for (const auto& t : temps) ::unlink(t.c_str());
    throw;
  }
  for (size_t i = 0; i < files.size(); ++i)
    if (::rename(temps[i].c_str(), files[i].path.c_str()) != 0) {
      const std::string why = errno_text();
      for (size_t j = i; j < temps.size(); ++j) ::unlink(temps[j].c_str());
      throw Error(files[i].path, "", "rename failed: " + why);
    }
}

}  // namespace mixprec
