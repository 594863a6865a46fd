// Writes seed corpora for the fuzz targets from the shared models:
//   <out>/symbol_json/  every symbol JSON, plus prefixes of each graph (first k nodes) in the
//                       file's own generation, so that small valid graphs of every kind exist;
//   <out>/params/       every .params file, plus tiny variants (first arrays, cut to a few
//                       elements) in each array format and dtype;
//   <out>/npy/          .npy files and stored .npz archives built from real weights;
//   <out>/attrs/        every distinct attribute value found in the graphs.
// Usage: fuzz_make_seeds MODELS_DIR OUT_DIR
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "mixprec/error.h"
#include "mixprec/mxnet.h"
#include "mixprec/numpy.h"

namespace fs = std::filesystem;
using namespace mixprec;

namespace {

void write_bytes(const fs::path& path, const void* data, size_t size) {
  std::ofstream f(path, std::ios::binary);
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!f) throw Error(path.string(), "", "cannot write");
}

std::string hash_name(const std::string& s) { return std::to_string(std::hash<std::string>{}(s)); }

// The first `k` nodes of a graph as JSON of the same generation: the nodes refer only to earlier
// ones, so cutting the list keeps the graph valid once heads, arg_nodes and node_row_ptr follow.
nlohmann::json prefix_graph(const nlohmann::json& j, size_t k) {
  nlohmann::json out = j;
  out["nodes"] = nlohmann::json::array();
  for (size_t i = 0; i < k; ++i) out["nodes"].push_back(j["nodes"][i]);
  nlohmann::json args = nlohmann::json::array();
  for (const auto& a : j["arg_nodes"])
    if (a.is_number_unsigned() && a.get<size_t>() < k) args.push_back(a);
  out["arg_nodes"] = args;
  if (j.contains("node_row_ptr")) {
    nlohmann::json rows = nlohmann::json::array();
    for (size_t i = 0; i <= k; ++i) rows.push_back(j["node_row_ptr"][i]);
    out["node_row_ptr"] = rows;
  }
  const bool old = !j["heads"].empty() && j["heads"][0].size() == 2;
  out["heads"] = old ? nlohmann::json::parse("[[" + std::to_string(k - 1) + ", 0]]")
                     : nlohmann::json::parse("[[" + std::to_string(k - 1) + ", 0, 0]]");
  return out;
}

void symbol_seeds(const fs::path& file, const fs::path& out, std::set<std::string>& attr_values) {
  const std::string text = read_text_file(file.string());
  write_bytes(out / file.filename(), text.data(), text.size());
  const Graph g = mxnet::parse_symbol_json(text, file.string());
  for (const Node& n : g.nodes)
    for (const auto& [k, v] : n.attrs) attr_values.insert(v);
  const nlohmann::json j = nlohmann::json::parse(text);
  const size_t n = j["nodes"].size();
  for (size_t k : {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{8}, size_t{13}}) {
    if (k >= n) break;
    const std::string cut = prefix_graph(j, k).dump(2);
    try {
      mxnet::parse_symbol_json(cut, "prefix");  // keep only prefixes that are valid graphs
    } catch (const Error&) {
      continue;
    }
    write_bytes(out / (file.stem().string() + "_prefix" + std::to_string(k) + ".json"), cut.data(), cut.size());
  }
}

// A tensor with at most `limit` elements of `t`, as a vector.
Tensor shrink(const Tensor& t, size_t limit) {
  Tensor s;
  s.dtype = t.dtype;
  const size_t esz = dtype_size(t.dtype);
  const size_t n = std::min(limit, t.data.size() / esz);
  s.shape = {static_cast<int64_t>(n)};
  s.data.assign(t.data.begin(), t.data.begin() + static_cast<std::ptrdiff_t>(n * esz));
  return s;
}

