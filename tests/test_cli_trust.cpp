// What the command line tells a user must be true and the errors must say how to get it right:
// compare's verdict and exit code 3, params checked against their graph, inputs, prefixes and
// epochs, exit code 2 for any bad command-line value, progress only where asked. Messages are
// checked by their text.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_test_util.h"
#include "ir/graph_builder.h"
#include "mixprec/mxnet.h"
#include "mixprec/numpy.h"

namespace fs = std::filesystem;
using namespace mixprec;
using mixprec::testing::CliRun;
using mixprec::testing::kR20;
using mixprec::testing::slurp;

namespace {

const std::string kShared = std::string(MIXPREC_SHARED_DIR) + "/models/";
const std::string kDet1 = kShared + "mxnet/insightface_mtcnn/det1";

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

class CliTrust : public mixprec::testing::CliFixture {
 protected:
  // data (1, 4) -> FullyConnected "fc" (weights `w`) -> relu "act", written as PREFIX-symbol.json and
  // PREFIX-0000.params. With w = 200 and inputs of 100, fc's outputs are 80000: inf in float16.
  void write_fc_model(const std::string& prefix, float w) {
    GraphBuilder b;
    const Entry x = b.var("data", {{"__shape__", "(1, 4)"}});
    const Entry fc = b.op("FullyConnected", "fc", {x, b.var("fc_weight"), b.var("fc_bias")}, {{"num_hidden", "3"}});
    const Graph g = b.build({b.op("Activation", "act", {fc}, {{"act_type", "relu"}})});
    TensorMap arg{{"fc_weight", Tensor::from_floats({3, 4}, std::vector<float>(12, w))}, {"fc_bias", Tensor::from_floats({3}, {0, 0, 0})}};
    mxnet::save_symbol_json(g, p(prefix + "-symbol.json"));
    mxnet::save_params(mxnet::make_checkpoint(arg, {}), p(prefix + "-0000.params"));
    numpy::save_npy(Tensor::from_floats({1, 4}, {100, 100, 100, 100}), p("x100.npy"));
  }
  std::string r20_files() const { return "--symbol " + kR20 + "-symbol.json --params " + kR20 + "-0000.params"; }
  void copy_r20(const std::string& prefix, const std::string& epoch = "0000") {
    fs::copy_file(kR20 + "-symbol.json", p(prefix + "-symbol.json"));
    fs::copy_file(kR20 + "-0000.params", p(prefix + "-" + epoch + ".params"));
  }
};

// ---- 1, 2: metrics that see everything, and the gate --------------------------------------------

TEST_F(CliTrust, AnOverflowingModelFailsTheGateAndTheFirstInfNodeIsNamed) {
  write_fc_model("fc", 200.0f);
  ASSERT_EQ(run("convert --symbol " + p("fc-symbol.json") + " --params " + p("fc-0000.params") + " --out-prefix " + p("fc16") +
                " --cast-params-offline")
                .code,
            0);
  const CliRun r = run("compare --reference " + p("fc") + " --candidate " + p("fc16") + " --input data=" + p("x100.npy"));
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  // The broken candidate is said before any figure.
  EXPECT_EQ(r.out.find("output 0: 3 positions non-finite in the candidate where the reference is finite"), 0u) << r.out;
  EXPECT_TRUE(has(r.out, "first node producing inf/NaN: fc (FullyConnected, float16): 3 values; largest FP32 magnitude there "
                         "8e+04 > 65504, the float16 range"))
      << r.out;
  EXPECT_TRUE(has(r.out, "max abs inf, max rel inf, NMSE inf, cosine nan")) << r.out;
  EXPECT_TRUE(has(r.out, "FAIL nonfinite")) << r.out;
  // --allow-nonfinite lets it through; any other limit still sees the inf NMSE.
  EXPECT_EQ(run("compare --reference " + p("fc") + " --candidate " + p("fc16") + " --input data=" + p("x100.npy") +
                " --allow-nonfinite")
                .code,
            0);
  EXPECT_EQ(run("compare --reference " + p("fc") + " --candidate " + p("fc16") + " --input data=" + p("x100.npy") +
                " --allow-nonfinite --max-nmse 1")
                .code,
            3);
  // The JSON carries every check and verdict; inf and NaN are written as strings, not hidden as null.
  const CliRun j = run("compare --reference " + p("fc") + " --candidate " + p("fc16") + " --input data=" + p("x100.npy") +
                       " --json --min-cosine 0.9");
  EXPECT_EQ(j.code, 3);
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc.at("outputs")[0].at("nmse"), "inf");
  EXPECT_EQ(doc.at("outputs")[0].at("cosine"), "nan");
  EXPECT_EQ(doc.at("outputs")[0].at("candidate_nonfinite_where_reference_finite"), 3);
  EXPECT_EQ(doc.at("first_nonfinite").at("node"), "fc");
  EXPECT_EQ(doc.at("first_nonfinite").at("dtype_max"), 65504.0);
  EXPECT_FALSE(doc.at("passed").get<bool>());
  std::set<std::string> failed;
  for (const auto& c : doc.at("checks"))
    if (!c.at("passed").get<bool>()) failed.insert(c.at("check").get<std::string>());
  EXPECT_EQ(failed, (std::set<std::string>{"nonfinite", "cosine"}));
}

