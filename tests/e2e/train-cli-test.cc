// `f8net train` and `f8net eval --checkpoint` as a user runs them: --help, usage errors (exit 2),
// a tiny two-stage run and its evaluation with --json on generated data, and bad inputs giving
// one line on stderr, a non-zero exit and no clobbered files.
#include <gtest/gtest.h>

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
using Result = f8net::testing::CliResult;

Result run(const std::string& args, const TempDir& dir) {
  return f8net::testing::run_cli(args, dir);
}

// A tiny recipe on generated data: fp_pact 1 epoch, fixed 1 epoch.
std::string tiny_recipe(const std::string& data_dir) {
  return "model: {arch: small_cnn, width_mult: 0.5}\n"
         "data: {dataset: fashion-mnist, dir: " +
         data_dir +
         "}\n"
         "pretrain: {mode: fp_pact, epochs: 1, batch_size: 16, lr: 0.05}\n"
         "train: {mode: fixed, epochs: 1, batch_size: 16, lr: 0.01}\n"
         "threads: 1\n";
}

TEST(TrainCli, HelpListsTheOptions) {
  TempDir dir;
  const Result r = run("train --help", dir);
  EXPECT_EQ(r.code, 0);
  for (const char* opt : {"--config", "--set", "--out", "--resume", "--threads", "--json"}) {
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
  }
}

TEST(TrainCli, UsageErrorsExitWithTwo) {
  TempDir dir;
  write_text(dir / "r.yaml", tiny_recipe(dir / "data"));
  for (const std::string& args :
       {"train --config " + (dir / "r.yaml"),  // no --out
        "train --out " + (dir / "o"),          // no --config
        "train --config " + (dir / "r.yaml") + " --out " + (dir / "o") + " --resume",
        "train --config " + (dir / "r.yaml") + " --out " + (dir / "o") + " --bogus"}) {
    const Result r = run(args, dir);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(dir / "o"));
}

TEST(TrainCli, TinyTrainThenEvalWithJson) {
  TempDir dir;
  f8net::testing::write_fashion_dir(dir / "data", 96, 32);
  write_text(dir / "r.yaml", tiny_recipe(dir / "data"));
  const Result t = run("train --config " + (dir / "r.yaml") + " --set train.lr=0.02 --out " +
                           (dir / "run") + " --json",
                       dir);
  ASSERT_EQ(t.code, 0) << t.err;
  const auto j = nlohmann::json::parse(last_line(t.out));
  EXPECT_GE(j.at("top1").get<double>(), 0.0);
  EXPECT_LE(j.at("top1").get<double>(), 100.0);
  EXPECT_GE(j.at("top5").get<double>(), j.at("top1").get<double>());
  EXPECT_EQ(j.at("epochs").get<int>(), 1);
  const std::string ckpt = j.at("checkpoint").get<std::string>();
  EXPECT_TRUE(fs::exists(ckpt)) << ckpt;
  EXPECT_FALSE(j.at("layers").empty());
  EXPECT_NE(t.out.find("Per-layer formats"), std::string::npos);
  EXPECT_EQ(count_lines(slurp(dir / "run/metrics.jsonl")), 2);
  EXPECT_NE(slurp(dir / "run/config.yaml").find("lr: 0.02"), std::string::npos);

  const Result e = run("eval --checkpoint " + ckpt + " --json --threads 1", dir);
  ASSERT_EQ(e.code, 0) << e.err;
  const auto ej = nlohmann::json::parse(last_line(e.out));
  EXPECT_EQ(ej.at("images").get<int>(), 32);
  EXPECT_DOUBLE_EQ(ej.at("top1").get<double>(), j.at("top1").get<double>());
  EXPECT_GE(ej.at("top5").get<double>(), ej.at("top1").get<double>());
  EXPECT_GT(ej.at("loss").get<double>(), 0.0);

  // The run directory is not overwritten by a second train.
  const std::string before = slurp(dir / "run/config.yaml");
  const Result again =
      run("train --config " + (dir / "r.yaml") + " --set train.lr=0.5 --out " + (dir / "run"), dir);
  EXPECT_EQ(again.code, 1);
  EXPECT_EQ(count_lines(again.err), 1) << again.err;
  EXPECT_NE(again.err.find("--resume"), std::string::npos) << again.err;
  EXPECT_EQ(slurp(dir / "run/config.yaml"), before);

  // Evaluating on data that does not fit the model is refused.
  f8net::testing::write_fashion_dir(dir / "big", 16, 16, 20);
  const Result misfit = run("eval --checkpoint " + ckpt + " --data " + (dir / "big"), dir);
  EXPECT_EQ(misfit.code, 1);
  EXPECT_EQ(count_lines(misfit.err), 1) << misfit.err;
  EXPECT_NE(misfit.err.find("20-pixel"), std::string::npos) << misfit.err;
}

