// The `mixprec` command line, run as a user would: outputs, exit codes, and what happens on bad
// input (a clear message naming the file and place, exit 1, no output left, inputs untouched).
#include <gtest/gtest.h>

#include "cli_test_util.h"
#include "mixprec/mxnet.h"
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace {

using mixprec::testing::CliRun;
using mixprec::testing::kR20;
using mixprec::testing::slurp;

class Cli : public mixprec::testing::CliFixture {
 protected:
  void write(const std::string& name, const std::string& bytes) {
    std::ofstream f(dir_ / name, std::ios::binary);
    f << bytes;
  }
  // Files in the work dir other than the given inputs: a failed run must leave none.
  std::vector<std::string> leftovers(const std::set<std::string>& inputs) const {
    std::vector<std::string> extra;
    for (const auto& e : fs::directory_iterator(dir_))
      if (!inputs.count(e.path().filename().string())) extra.push_back(e.path().filename().string());
    return extra;
  }
  std::string convert_args(const std::string& sym, const std::string& params, const std::string& extra = "") {
    return "convert --symbol " + sym + " --params " + params + " --out-prefix " + p("out") + " " + extra;
  }
  // Runs a conversion expected to fail on these inputs; checks message, exit code, no output, inputs untouched.
  void expect_clean_failure(const std::string& sym, const std::string& params, const std::vector<std::string>& needles,
                            const std::string& extra = "", int code = 1) {
    const std::string sym_before = slurp(sym), params_before = slurp(params);
    const CliRun r = run(convert_args(sym, params, extra));
    EXPECT_EQ(r.code, code) << r.err;
    for (const auto& n : needles) EXPECT_NE(r.err.find(n), std::string::npos) << "missing '" << n << "' in: " << r.err;
    EXPECT_EQ(r.err.find("\n"), r.err.size() - 1) << "one line expected: " << r.err;
    EXPECT_FALSE(fs::exists(p("out-symbol.json")));
    EXPECT_FALSE(fs::exists(p("out-0000.params")));
    std::set<std::string> inputs;
    for (const auto& f : {sym, params})
      if (fs::path(f).parent_path() == dir_) inputs.insert(fs::path(f).filename().string());
    EXPECT_TRUE(leftovers(inputs).empty());
    EXPECT_EQ(slurp(sym), sym_before);
    EXPECT_EQ(slurp(params), params_before);
  }
};

TEST_F(Cli, ConvertWritesAModelThatInspectDescribes) {
  const CliRun r = run(convert_args(kR20 + "-symbol.json", kR20 + "-0000.params", "--cast-params-offline"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("1 casts to float16, 1 to float32"), std::string::npos) << r.out;
  const CliRun i = run("inspect --json " + p("out-symbol.json") + " " + p("out-0000.params"));
  ASSERT_EQ(i.code, 0) << i.err;
  const auto j = nlohmann::json::parse(i.out);
  EXPECT_EQ(j.at("casts").at("float16"), 1);
  EXPECT_EQ(j.at("casts").at("float32"), 1);
  EXPECT_EQ(j.at("ops").at("Convolution"), 21);
  EXPECT_EQ(j.at("params").at("arg:cifarresnetv10_conv0_weight"), "float16");
  EXPECT_EQ(j.at("params").at("arg:cifarresnetv10_batchnorm0_gamma"), "float32");
  EXPECT_EQ(j.at("params").at("aux:cifarresnetv10_batchnorm0_running_mean"), "float32");
  EXPECT_GT(j.at("nodes").get<int>(), 100);
  // 23 params at 2 bytes instead of 4: the file shrinks.
  EXPECT_LT(j.at("param_bytes").get<size_t>(), fs::file_size(kR20 + "-0000.params"));
  const CliRun t = run("inspect " + p("out-symbol.json"));
  EXPECT_NE(t.out.find("amp_cast to float16: 1"), std::string::npos) << t.out;
}

// Each list option, given alone, changes exactly what it names: the dtype every node computes in
// (`inspect --nodes`) against a plain bfloat16 conversion where all 71 op nodes run in bfloat16.
TEST_F(Cli, EveryListOptionReachesTheConversion) {
  using Dtypes = std::map<std::string, std::string>;  // node -> dtype
  using Counts = std::map<std::string, int>;          // "op dtype" -> nodes
  auto convert = [&](const std::string& options, Dtypes& node, Counts& count) {
    const CliRun r = run(convert_args(kR20 + "-symbol.json", kR20 + "-0000.params", "--target-dtype bfloat16 --quiet " + options));
    ASSERT_EQ(r.code, 0) << options << ": " << r.err;
    const CliRun i = run("inspect --nodes --json " + p("out-symbol.json"));
    ASSERT_EQ(i.code, 0) << i.err;
    const nlohmann::json j = nlohmann::json::parse(i.out);
    for (const auto& n : j.at("node_list")) {
      node[n.at("name").get<std::string>()] = n.at("dtype").get<std::string>();
      ++count[n.at("op").get<std::string>() + " " + n.at("dtype").get<std::string>()];
    }
  };
  const std::string pre = "cifarresnetv10_";
  Dtypes base, node;
  Counts base_count, count;
  convert("", base, base_count);
  EXPECT_EQ(base_count["Convolution bfloat16"], 21);
  EXPECT_EQ(base_count["elemwise_add bfloat16"], 9);
  EXPECT_EQ(base_count["amp_cast bfloat16"], 24);  // --target-dtype: the casts are to bfloat16
  EXPECT_EQ(base[pre + "pool0_fwd"], "bfloat16");
  EXPECT_EQ(base[pre + "dense0_fwd"], "bfloat16");

  // --target-dtype-ops FullyConnected: the convolutions leave the target list (neutral, fed float32).
  convert("--target-dtype-ops FullyConnected", node = {}, count = {});
  EXPECT_EQ(count["Convolution float32"], 21);
  EXPECT_EQ(node[pre + "dense0_fwd"], "bfloat16");

  // --fp32-ops Pooling: the pool alone runs float32 (cast in and back out for the FC).
  convert("--fp32-ops Pooling", node = {}, count = {});
  EXPECT_EQ(node[pre + "pool0_fwd"], "float32");
  EXPECT_EQ(count["Convolution bfloat16"], 21);
  EXPECT_EQ(node[pre + "dense0_fwd"], "bfloat16");

  // --conditional-fp32-ops Activation:act_type:relu: every relu runs float32.
  convert("--conditional-fp32-ops Activation:act_type:relu", node = {}, count = {});
  EXPECT_EQ(count["Activation float32"], 18);
  EXPECT_EQ(count["Convolution bfloat16"], 21);

  // --excluded-sym-names: that convolution runs float32, and so does the residual add it feeds
  // (elemwise_add is a widest-type op: its float32 input has no bfloat16 version for free).
  const std::string excluded = pre + "stage2_conv1_fwd";
  convert("--excluded-sym-names " + excluded, node = {}, count = {});
  EXPECT_EQ(node[excluded], "float32");
  EXPECT_EQ(count["Convolution bfloat16"], 20);
  EXPECT_EQ(count["elemwise_add float32"], 1);

  // --widest-dtype-ops Concat: elemwise_add leaves the widest list and is neutral, so that same
  // add follows its bfloat16 input instead.
  convert("--excluded-sym-names " + excluded + " --widest-dtype-ops Concat", node = {}, count = {});
  EXPECT_EQ(node[excluded], "float32");
  EXPECT_EQ(count["elemwise_add float32"], 0);
  EXPECT_EQ(count["elemwise_add bfloat16"], 9);
}

TEST_F(Cli, MxnetOneCompatibilityWritesDtypeAttributes) {
  const std::string mtcnn = std::string(MIXPREC_SHARED_DIR) + "/models/mxnet/insightface_mtcnn/det1";
  const CliRun r = run(convert_args(mtcnn + "-symbol.json", mtcnn + "-0001.params", "--compat mxnet1 --json"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("casts_to_target"), 11);
  EXPECT_EQ(j.at("params_stored_low"), 3);
  EXPECT_NE(slurp(p("out-symbol.json")).find("\"__dtype__\": \"2\""), std::string::npos);
}

TEST_F(Cli, TruncatedParamsFail) {
  const std::string bytes = slurp(kR20 + "-0000.params");
  write("t.params", bytes.substr(0, bytes.size() / 2));
  expect_clean_failure(kR20 + "-symbol.json", p("t.params"), {p("t.params"), "byte"});
}

TEST_F(Cli, WrongMagicFails) {
  std::string bytes = slurp(kR20 + "-0000.params");
  bytes[0] = 'X';
  write("m.params", bytes);
  expect_clean_failure(kR20 + "-symbol.json", p("m.params"), {p("m.params"), "magic"});
}

TEST_F(Cli, UnknownDtypeCodeFails) {
  std::string bytes = slurp(kR20 + "-0000.params");
  // First array: 24-byte list header, magic(4) stype(4) ndim(4) 4 dims(32) dev(8), then the dtype code.
  bytes[24 + 4 + 4 + 4 + 32 + 8] = 99;
  write("d.params", bytes);
  expect_clean_failure(kR20 + "-symbol.json", p("d.params"), {p("d.params"), "99"});
}

TEST_F(Cli, ShapeLargerThanFileFails) {
  std::string bytes = slurp(kR20 + "-0000.params");
  bytes[24 + 4 + 4 + 4 + 5] = 0x40;  // first dim of the first array becomes ~2^46
  write("s.params", bytes);
  expect_clean_failure(kR20 + "-symbol.json", p("s.params"), {p("s.params")});
}

TEST_F(Cli, MalformedJsonFails) {
  std::string text = slurp(kR20 + "-symbol.json");
  write("bad-symbol.json", text.substr(0, text.size() / 3));
  expect_clean_failure(p("bad-symbol.json"), kR20 + "-0000.params", {p("bad-symbol.json"), "line"});
}

TEST_F(Cli, DanglingAndCyclicReferencesFail) {
  write("dangling-symbol.json", R"({"nodes": [{"op": "null", "name": "data", "inputs": []},
    {"op": "Activation", "name": "act", "attrs": {"act_type": "relu"}, "inputs": [[7, 0, 0]]}],
    "arg_nodes": [0], "heads": [[1, 0, 0]]})");
  expect_clean_failure(p("dangling-symbol.json"), kR20 + "-0000.params", {p("dangling-symbol.json"), "act"});
  fs::remove(p("dangling-symbol.json"));
  write("cycle-symbol.json", R"({"nodes": [{"op": "null", "name": "data", "inputs": []},
    {"op": "elemwise_add", "name": "a", "inputs": [[0, 0, 0], [2, 0, 0]]},
    {"op": "Activation", "name": "b", "attrs": {"act_type": "relu"}, "inputs": [[1, 0, 0]]}],
    "arg_nodes": [0], "heads": [[2, 0, 0]]})");
  expect_clean_failure(p("cycle-symbol.json"), kR20 + "-0000.params", {p("cycle-symbol.json"), "cycle"});
}