TEST_F(CliTrust, BFloat16OfTheSameModelPassesTheGate) {
  write_fc_model("fc", 200.0f);
  ASSERT_EQ(run("convert --symbol " + p("fc-symbol.json") + " --params " + p("fc-0000.params") + " --out-prefix " + p("fcb") +
                " --target-dtype bf16")
                .code,
            0);
  const CliRun r = run("compare --reference " + p("fc") + " --candidate " + p("fcb") + " --input data=" + p("x100.npy") +
                       " --max-nmse 1e-4 --min-cosine 0.9999 --atol 200");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(has(r.out, "all checks passed")) << r.out;
  // 80000 is stored as 79872 in bfloat16: an absolute tolerance of 100 is not met.
  const CliRun strict = run("compare --reference " + p("fc") + " --candidate " + p("fcb") + " --input data=" + p("x100.npy") +
                            " --atol 100");
  EXPECT_EQ(strict.code, 3);
  EXPECT_TRUE(has(strict.out, "FAIL allclose (output 0): 3 of 3 values outside atol 100 + rtol 0 * |ref|; worst at (0, 0): "
                              "reference 8e+04, candidate 7.987e+04"))
      << strict.out;
}

TEST_F(CliTrust, GoodConversionPassesEveryLimit) {
  ASSERT_EQ(run("convert " + r20_files() + " --out-prefix " + p("h")).code, 0);
  const CliRun r = run("compare --reference " + kR20 + " --candidate " + p("h") +
                       " --shape data=4,3,32,32 --max-nmse 1e-4 --min-cosine 0.9999 --min-top1 100 --json");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_TRUE(doc.at("passed").get<bool>());
  std::set<std::string> checks;
  for (const auto& c : doc.at("checks")) checks.insert(c.at("check").get<std::string>());
  EXPECT_EQ(checks, (std::set<std::string>{"nonfinite", "nmse", "cosine", "top1"}));
  // A limit out of its range is a bad command-line value.
  EXPECT_EQ(run("compare --reference " + kR20 + " --candidate " + p("h") + " --shape data=1,3,32,32 --min-top1 150").code, 2);
}

// ---- 3: top-1 where it means something ----------------------------------------------------------