TEST(TrainCli, BadInputsGiveOneLineAndNoFiles) {
  TempDir dir;
  f8net::testing::write_fashion_dir(dir / "data", 32, 16);
  write_text(dir / "r.yaml", tiny_recipe(dir / "data"));
  write_text(dir / "unknown.yaml", tiny_recipe(dir / "data") + "optimizer: adam\n");
  write_text(dir / "type.yaml", tiny_recipe(dir / "data") + "seed: many\n");
  write_text(dir / "arch.yaml", "model: {arch: alexnet}\ndata: {dir: " + (dir / "data") + "}\n");
  write_text(dir / "nodata.yaml", tiny_recipe(dir / "absent"));
  struct Case {
    std::string args, expect;
  };
  fs::create_directories(dir / "bad");
  f8net::testing::write_fashion_dir(dir / "bad", 32, 16);
  f8net::testing::write_bytes(dir / "bad/t10k-labels-idx1-ubyte.gz", {0, 0, 8, 1, 0, 0}, true);
  write_text(dir / "corrupt.yaml", tiny_recipe(dir / "bad"));
  const std::vector<Case> cases = {
      {"--config " + (dir / "unknown.yaml"), "unknown key 'optimizer'"},
      {"--config " + (dir / "type.yaml"), "key 'seed': expected an integer"},
      {"--config " + (dir / "arch.yaml"), "unknown model 'alexnet'"},
      {"--config " + (dir / "nodata.yaml"), "not found"},
      {"--config " + (dir / "corrupt.yaml"), "t10k-labels-idx1-ubyte.gz"},
      {"--config " + (dir / "r.yaml") + " --set train.epochs=x", "key 'train.epochs'"},
  };
  for (const auto& c : cases) {
    const Result r = run("train " + c.args + " --out " + (dir / "out"), dir);
    EXPECT_EQ(r.code, 1) << c.args << "\n" << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_FALSE(fs::exists(dir / "out")) << c.args;
  }
}

TEST(TrainCli, UnwritableOutputAndCorruptCheckpointGiveOneLine) {
  TempDir dir;
  f8net::testing::write_fashion_dir(dir / "data", 32, 16);
  write_text(dir / "r.yaml", tiny_recipe(dir / "data"));
  // An output directory that cannot be created (its parent is a file).
  {
    const Result r =
        run("train --config " + (dir / "r.yaml") + " --out " + (dir / "r.yaml/run"), dir);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("r.yaml/run"), std::string::npos) << r.err;
  }
  // A corrupt checkpoint.
  write_text(dir / "x.pt", "not a checkpoint");
  const Result e = run("eval --checkpoint " + (dir / "x.pt"), dir);
  EXPECT_EQ(e.code, 1);
  EXPECT_EQ(count_lines(e.err), 1) << e.err;
  EXPECT_NE(e.err.find("x.pt"), std::string::npos) << e.err;
}

}  // namespace