void params_seeds(const fs::path& file, const fs::path& out, std::vector<Tensor>& samples) {
  const std::vector<uint8_t> bytes = read_file(file.string());
  write_bytes(out / file.filename(), bytes.data(), bytes.size());
  const mxnet::ParamsFile p = mxnet::parse_params(bytes.data(), bytes.size(), file.string());
  if (p.arrays.empty()) return;
  const std::string stem = file.stem().string();
  // The first two arrays cut to 4 elements, in every array format, named and nameless.
  const mxnet::ArrayFormat formats[] = {mxnet::ArrayFormat::Legacy, mxnet::ArrayFormat::V1, mxnet::ArrayFormat::V2,
                                        mxnet::ArrayFormat::V3};
  for (size_t f = 0; f < 4; ++f) {
    mxnet::ParamsFile small;
    small.has_names = p.has_names && f != 3;
    for (size_t k = 0; k < std::min<size_t>(2, p.arrays.size()); ++k) {
      mxnet::NamedArray a = p.arrays[k];
      a.tensor = shrink(a.tensor, 4);
      a.format = formats[f];
      small.arrays.push_back(std::move(a));
    }
    const std::vector<uint8_t> b = mxnet::write_params(small);
    write_bytes(out / (stem + "_small" + std::to_string(f) + ".params"), b.data(), b.size());
  }
  // The first float array in the other float dtypes.
  for (const mxnet::NamedArray& a : p.arrays) {
    if (!is_float(a.tensor.dtype)) continue;
    for (DType d : {DType::Float16, DType::BFloat16, DType::Float64}) {
      mxnet::ParamsFile small;
      small.arrays.push_back({a.name, shrink(a.tensor, 3).astype(d), mxnet::ArrayFormat::V2, 1, 0});
      const std::vector<uint8_t> b = mxnet::write_params(small);
      write_bytes(out / (stem + "_" + std::string(dtype_name(d)) + ".params"), b.data(), b.size());
    }
    samples.push_back(a.tensor);
    break;
  }
}

void numpy_seeds(const std::vector<Tensor>& samples, const fs::path& out) {
  std::vector<std::pair<std::string, Tensor>> members;
  for (size_t i = 0; i < samples.size(); ++i) {
    Tensor t = shrink(samples[i], 6);
    if (t.data.size() >= 6 * dtype_size(t.dtype)) t.shape = {2, 3};
    for (DType d : {DType::Float32, DType::Float16, DType::BFloat16, DType::Float64}) {
      const std::vector<uint8_t> b = numpy::write_npy(t.astype(d));
      write_bytes(out / ("w" + std::to_string(i) + "_" + std::string(dtype_name(d)) + ".npy"), b.data(), b.size());
    }
    members.emplace_back("w" + std::to_string(i), t);
  }
  if (members.empty()) return;
  const std::vector<uint8_t> all = numpy::write_npz(members);
  write_bytes(out / "weights.npz", all.data(), all.size());
  const std::vector<uint8_t> one = numpy::write_npz({members.front()});
  write_bytes(out / "weight.npz", one.data(), one.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: fuzz_make_seeds MODELS_DIR OUT_DIR\n";
    return 2;
  }
  const fs::path models = argv[1], out = argv[2];
  for (const char* d : {"symbol_json", "params", "npy", "attrs"}) fs::create_directories(out / d);
  std::set<std::string> attr_values;
  std::vector<Tensor> samples;
  std::vector<fs::path> files;
  if (fs::exists(models))
    for (const auto& e : fs::recursive_directory_iterator(models))
      if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  size_t count = 0;
  for (const fs::path& f : files) {
    const std::string name = f.filename().string();
    try {
      if (f.extension() == ".json") {
        symbol_seeds(f, out / "symbol_json", attr_values);
        ++count;
      } else if (f.extension() == ".params" || name == "legacy_ndarray.v0") {
        params_seeds(f, out / "params", samples);
        ++count;
      }
    } catch (const Error& e) {
      std::cerr << "fuzz_make_seeds: skipping " << e.what() << "\n";
    }
  }
  numpy_seeds(samples, out / "npy");
  for (const std::string& v : attr_values) write_bytes(out / "attrs" / (hash_name(v) + ".txt"), v.data(), v.size());
  std::cout << "fuzz_make_seeds: " << count << " model files, " << attr_values.size() << " attribute values, "
            << samples.size() << " weight samples\n";
  return 0;
}