TEST_F(CliTrust, TopOneIsReportedForClassScoresOnly) {
  // det1 (P-Net) outputs maps shaped (1, 2, H, W) and (1, 4, H, W): no top-1 figure.
  const CliRun maps = run("compare --reference " + kDet1 + " --candidate " + kDet1 + " --shape data=1,3,48,64 --json");
  ASSERT_EQ(maps.code, 0) << maps.err;
  const auto maps_json = nlohmann::json::parse(maps.out);  // named: a range-for over a temporary's member dangles
  ASSERT_EQ(maps_json.at("outputs").size(), 2u);
  for (const auto& o : maps_json.at("outputs")) EXPECT_TRUE(o.at("top1").is_null());
  // Named explicitly: the class axis of each map position.
  const CliRun axis = run("compare --reference " + kDet1 + " --candidate " + kDet1 + " --shape data=1,3,48,64 --json --class-axis 1");
  ASSERT_EQ(axis.code, 0) << axis.err;
  const auto o = nlohmann::json::parse(axis.out).at("outputs")[0];
  EXPECT_EQ(o.at("top1").at("samples").get<int>(), 19 * 27);  // one per position of the (1, C, 19, 27) map
  // The CIFAR classifier: one sample per image.
  const CliRun logits = run("compare --reference " + kR20 + " --candidate " + kR20 + " --shape data=3,3,32,32");
  EXPECT_TRUE(has(logits.out, "top-1 agreement 100 % of 3 samples")) << logits.out;
  // --min-top1 with no class scores cannot pass silently.
  EXPECT_EQ(run("compare --reference " + kDet1 + " --candidate " + kDet1 + " --shape data=1,3,48,64 --min-top1 90").code, 3);
}

// ---- 4: params must match the graph -------------------------------------------------------------

TEST_F(CliTrust, AParamsFileOfAnotherModelIsRefused) {
  const std::string sym = kR20 + "-symbol.json";
  for (const std::string cmd : {"run --shape data=1,3,32,32", "bench --shape data=1,3,32,32 --runs 1"}) {
    const CliRun r = run(cmd + " --symbol " + sym + " --params " + kDet1 + "-0001.params");
    EXPECT_EQ(r.code, 1) << cmd;
    EXPECT_TRUE(has(r.err, kDet1 + "-0001.params: holds none of the 107 weights of " + sym +
                               ", e.g. cifarresnetv10_conv0_weight: is it the model's params file?"))
        << r.err;
  }
  const CliRun c = run("convert --symbol " + sym + " --params " + kDet1 + "-0001.params --out-prefix " + p("x"));
  EXPECT_EQ(c.code, 1);
  EXPECT_TRUE(has(c.err, "holds none of the 107 weights")) << c.err;
  EXPECT_TRUE(fs::is_empty(dir_)) << "no output on a refused conversion";
  // compare, by prefix: the same check.
  fs::copy_file(sym, p("mix-symbol.json"));
  fs::copy_file(kDet1 + "-0001.params", p("mix-0000.params"));
  EXPECT_EQ(run("compare --reference " + kR20 + " --candidate " + p("mix") + " --shape data=1,3,32,32").code, 1);
}

TEST_F(CliTrust, MissingWeightsAreCountedAndNamedAndExtraParamsWarn) {
  // Drop two weights and add one the graph does not read.
  mxnet::ParamsFile f = mxnet::read_params(kR20 + "-0000.params");
  f.arrays.erase(std::remove_if(f.arrays.begin(), f.arrays.end(),
                                [](const mxnet::NamedArray& a) {
                                  return a.name == "arg:cifarresnetv10_dense0_weight" || a.name == "arg:cifarresnetv10_stage1_conv3_weight";
                                }),
                 f.arrays.end());
  mxnet::save_params(f, p("two_missing-0000.params"));
  const CliRun r = run("run --symbol " + kR20 + "-symbol.json --params " + p("two_missing-0000.params") + " --shape data=1,3,32,32");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, "lacks 2 of the 107 weights")) << r.err;
  EXPECT_TRUE(has(r.err, "cifarresnetv10_stage1_conv3_weight")) << r.err;
  EXPECT_TRUE(has(r.err, "cifarresnetv10_dense0_weight")) << r.err;
  // A missing weight can still be fed explicitly: it becomes an input.
  const CliRun fed = run("run --symbol " + kR20 + "-symbol.json --params " + p("two_missing-0000.params") +
                         " --shape data=1,3,32,32 --shape cifarresnetv10_stage1_conv3_weight=16,16,3,3 --input cifarresnetv10_stage1_conv3_weight=random:1"
                         " --shape cifarresnetv10_dense0_weight=10,64");
  EXPECT_EQ(fed.code, 0) << fed.err;

  f = mxnet::read_params(kR20 + "-0000.params");
  f.arrays.push_back({"arg:stray_weight", Tensor::from_floats({2}, {1, 2})});
  mxnet::save_params(f, p("extra-0000.params"));
  const CliRun extra = run("run --symbol " + kR20 + "-symbol.json --params " + p("extra-0000.params") + " --shape data=1,3,32,32");
  EXPECT_EQ(extra.code, 0) << extra.err;
  EXPECT_TRUE(has(extra.err, "warning: " + p("extra-0000.params") + " holds 1 params the graph does not read: stray_weight")) << extra.err;
}

