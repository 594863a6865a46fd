// `mixprec run`, `compare` and `bench` as a user runs them.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_test_util.h"
#include "mixprec/mxnet.h"
#include "mixprec/numpy.h"
#include "reference_evaluator.h"

namespace fs = std::filesystem;

namespace {

using mixprec::testing::kR20;
using mixprec::testing::slurp;
using Out = mixprec::testing::CliRun;
namespace ref = mixprec::testing::ref;

class CliEngine : public mixprec::testing::CliFixture {};

// `run` feeds an .npy input through the model and saves what the model computes: the saved
// output is checked against the independent reference evaluator on the same input (float32 ResNet-20:
// NMSE ~1e-14 expected, 1e-10 allowed; see test_reference_engine.cpp), so a misread input, a wrong
// model or a misplaced output cannot pass. The printed values are the saved ones; a random: seed
// reaches the generator; the thread count changes nothing.
TEST_F(CliEngine, RunSavesOutputsAndAcceptsNpyInputs) {
  const std::string model = "run --symbol " + kR20 + "-symbol.json --params " + kR20 + "-0000.params ";
  std::vector<float> img(2 * 3 * 32 * 32);
  for (size_t i = 0; i < img.size(); ++i) img[i] = static_cast<float>(i % 17) / 17.0f - 0.5f;
  mixprec::numpy::save_npy(mixprec::Tensor::from_floats({2, 3, 32, 32}, img), p("img.npy"));
  Out r = run(model + "--input data=" + p("img.npy") + " --save " + p("a") + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const mixprec::Tensor t = mixprec::numpy::read_npy(p("a_0.npy"));
  ASSERT_EQ(t.shape, (std::vector<int64_t>{2, 10}));
  ASSERT_EQ(t.dtype, mixprec::DType::Float32);
  const std::vector<float> saved(t.as<float>(), t.as<float>() + 20);
  mixprec::Graph g = mixprec::mxnet::read_symbol_json(kR20 + "-symbol.json");
  mixprec::TensorMap arg, aux;
  mixprec::mxnet::split_params(mixprec::mxnet::read_params(kR20 + "-0000.params"), arg, aux);
  const auto want = ref::evaluate(g, arg, aux, {{"data", ref::from_floats({2, 3, 32, 32}, img)}}, false);
  EXPECT_LE(ref::nmse(std::vector<double>(saved.begin(), saved.end()), want.outputs[0].v), 1e-10);
  const auto j = nlohmann::json::parse(r.out);
  const auto& o = j.at("outputs").at(0);
  EXPECT_EQ(o.at("shape"), nlohmann::json::array({2, 10}));
  EXPECT_EQ(o.at("nonfinite"), 0);
  for (size_t i = 0; i < o.at("first_values").size(); ++i) EXPECT_EQ(o.at("first_values")[i].get<float>(), saved[i]) << i;

  // Text output: the same shape line; a random input, its seed, the thread count.
  r = run(model + "--shape data=2,3,32,32 --input data=random:3 --save " + p("r3") + " --threads 2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("output 0: shape (2, 10) dtype float32"), std::string::npos) << r.out;
  ASSERT_EQ(run(model + "--shape data=2,3,32,32 --input data=random:3 --save " + p("r3b") + " --threads 1").code, 0);
  ASSERT_EQ(run(model + "--shape data=2,3,32,32 --input data=random:4 --save " + p("r4")).code, 0);
  EXPECT_TRUE(slurp(p("r3_0.npy")) == slurp(p("r3b_0.npy"))) << "random:3 with 2 threads and with 1 differ";
  EXPECT_TRUE(slurp(p("r3_0.npy")) != slurp(p("r4_0.npy"))) << "random:3 and random:4 gave the same output";
}

TEST_F(CliEngine, CompareReportsEveryMetric) {
  ASSERT_EQ(run("convert --symbol " + kR20 + "-symbol.json --params " + kR20 + "-0000.params --out-prefix " + p("r20h")).code, 0);
  const Out r = run("compare --reference " + kR20 + " --candidate " + p("r20h") + " --shape data=4,3,32,32 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& o = j.at("outputs").at(0);
  for (const char* k : {"max_abs", "max_rel", "nmse", "cosine", "top1", "reference_inf_nan", "candidate_inf_nan"})
    EXPECT_TRUE(o.contains(k)) << k;
  EXPECT_EQ(o.at("top1").at("samples"), 4);  // (4, 10) logits: one argmax per image
  EXPECT_EQ(o.at("top1").at("agreement"), 1.0);
  // ResNet-20 in float16: NMSE <= R G u^2 / 3 = 9.5e-6 (R = 60 roundings, G = 2, u = 2^-11) and
  // 1 - cosine = NMSE / 2 (see Runtime.CifarResNet20ConvertedStaysCloseToFp32).
  EXPECT_GT(o.at("cosine").get<double>(), 0.9999);
  EXPECT_LT(o.at("nmse").get<double>(), 1e-5);
  EXPECT_EQ(o.at("candidate_inf_nan").get<int>(), 0);
  EXPECT_TRUE(j.at("first_nonfinite").is_null());
  EXPECT_FALSE(j.at("largest_own_errors").empty());
  EXPECT_TRUE(j.at("passed").get<bool>());
  const Out text = run("compare --reference " + kR20 + " --candidate " + p("r20h") + " --shape data=1,3,32,32");
  EXPECT_NE(text.out.find("top-1 agreement"), std::string::npos) << text.out;
}

// `bench` times the number of runs asked for, and its figures hang together: min <= median <= p90,
// min <= mean, throughput = batch / median, a peak RSS of at least the 1.1 MB of weights; the
// text report carries the same figures. (No speed is asserted: that is bench_engine's job.)
TEST_F(CliEngine, BenchPrintsLatencyThroughputAndMemory) {
  const std::string model = "bench --symbol " + kR20 + "-symbol.json --params " + kR20 + "-0000.params --threads 1 ";
  for (int runs : {3, 5}) {
    const Out r = run(model + "--shape data=2,3,32,32 --runs " + std::to_string(runs) + " --warmup 1 --json");
    ASSERT_EQ(r.code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("runs"), runs);
    EXPECT_EQ(j.at("warmup"), 1);
    EXPECT_EQ(j.at("batch"), 2);
    const double mn = j.at("min_ms"), med = j.at("median_ms"), mean = j.at("mean_ms"), p90 = j.at("p90_ms");
    EXPECT_GT(mn, 0.0);
    EXPECT_LE(mn, med);
    EXPECT_LE(med, p90);
    EXPECT_LE(mn, mean);
    EXPECT_GE(j.at("stddev_ms").get<double>(), 0.0);
    EXPECT_NEAR(j.at("throughput_per_s").get<double>(), 2 * 1000.0 / med, 1e-9 * 2000.0 / med);
    EXPECT_GT(j.at("peak_rss_mib").get<double>(), 1.1);
    EXPECT_NE(j.at("numerics").get<std::string>().find("float32"), std::string::npos);
  }
  const Out r = run(model + "--shape data=1,3,32,32 --runs 3 --warmup 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("latency: median"), std::string::npos);
  EXPECT_NE(r.out.find("over 3 runs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(batch 1)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("peak memory:"), std::string::npos);
}

TEST_F(CliEngine, MissingShapeAndBadInputsFailClearly) {
  Out r = run("run --symbol " + kR20 + "-symbol.json --params " + kR20 + "-0000.params");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("data"), std::string::npos) << r.err;
  r = run("run --symbol " + kR20 + "-symbol.json --params " + kR20 + "-0000.params --shape data=1,3,32,32 --input nope=random:1");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("nope"), std::string::npos) << r.err;
  std::ofstream(p("bad.npy")) << "not numpy";
  r = run("run --symbol " + kR20 + "-symbol.json --params " + kR20 + "-0000.params --input data=" + p("bad.npy"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bad.npy"), std::string::npos) << r.err;
}

}  // namespace