TEST_F(Cli, DuplicateParamNamesFail) {
  // Two arrays both named arg:w (a hand-made V2 list).
  std::string f;
  auto u64 = [&](uint64_t v) { f.append(reinterpret_cast<const char*>(&v), 8); };
  auto u32 = [&](uint32_t v) { f.append(reinterpret_cast<const char*>(&v), 4); };
  u64(0x112);
  u64(0);
  u64(2);
  for (int k = 0; k < 2; ++k) {
    u32(0xF993FAC9);
    u32(0);           // dense
    u32(1);           // ndim
    u64(1);           // dim
    u32(1);           // cpu
    u32(0);           // dev id
    u32(0);           // float32
    u32(0x3f800000);  // 1.0f
  }
  u64(2);
  for (int k = 0; k < 2; ++k) {
    u64(5);
    f += "arg:w";
  }
  write("dup.params", f);
  expect_clean_failure(kR20 + "-symbol.json", p("dup.params"), {p("dup.params"), "arg:w"});
}

TEST_F(Cli, BadOptionsFailBeforeWriting) {
  // Bad command-line values: exit code 2, nothing written.
  expect_clean_failure(kR20 + "-symbol.json", kR20 + "-0000.params", {"NoSuchOp"}, "--fp32-ops NoSuchOp", 2);
  expect_clean_failure(kR20 + "-symbol.json", kR20 + "-0000.params", {"float64"}, "--target-dtype float64", 2);
  expect_clean_failure(kR20 + "-symbol.json", kR20 + "-0000.params", {"only one list"},
                       "--fp32-ops Convolution --target-dtype-ops Convolution", 2);
  expect_clean_failure(kR20 + "-symbol.json", kR20 + "-0000.params", {"OP:ATTR"}, "--conditional-fp32-ops Activation", 2);
  const CliRun usage = run("convert --symbol x");
  EXPECT_EQ(usage.code, 2);
  EXPECT_EQ(run("frobnicate").code, 2);
}