// ---- 5: inputs a user can get right the first time ----------------------------------------------

TEST_F(CliTrust, InputErrorsListTheModelsInputs) {
  ASSERT_EQ(run("zoo bert_base --out-prefix " + p("bert")).code, 0);
  CliRun r = run("run --prefix " + p("bert"));
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "--shape: no shape for data, token_types (inputs of " + p("bert-symbol.json") + ": data, token_types)"))
      << r.err;
  r = run("run --prefix " + p("bert") + " --shape dat=1,128 --shape token_types=1,128");
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "'dat' is not an input of " + p("bert-symbol.json") + " (inputs: data, token_types) (did you mean 'data'?)"))
      << r.err;
  r = run("run " + r20_files() + " --shape data=1,3,32,32 --input nope=random:1");
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "'nope' is not an input")) << r.err;
  r = run("run " + r20_files() + " --shape cifarresnetv10_conv0_weight=1,2");
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "'cifarresnetv10_conv0_weight' is a parameter held in")) << r.err;
}

TEST_F(CliTrust, ShapeSpellingsNpyAndNpzInputs) {
  const std::vector<float> img(2 * 3 * 32 * 32, 0.25f);
  numpy::save_npy(Tensor::from_floats({2, 3, 32, 32}, img), p("img.npy"));
  // A --shape that disagrees with the file is an error naming both.
  CliRun r = run("run " + r20_files() + " --input data=" + p("img.npy") + " --shape data=1,3,32,32");
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "'data=1,3,32,32' disagrees with " + p("img.npy") + ", shaped (2, 3, 32, 32)")) << r.err;
  // Every spelling of a shape gives the same outputs.
  std::string first;
  for (const std::string shape : {"2,3,32,32", "2x3x32x32", "'(2, 3, 32, 32)'", "[2,3,32,32]"}) {
    r = run("run " + r20_files() + " --shape data=" + shape + " --input data=random:5 --json");
    ASSERT_EQ(r.code, 0) << shape << r.err;
    const auto values = nlohmann::json::parse(r.out).at("outputs")[0].at("first_values").dump();
    if (first.empty()) first = values;
    EXPECT_EQ(values, first) << shape;
  }
  for (const std::string bad : {"1,,3", "1,3,", "a,b", "0,3,32,32", "-1,3,32,32", ""}) {
    r = run("run " + r20_files() + " --shape 'data=" + bad + "'");
    EXPECT_EQ(r.code, 2) << bad;
  }
  // .npz: members feed the inputs of their names, the same values as the .npy.
  numpy::save_npz({{"data", Tensor::from_floats({2, 3, 32, 32}, img)}}, p("in.npz"));
  const CliRun a = run("run " + r20_files() + " --input data=" + p("img.npy") + " --json");
  const CliRun b = run("run " + r20_files() + " --input " + p("in.npz") + " --json");
  const CliRun c = run("run " + r20_files() + " --input data=" + p("in.npz") + " --json");
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(nlohmann::json::parse(a.out).at("outputs"), nlohmann::json::parse(b.out).at("outputs"));
  EXPECT_EQ(nlohmann::json::parse(a.out).at("outputs"), nlohmann::json::parse(c.out).at("outputs"));
  numpy::save_npz({{"x", Tensor::from_floats({1}, {1})}, {"y", Tensor::from_floats({1}, {1})}}, p("two.npz"));
  r = run("run " + r20_files() + " --input data=" + p("two.npz"));
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "has no member 'data' (members: x, y)")) << r.err;
}

// ---- 6: files and prefixes ----------------------------------------------------------------------

