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

// Creates `path`'s temporary sibling with the produced bytes, flushed to disk; returns its name.
std::string write_temp_beside(const std::string& path, const std::function<void(const ByteSink&)>& produce) {
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
  // Small pieces are gathered so that a header field does not cost a system call.
  std::vector<uint8_t> buf;
  buf.reserve(1 << 16);
  auto write_all = [&](const uint8_t* p, size_t n) {
    while (n > 0) {
      const ssize_t w = ::write(fd, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail("write failed");
      p += w;
      n -= static_cast<size_t>(w);
    }
  };
  auto flush = [&] {
    write_all(buf.data(), buf.size());
    buf.clear();
  };
  try {
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
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
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
  const std::string tmp =
      write_temp_beside(path, [&](const ByteSink& sink) { sink(data, size); });
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw Error(path, "", "rename failed: " + why);
  }
}

void write_files_atomic(const std::vector<PendingFile>& files) {
  std::vector<std::string> temps;
  try {
    for (const PendingFile& f : files) temps.push_back(write_temp_beside(f.path, f.write));
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
