// `f8net train --nproc 2` as a user runs it: two local ranks train a tiny recipe, only rank 0
// prints (one summary, the JSON object last) and writes the run directory; `train.device: cuda`
// without a CUDA LibTorch is one line and exit 1.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli-runner.h"

namespace {

namespace fs = std::filesystem;
using f8net::testing::count_lines;
using f8net::testing::last_line;
using f8net::testing::slurp;
using f8net::testing::TempDir;
using f8net::testing::write_text;

std::string tiny_recipe(const std::string& data_dir) {
  return "model: {arch: small_cnn, width_mult: 0.5}\n"
         "data: {dataset: fashion-mnist, dir: " +
         data_dir +
         ", workers: 1}\n"
         "pretrain: {mode: fp_pact, epochs: 1, batch_size: 16, lr: 0.05}\n"
         "train: {mode: fixed, epochs: 1, batch_size: 16, lr: 0.02}\n"
         "dist: {timeout_seconds: 30}\n";
}

size_t occurrences(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(DistCli, TwoLocalRanksTrainAndOnlyRankZeroReports) {
  TempDir dir;
  f8net::testing::write_fashion_dir(dir / "data", 96, 32);
  write_text(dir / "r.yaml", tiny_recipe(dir / "data"));
  const auto t = f8net::testing::run_cli("train --config " + (dir / "r.yaml") + " --out " +
                                             (dir / "run") + " --nproc 2 --threads 1 --json",
                                         dir);
  ASSERT_EQ(t.code, 0) << t.err;
  const auto j = nlohmann::json::parse(last_line(t.out));
  EXPECT_EQ(j.at("epochs").get<int>(), 1);
  EXPECT_GE(j.at("top1").get<double>(), 0.0);
  EXPECT_EQ(occurrences(t.out, "Per-layer formats"), 1u) << t.out;
  EXPECT_EQ(occurrences(t.out, "\"pretrain_top1\""), 1u) << t.out;
  EXPECT_TRUE(fs::exists(dir / "run/train-best.pt"));
  EXPECT_EQ(count_lines(slurp(dir / "run/metrics.jsonl")), 2);
}

TEST(DistCli, CudaWithoutACudaLibTorchIsOneLine) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "this LibTorch has CUDA";
  TempDir dir;
  f8net::testing::write_fashion_dir(dir / "data", 32, 16);
  write_text(dir / "r.yaml", tiny_recipe(dir / "data"));
  const auto t = f8net::testing::run_cli(
      "train --config " + (dir / "r.yaml") + " --out " + (dir / "run") + " --set train.device=cuda",
      dir);
  EXPECT_EQ(t.code, 1);
  EXPECT_EQ(count_lines(t.err), 1) << t.err;
  EXPECT_NE(t.err.find("train.device"), std::string::npos) << t.err;
  EXPECT_FALSE(fs::exists(dir / "run/train-last.pt"));
}

}  // namespace