TEST_F(CliTrust, PrefixesFindTheirEpoch) {
  copy_r20("m", "0007");
  // The only params file of the prefix, whatever its epoch.
  CliRun r = run("run --prefix " + p("m") + " --shape data=1,3,32,32");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(run("bench --prefix " + p("m") + " --shape data=1,3,32,32 --runs 1 --warmup 0").code, 0);
  // convert keeps the input's epoch number unless told otherwise.
  r = run("convert --symbol " + p("m-symbol.json") + " --params " + p("m-0007.params") + " --out-prefix " + p("h"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(p("h-0007.params")));
  EXPECT_TRUE(has(r.out, "wrote " + p("h-symbol.json") + " and " + p("h-0007.params"))) << r.out;
  EXPECT_EQ(run("compare --reference " + p("m") + " --candidate " + p("h") + " --shape data=1,3,32,32").code, 0);
  ASSERT_EQ(run("convert --symbol " + p("m-symbol.json") + " --params " + p("m-0007.params") + " --out-prefix " + p("e") + " --epoch 12")
                .code,
            0);
  EXPECT_TRUE(fs::exists(p("e-0012.params")));
  // Two epochs: ambiguous unless --epoch picks one.
  fs::copy_file(p("m-0007.params"), p("m-0009.params"));
  r = run("run --prefix " + p("m") + " --shape data=1,3,32,32");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, "several params files: m-0007.params, m-0009.params; choose one with --epoch N")) << r.err;
  EXPECT_EQ(run("run --prefix " + p("m") + " --epoch 9 --shape data=1,3,32,32").code, 0);
  EXPECT_EQ(run("compare --reference " + p("m") + " --candidate " + p("m") + " --epoch 7 --shape data=1,3,32,32").code, 0);
  r = run("run --prefix " + p("nothing") + " --shape data=1,3,32,32");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, "no nothing-NNNN.params file")) << r.err;
  // A prefix and files together is a usage error.
  EXPECT_EQ(run("run --prefix " + p("m") + " " + r20_files()).code, 2);
}

TEST_F(CliTrust, FilesAreNamedForWhatTheyAre) {
  const std::string onnx = kShared + "onnx/light/light_densenet121.onnx";
  CliRun r = run("convert --symbol " + onnx + " --params " + kR20 + "-0000.params --out-prefix " + p("o"));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, onnx + ": is an ONNX model, not an MXNet symbol JSON file (mixprec reads MXNet models here")) << r.err;
  r = run("run --symbol " + kR20 + "-symbol.json --params " + dir_.string() + " --shape data=1,3,32,32");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, dir_.string() + ": is a directory, not an MXNet .params file")) << r.err;
  r = run("run --symbol " + kR20 + "-0000.params --params " + kR20 + "-symbol.json --shape data=1,3,32,32");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, "is an MXNet .params file, not an MXNet symbol JSON file (given as the symbol file)")) << r.err;
}

TEST_F(CliTrust, AnOutputPrefixThatIsADirectorySaysHowToNameFiles) {
  fs::create_directory(p("outdir"));
  const CliRun r = run("convert " + r20_files() + " --out-prefix " + p("outdir"));
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "is a directory; --out-prefix names the output files: e.g. --out-prefix " + p("outdir/model") + " writes " +
                             p("outdir/model") + "-symbol.json"))
      << r.err;
  EXPECT_TRUE(fs::is_empty(p("outdir")));
}

TEST_F(CliTrust, NoPartialOutputWhenTheSymbolTargetIsADirectory) {
  // The symbol target exists as a directory: nothing is written, not even the params file.
  fs::create_directory(p("o-symbol.json"));
  const CliRun r = run("convert " + r20_files() + " --out-prefix " + p("o"));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, p("o-symbol.json") + ": is a directory")) << r.err;
  EXPECT_FALSE(fs::exists(p("o-0000.params")));
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(dir_)) entries.push_back(e.path().filename().string());
  EXPECT_EQ(entries, std::vector<std::string>{"o-symbol.json"});
}

// ---- 7: command-line hygiene --------------------------------------------------------------------

