// Whole-file reads and crash-safe writes. A write goes to a temporary file in the target's
// directory (unnamed, O_TMPFILE, where the file system supports it), is flushed to disk, then
// renamed over the target: readers see the old file or the complete new one, never a partial file,
// and a process killed while writing leaves no temporary behind.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mixprec {

std::vector<uint8_t> read_file(const std::string& path);
std::string read_text_file(const std::string& path);
void write_file_atomic(const std::string& path, const void* data, size_t size);
inline void write_file_atomic(const std::string& path, std::string_view text) {
  write_file_atomic(path, text.data(), text.size());
}

}  // namespace mixprec

namespace mixprec {

// Receives a file's bytes in order, in pieces of any size.
using ByteSink = std::function<void(const void* data, size_t size)>;

struct PendingFile {
  std::string path;
  std::function<void(const ByteSink&)> write;  // streams the file's content into the sink
};
inline PendingFile bytes_file(std::string path, std::string_view bytes) {
  return {std::move(path), [bytes](const ByteSink& sink) { sink(bytes.data(), bytes.size()); }};
}
// Writes several files so that either all of them are replaced or none is: every file goes to a
// temporary beside its target first; only when all are on disk are they renamed into place.
void write_files_atomic(const std::vector<PendingFile>& files);

// A read-only view of a whole file, memory-mapped; pages already read can be released early.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  // Drops the pages before `offset` from memory (they are re-read from disk if touched again).
  void release_before(size_t offset);

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t released_ = 0;
};

}  // namespace mixprec
