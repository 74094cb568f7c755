// `f8net export`, `verify`, `inspect` and `eval --model` as a user chains them after training:
// the exported integer model reproduces the checkpoint's exact evaluation bit for bit, has no
// multiplication wider than 8 bits, and evaluates to the same top-1; bad inputs give one line,
// a non-zero exit and no file.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli-runner.h"

namespace {

namespace fs = std::filesystem;
using f8net::testing::CliResult;
using f8net::testing::count_lines;
using f8net::testing::last_line;
using f8net::testing::run_cli;
using f8net::testing::TempDir;

// Trains a tiny fp_pact -> fixed pipeline on generated data; returns the fixed checkpoint.
std::string train_tiny(const TempDir& dir, const std::string& name, int seed,
                       const std::string& quant = "") {
  const std::string recipe = dir / (name + ".yaml");
  f8net::testing::write_text(recipe,
                             "model: {arch: small_cnn, width_mult: 0.5}\n"
                             "data: {dataset: fashion-mnist, dir: " +
                                 (dir / "data") +
                                 "}\n"
                                 "pretrain: {mode: fp_pact, epochs: 1, batch_size: 16, lr: 0.05}\n"
                                 "train: {mode: fixed, epochs: 1, batch_size: 16, lr: 0.01}\n"
                                 "threads: 1\nseed: " +
                                 std::to_string(seed) + "\n" + quant);
  const CliResult t = run_cli("train --config " + recipe + " --out " + (dir / name), dir);
  EXPECT_EQ(t.code, 0) << t.err;
  return dir / (name + "/train-best.pt");
}

TEST(ExportVerifyCli, ExportedModelIsBitExactAndEvaluates) {
  TempDir dir;
  f8net::testing::write_fashion_dir(dir / "data", 96, 32);
  const std::string ckpt = train_tiny(dir, "run", 1995);
  const std::string model = dir / "model.f8";

  const CliResult ex = run_cli("export --checkpoint " + ckpt + " -o " + model + " --json", dir);
  ASSERT_EQ(ex.code, 0) << ex.err;
  ASSERT_TRUE(fs::exists(model));
  EXPECT_EQ(nlohmann::json::parse(last_line(ex.out)).at("wide_multiplications").get<int>(), 0);

  const CliResult in = run_cli("inspect " + model, dir);
  ASSERT_EQ(in.code, 0) << in.err;
  EXPECT_NE(in.out.find("wide multiplications (> 8-bit operands): 0"), std::string::npos) << in.out;

  const CliResult v =
      run_cli("verify --checkpoint " + ckpt + " --model " + model + " --json --threads 1", dir);
  ASSERT_EQ(v.code, 0) << v.err << v.out;
  const auto vj = nlohmann::json::parse(last_line(v.out));
  EXPECT_EQ(vj.at("images").get<int>(), 32);
  EXPECT_EQ(vj.at("bit_exact").get<int>(), 32);
  EXPECT_EQ(vj.at("top1_agree").get<int>(), 32);
  EXPECT_LE(vj.at("top1_agree_float32").get<int>(), 32);

  // The runtime's own evaluation (from raw pixels) gives the verified top-1.
  const CliResult e =
      run_cli("eval --model " + model + " --data " + (dir / "data") + " --json --threads 1", dir);
  ASSERT_EQ(e.code, 0) << e.err;
  const auto ej = nlohmann::json::parse(last_line(e.out));
  EXPECT_EQ(ej.at("images").get<int>(), 32);
  EXPECT_DOUBLE_EQ(ej.at("top1").get<double>(), vj.at("top1_runtime").get<double>());
  EXPECT_GT(ej.at("images_per_second").get<double>(), 0.0);

  // A model exported from another run does not verify against this checkpoint.
  const std::string other = train_tiny(dir, "other", 7);
  const std::string other_model = dir / "other.f8";
  ASSERT_EQ(run_cli("export --checkpoint " + other + " -o " + other_model, dir).code, 0);
  const CliResult bad = run_cli("verify --checkpoint " + ckpt + " --model " + other_model, dir);
  EXPECT_EQ(bad.code, 1);
  EXPECT_EQ(count_lines(bad.err), 1) << bad.err;
  EXPECT_NE(bad.err.find("differ"), std::string::npos) << bad.err;
}

// Word lengths other than 8 (issue 11) through the CLI: 4-bit and 6-bit models (first and last
// layers 8-bit) export with their widths recorded, `inspect` shows them, `verify` is bit-exact;
// their ONNX export is proven and checked bit-exact in ONNX Runtime.
TEST(ExportVerifyCli, NarrowWordLengthsExportAndVerifyBitExact) {
  TempDir dir;
  f8net::testing::write_fashion_dir(dir / "data", 96, 32);
  for (const auto& [w, a] : {std::pair<int, int>{4, 4}, {6, 6}, {4, 8}}) {
    const std::string name = "w" + std::to_string(w) + "a" + std::to_string(a);
    SCOPED_TRACE(name);
    const std::string ckpt = train_tiny(dir, name, 1995,
                                        "quant: {weight_bits: " + std::to_string(w) +
                                            ", activation_bits: " + std::to_string(a) + "}\n");
    const std::string model = dir / (name + ".f8");
    ASSERT_EQ(run_cli("export --checkpoint " + ckpt + " -o " + model, dir).code, 0);
    const CliResult in = run_cli("inspect " + model, dir);
    ASSERT_EQ(in.code, 0) << in.err;
    const std::string act = a == 8 ? "8" : std::to_string(a) + "..8";
    EXPECT_NE(in.out.find("word lengths: weight codes " + std::to_string(w) +
                          "..8 bits, activation codes " + act + " bits (input 8)"),
              std::string::npos)
        << in.out;
    EXPECT_NE(in.out.find("wfl"), std::string::npos);
    EXPECT_NE(in.out.find(" " + std::to_string(w) + "-bit"), std::string::npos) << in.out;
    const CliResult v =
        run_cli("verify --checkpoint " + ckpt + " --model " + model + " --json --threads 1", dir);
    ASSERT_EQ(v.code, 0) << v.err << v.out;
    const auto vj = nlohmann::json::parse(last_line(v.out));
    EXPECT_EQ(vj.at("bit_exact").get<int>(), 32);
    EXPECT_EQ(vj.at("logits_bit_exact").get<int>(), vj.at("logits").get<int>());
    // ONNX: narrow weights and activations convert with the bit-exactness proof, and ONNX
    // Runtime (all optimizations and none) gives the runtime's logits on every test image.
    const std::string onnx_path = dir / (name + ".onnx");
    const CliResult onnx = run_cli("convert " + model + " -o " + onnx_path + " --json", dir);
    ASSERT_EQ(onnx.code, 0) << onnx.err;
    EXPECT_EQ(nlohmann::json::parse(last_line(onnx.out)).at("bit_exact_in_ort").get<bool>(), true)
        << onnx.out;
    const CliResult ov = run_cli("verify --onnx " + onnx_path + " --model " + model + " --data " +
                                     (dir / "data") + " --json --threads 1",
                                 dir);
    ASSERT_EQ(ov.code, 0) << ov.err << ov.out;
    const auto oj = nlohmann::json::parse(last_line(ov.out));
    EXPECT_EQ(oj.at("ort_all").at("bit_exact").get<int>(), 32) << ov.out;
    EXPECT_EQ(oj.at("ort_disabled").at("bit_exact").get<int>(), 32) << ov.out;
  }
}

TEST(ExportVerifyCli, BadInputsGiveOneLineAndNoFile) {
  TempDir dir;
  f8net::testing::write_fashion_dir(dir / "data", 48, 16);
  const std::string ckpt = train_tiny(dir, "run", 3);
  // A float (fp_pact) checkpoint has no integer form.
  const std::string pre = dir / "run/pretrain-best.pt";
  const CliResult f = run_cli("export --checkpoint " + pre + " -o " + (dir / "a.f8"), dir);
  EXPECT_EQ(f.code, 1);
  EXPECT_EQ(count_lines(f.err), 1) << f.err;
  EXPECT_NE(f.err.find("fixed"), std::string::npos) << f.err;
  EXPECT_FALSE(fs::exists(dir / "a.f8"));
  // An unwritable destination, a corrupt checkpoint, a missing model.
  const CliResult w = run_cli("export --checkpoint " + ckpt + " -o " + (dir / "no/such/b.f8"), dir);
  EXPECT_EQ(w.code, 1);
  EXPECT_EQ(count_lines(w.err), 1) << w.err;
  f8net::testing::write_text(dir / "junk.pt", "not a checkpoint");
  const CliResult j =
      run_cli("export --checkpoint " + (dir / "junk.pt") + " -o " + (dir / "c.f8"), dir);
  EXPECT_EQ(j.code, 1);
  EXPECT_EQ(count_lines(j.err), 1) << j.err;
  EXPECT_FALSE(fs::exists(dir / "c.f8"));
  const CliResult m = run_cli("verify --checkpoint " + ckpt + " --model " + (dir / "none.f8"), dir);
  EXPECT_EQ(m.code, 1);
  EXPECT_EQ(count_lines(m.err), 1) << m.err;
  // Usage errors exit 2.
  EXPECT_EQ(run_cli("export --checkpoint " + ckpt, dir).code, 2);
  EXPECT_EQ(run_cli("verify --model x.f8", dir).code, 2);
}

}  // namespace