TEST_F(CliTrust, DtypeSpellingsAndBadValuesExitTwo) {
  for (const std::string spelling : {"fp16", "half", "float16", "bf16", "bfloat16"}) {
    const CliRun r = run("convert " + r20_files() + " --out-prefix " + p("s") + " --target-dtype " + spelling + " --json");
    ASSERT_EQ(r.code, 0) << spelling << r.err;
    const std::string want = spelling[0] == 'b' ? "bfloat16" : "float16";
    EXPECT_EQ(nlohmann::json::parse(r.out).at("target_dtype"), want);
  }
  CliRun r = run("convert " + r20_files() + " --out-prefix " + p("s2") + " --target-dtype float64");
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "--target-dtype: must be float16 (fp16, half) or bfloat16 (bf16), not 'float64'")) << r.err;
  r = run("convert " + r20_files() + " --out-prefix " + p("s2") + " --compat mxnet3");
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "--compat: must be mxnet1 or mxnet2, not 'mxnet3'")) << r.err;
  EXPECT_EQ(run("bench " + r20_files() + " --shape data=1,3,32,32 --runs 0").code, 2);
  EXPECT_EQ(run("bench " + r20_files() + " --shape data=1,3,32,32 --warmup -1").code, 2);
  EXPECT_EQ(run("run " + r20_files() + " --shape data=1,3,32,32 --threads -2").code, 2);
  r = run("compres --reference a --candidate b");
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "unknown subcommand 'compres' (did you mean 'compare'?)")) << r.err;
  EXPECT_FALSE(fs::exists(p("s2-symbol.json")));
}

TEST_F(CliTrust, ListOptionsAreTrimmedAndTyposGetSuggestions) {
  CliRun r = run("convert " + r20_files() + " --out-prefix " + p("t") + " --fp32-ops ' softmax , Pooling ' --json");
  EXPECT_EQ(r.code, 0) << r.err;
  r = run("convert " + r20_files() + " --out-prefix " + p("t2") + " --fp32-ops Convolutoin");
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "--fp32-ops: 'Convolutoin' is not a known MXNet operator (did you mean 'Convolution'")) << r.err;
  r = run("convert " + r20_files() + " --out-prefix " + p("t3") + " --excluded-sym-names cifarresnetv10_conv0");
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(has(r.err, "'cifarresnetv10_conv0' is not a node of the graph; did you mean 'cifarresnetv10_conv0_fwd'?")) << r.err;
}

