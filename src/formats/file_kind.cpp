#include "formats/file_kind.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "mixprec/error.h"

namespace mixprec::formats {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

FileKind sniff_file_kind(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) return FileKind::Missing;
  if (fs::is_directory(st)) return FileKind::Directory;
  std::ifstream f(path, std::ios::binary);
  char head[256] = {};
  f.read(head, sizeof head);
  const auto n = static_cast<size_t>(f.gcount());
  if (n == 0) return fs::is_regular_file(st) ? FileKind::Empty : FileKind::Other;
  const std::string_view bytes(head, n);
  if (n >= 8) {
    uint64_t magic = 0;
    std::memcpy(&magic, head, 8);
    if (magic == 0x112) return FileKind::MxnetParams;  // every NDArray list starts so, legacy ones too
  }
  if (bytes.substr(0, 6) == "\x93NUMPY") return FileKind::Npy;
  if (bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4)) return FileKind::Npz;
  const size_t first = bytes.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && bytes[first] == '{') return FileKind::SymbolJson;
  // An ONNX ModelProto opens with ir_version (field 1, varint: byte 0x08); its producer and opset
  // names follow within the first bytes.
  if (ends_with(path, ".onnx") || (head[0] == 0x08 && bytes.find("onnx") != std::string_view::npos)) return FileKind::Onnx;
  return FileKind::Other;
}

std::string_view describe(FileKind kind) {
  switch (kind) {
    case FileKind::Missing: return "missing";
    case FileKind::Directory: return "a directory";
    case FileKind::Empty: return "an empty file";
    case FileKind::SymbolJson: return "an MXNet symbol JSON file";
    case FileKind::MxnetParams: return "an MXNet .params file";
    case FileKind::Onnx: return "an ONNX model";
    case FileKind::Npy: return "a .npy array";
    case FileKind::Npz: return "a .npz archive";
    case FileKind::Other: break;
  }
  return "not a model file";
}

void expect_file_kind(const std::string& path, FileKind want, std::string_view role) {
  const FileKind got = sniff_file_kind(path);
  // A missing file or one of no known kind is left to the reader: its error says exactly what and where.
  if (got == want || got == FileKind::Missing || got == FileKind::Other) return;
  std::string why = "is " + std::string(describe(got)) + ", not " + std::string(describe(want));
  if (got == FileKind::Onnx) why += " (mixprec reads MXNet models here: NAME-symbol.json with NAME-NNNN.params)";
  if (got == FileKind::Directory) why += ": give the file itself";
  throw Error(path, "", why + " (given as " + std::string(role) + ")");
}

}  // namespace mixprec::formats
