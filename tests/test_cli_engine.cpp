// `mixprec run`, `compare` and `bench` as a user runs them.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_test_util.h"
#include "mixprec/numpy.h"

namespace fs = std::filesystem;

namespace {

using mixprec::testing::kR20;
using mixprec::testing::slurp;
using Out = mixprec::testing::CliRun;

class CliEngine : public mixprec::testing::CliFixture {};

TEST_F(CliEngine, RunSavesOutputsAndAcceptsNpyInputs) {
  Out r = run("run --symbol " + kR20 + "-symbol.json --params " + kR20 + "-0000.params --shape data=2,3,32,32 --input data=random:3 --save " + p("out") + " --threads 2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("output 0: shape (2, 10) dtype float32"), std::string::npos) << r.out;
  const mixprec::Tensor t = mixprec::numpy::read_npy(p("out_0.npy"));
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 10}));
  // The same values fed back from a file give the same outputs.
  std::vector<float> img(2 * 3 * 32 * 32);
  for (size_t i = 0; i < img.size(); ++i) img[i] = static_cast<float>(i % 17) / 17.0f;
  mixprec::numpy::save_npy(mixprec::Tensor::from_floats({2, 3, 32, 32}, img), p("img.npy"));
  r = run("run --symbol " + kR20 + "-symbol.json --params " + kR20 + "-0000.params --input data=" + p("img.npy") + " --save " + p("a"));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("run --symbol " + kR20 + "-symbol.json --params " + kR20 + "-0000.params --input data=" + p("img.npy") + " --save " + p("b"));
  EXPECT_EQ(slurp(p("a_0.npy")), slurp(p("b_0.npy")));
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
  EXPECT_GT(o.at("cosine").get<double>(), 0.9999);
  EXPECT_LT(o.at("nmse").get<double>(), 1e-5);
  EXPECT_EQ(o.at("candidate_inf_nan").get<int>(), 0);
  EXPECT_TRUE(j.at("first_nonfinite").is_null());
  EXPECT_FALSE(j.at("largest_own_errors").empty());
  EXPECT_TRUE(j.at("passed").get<bool>());
  const Out text = run("compare --reference " + kR20 + " --candidate " + p("r20h") + " --shape data=1,3,32,32");
  EXPECT_NE(text.out.find("top-1 agreement"), std::string::npos) << text.out;
}

TEST_F(CliEngine, BenchPrintsLatencyThroughputAndMemory) {
  const Out r = run("bench --symbol " + kR20 + "-symbol.json --params " + kR20 + "-0000.params --shape data=1,3,32,32 --runs 3 --warmup 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("latency: median"), std::string::npos);
  EXPECT_NE(r.out.find("throughput:"), std::string::npos);
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