TEST_F(Cli, ExcludedNameNotInGraphOnlyWarns) {
  const CliRun r = run(convert_args(kR20 + "-symbol.json", kR20 + "-0000.params", "--excluded-sym-names nope"));
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.err.find("warning"), std::string::npos);
  EXPECT_NE(r.err.find("nope"), std::string::npos);
}

TEST_F(Cli, RefusesToOverwriteItsInputAndKeepsAnOldOutputOnFailure) {
  fs::copy_file(kR20 + "-symbol.json", p("m-symbol.json"));
  fs::copy_file(kR20 + "-0000.params", p("m-0000.params"));
  const std::string before = slurp(p("m-0000.params"));
  CliRun r = run("convert --symbol " + p("m-symbol.json") + " --params " + p("m-0000.params") + " --out-prefix " + p("m"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("overwrite"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(p("m-0000.params")), before);
  // A previous good output survives a failed run.
  ASSERT_EQ(run(convert_args(kR20 + "-symbol.json", kR20 + "-0000.params")).code, 0);
  const std::string good = slurp(p("out-0000.params"));
  write("t.params", before.substr(0, 100));
  r = run(convert_args(kR20 + "-symbol.json", p("t.params")));
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(slurp(p("out-0000.params")), good);
}

TEST_F(Cli, MissingOutputDirectoryFailsCleanly) {
  const CliRun r = run("convert --symbol " + kR20 + "-symbol.json --params " + kR20 + "-0000.params --out-prefix " + p("no/such/dir/out"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no/such/dir"), std::string::npos) << r.err;
  EXPECT_TRUE(leftovers({}).empty());
}

TEST_F(Cli, ZooWritesAConvertibleModel) {
  CliRun r = run("zoo resnet18_v1 --out-prefix " + p("r18"));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("convert --symbol " + p("r18-symbol.json") + " --params " + p("r18-0000.params") + " --out-prefix " + p("r18_fp16") + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  // 20 conv weights + FC weight and bias + the input; the output back to float32.
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("casts_to_target"), 23);
  EXPECT_EQ(j.at("casts_to_float32"), 1);
  EXPECT_EQ(run("zoo no_such_model").code, 1);
  EXPECT_EQ(run("zoo --list").code, 0);
}

}  // namespace

// Parameter names are bytes, not necessarily UTF-8: `inspect --json` still prints valid JSON,
// with U+FFFD where a name's bytes are not UTF-8.
TEST_F(Cli, InspectJsonSurvivesNonUtf8Names) {
  mixprec::mxnet::ParamsFile f;
  f.arrays.push_back({"arg:w\xff\xfe", mixprec::Tensor::from_floats({2}, {1.0f, 2.0f})});
  const std::vector<uint8_t> bytes = mixprec::mxnet::write_params(f);
  std::ofstream(p("odd.params"), std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  const CliRun r = run("inspect " + p("odd.params") + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("w\xef\xbf\xbd\xef\xbf\xbd"), std::string::npos) << r.out;
  EXPECT_TRUE(nlohmann::json::accept(r.out));
}
