// Whole-file reads and crash-safe writes. A write goes to a temporary file in the target's
// directory, is flushed to disk, then renamed over the target: readers see the old file or the
// complete new one, never a partial file.
#pragma once
#include <cstdint>
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

struct PendingFile {
  std::string path;
  std::vector<uint8_t> bytes;
};
// Writes several files so that either all of them are replaced or none is: every file goes to a
// temporary beside its target first; only when all are on disk are they renamed into place.
void write_files_atomic(const std::vector<PendingFile>& files);

}  // namespace mixprec