TEST_F(CliTrust, RunAndBenchSpeakJson) {
  CliRun r = run("run " + r20_files() + " --shape data=2,3,32,32 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("outputs")[0].at("shape"), (std::vector<int64_t>{2, 10}));
  EXPECT_EQ(j.at("outputs")[0].at("dtype"), "float32");
  EXPECT_EQ(j.at("outputs")[0].at("nonfinite"), 0);
  EXPECT_TRUE(has(j.at("numerics").get<std::string>(), "float32"));
  r = run("bench " + r20_files() + " --shape data=1,3,32,32 --runs 5 --warmup 1 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  for (const char* k : {"median_ms", "mean_ms", "min_ms", "p90_ms", "stddev_ms", "peak_rss_mib", "numerics", "throughput_per_s"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j.at("runs"), 5);
  EXPECT_LE(j.at("min_ms").get<double>(), j.at("median_ms").get<double>());
  EXPECT_LE(j.at("median_ms").get<double>(), j.at("p90_ms").get<double>());
  EXPECT_GT(j.at("peak_rss_mib").get<double>(), 1.0);
  // Low-precision latency on this engine is CPU latency of an emulation, and the text says so.
  ASSERT_EQ(run("convert " + r20_files() + " --out-prefix " + p("h")).code, 0);
  r = run("bench --prefix " + p("h") + " --shape data=1,3,32,32 --runs 2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "numerics: emulated mixed precision")) << r.out;
  EXPECT_TRUE(has(r.out, "not GPU latencies")) << r.out;
}

// ---- 8: progress --------------------------------------------------------------------------------

TEST_F(CliTrust, ProgressOnlyWhenAskedOrOnATerminal) {
  ASSERT_EQ(run("convert " + r20_files() + " --out-prefix " + p("h")).code, 0);
  // stderr is a file here: silent by default.
  CliRun r = run("bench --prefix " + p("h") + " --shape data=1,3,32,32 --runs 3");
  EXPECT_EQ(r.err, "");
  r = run("compare --reference " + kR20 + " --candidate " + p("h") + " --shape data=1,3,32,32");
  EXPECT_EQ(r.err, "");
  // --progress draws a counter; --quiet wins over nothing else and stays silent.
  r = run("bench --prefix " + p("h") + " --shape data=1,3,32,32 --runs 3 --progress");
  EXPECT_TRUE(has(r.err, "bench: [")) << r.err;
  EXPECT_TRUE(has(r.err, "runs")) << r.err;
  r = run("compare --reference " + kR20 + " --candidate " + p("h") + " --shape data=1,3,32,32 --progress");
  EXPECT_TRUE(has(r.err, "nodes")) << r.err;
  r = run("convert " + r20_files() + " --out-prefix " + p("h2") + " --progress");
  EXPECT_TRUE(has(r.err, "convert: reading")) << r.err;
  r = run("bench --prefix " + p("h") + " --shape data=1,3,32,32 --runs 3 --quiet");
  EXPECT_EQ(r.err, "");
}

// ---- 11: loose ends -----------------------------------------------------------------------------

TEST_F(CliTrust, RangeWarningsOnlyWhereValuesAreCastLow) {
  write_fc_model("big", 70000.0f);  // beyond float16's 65504
  CliRun r = run("convert --symbol " + p("big-symbol.json") + " --params " + p("big-0000.params") + " --out-prefix " + p("b16"));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.err, "param 'fc_weight' holds values beyond the float16 range (element 0: 70000) and is cast to float16")) << r.err;
  EXPECT_TRUE(has(r.err, "those elements become inf")) << r.err;
  // Kept in float32 (fc excluded): no warning. bfloat16 holds the value: no warning.
  r = run("convert --symbol " + p("big-symbol.json") + " --params " + p("big-0000.params") + " --out-prefix " + p("b32") +
          " --excluded-sym-names fc");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(has(r.err, "beyond")) << r.err;
  r = run("convert --symbol " + p("big-symbol.json") + " --params " + p("big-0000.params") + " --out-prefix " + p("bb") +
          " --target-dtype bfloat16");
  EXPECT_FALSE(has(r.err, "beyond")) << r.err;
}

TEST_F(CliTrust, BatchNormStatisticsBeyondTheRangeDoNotWarn) {
  // Aux states are never cast: a running variance above 65504 is no float16 problem.
  mxnet::ParamsFile f = mxnet::read_params(kR20 + "-0000.params");
  for (auto& a : f.arrays)
    if (a.name == "aux:cifarresnetv10_batchnorm0_running_var") a.tensor.as<float>()[0] = 1e6f;
  mxnet::save_params(f, p("bn-0000.params"));
  const CliRun r = run("convert --symbol " + kR20 + "-symbol.json --params " + p("bn-0000.params") + " --out-prefix " + p("o") +
                       " --cast-params-offline");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(has(r.err, "beyond")) << r.err;
}

TEST_F(CliTrust, ConvertingAFloat16ModelToBFloat16IsRefused) {
  ASSERT_EQ(run("convert " + r20_files() + " --out-prefix " + p("h") + " --cast-params-offline").code, 0);
  CliRun r = run("convert --symbol " + p("h-symbol.json") + " --params " + p("h-0000.params") + " --out-prefix " + p("b") +
                 " --target-dtype bfloat16");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, "already converted to float16")) << r.err;
  EXPECT_TRUE(has(r.err, "convert the FP32 model instead")) << r.err;
  EXPECT_FALSE(fs::exists(p("b-symbol.json")));
  // Runtime casts only (params float32): the casts alone tell.
  ASSERT_EQ(run("convert " + r20_files() + " --out-prefix " + p("rt")).code, 0);
  r = run("convert --symbol " + p("rt-symbol.json") + " --params " + p("rt-0000.params") + " --out-prefix " + p("b") + " --target-dtype bf16");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, "already converted to float16 (")) << r.err;
  // The same type again is fine and adds nothing.
  r = run("convert --symbol " + p("h-symbol.json") + " --params " + p("h-0000.params") + " --out-prefix " + p("h2") + " --json");
  EXPECT_EQ(r.code, 0) << r.err;
}

}  // namespace
