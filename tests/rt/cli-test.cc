// The runtime-only CLI commands end to end (the f8net binary, found through F8NET_CLI_PATH):
// inspect (table, totals, JSON, zero wide multiplications), run (top-k on a PGM image), eval
// --model on generated IDX .gz files (top-1/top-5 equal to what the interpreter computes here),
// and bad inputs: exit code 1 (2 for usage) with exactly one line on stderr.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "f8net/rt/interpreter.h"
#include "f8net/rt/model-file.h"
#include "support/model-zoo.h"
#include "support/tiny-models.h"

namespace rt = f8net::rt;

namespace {

struct CliResult {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  for (std::string l; std::getline(ss, l);) v.push_back(l);
  return v;
}

class Cli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = ::testing::TempDir() + "f8net-cli-test-" + std::to_string(::getpid());
    ASSERT_EQ(std::system(("mkdir -p " + dir_).c_str()), 0);
    model_ = f8net::testing::random_cnn(21, 1);
    ASSERT_TRUE(rt::write_model_file(model_, dir_ + "/model.f8").is_ok());
  }
  static void TearDownTestSuite() { std::system(("rm -rf " + dir_).c_str()); }

  static CliResult cli(const std::string& args) {
    const std::string out = dir_ + "/stdout.txt", err = dir_ + "/stderr.txt";
    const std::string cmd = std::string(F8NET_CLI_PATH) + " " + args + " >" + out + " 2>" + err;
    const int status = std::system(cmd.c_str());
    CliResult r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  // Predicted ranking of `pixels` (one 12x12 gray image) by the interpreter, best first.
  static std::vector<int> ranking(const std::vector<uint8_t>& pixels) {
    rt::Interpreter it;
    EXPECT_TRUE(it.load(model_).is_ok());
    EXPECT_TRUE(it.prepare({1, false}).is_ok());
    EXPECT_TRUE(it.set_input(pixels.data(), pixels.size()).is_ok());
    EXPECT_TRUE(it.run().is_ok());
    const rt::TensorView o = it.output();
    std::vector<int> idx(static_cast<size_t>(o.shape.c));
    std::iota(idx.begin(), idx.end(), 0);
    auto value = [&](int c) { return std::ldexp(static_cast<double>(o.s32()[c]), -o.fl[c]); };
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return value(a) > value(b); });
    return idx;
  }

  static void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
    gzclose(f);
  }

  static void expect_one_line_error(const CliResult& r, int code, const std::string& needle) {
    EXPECT_EQ(r.code, code) << r.err;
    EXPECT_EQ(lines(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  }

  static std::string dir_;
  static rt::ModelDef model_;
};
std::string Cli::dir_;
rt::ModelDef Cli::model_;

void put_be32(std::vector<uint8_t>* b, uint32_t v) {
  for (int i = 3; i >= 0; --i) b->push_back(static_cast<uint8_t>(v >> (8 * i)));
}

}  // namespace

TEST_F(Cli, InspectPrintsEveryOpAndZeroWideMultiplications) {
  const CliResult r = cli("inspect " + dir_ + "/model.f8 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  const auto out = lines(r.out);
  size_t op_lines = 0;
  for (const std::string& l : out) {
    for (const char* op :
         {"Conv2d", "Relu", "MaxPool", "Requantize", "Add", "GlobalSumPool", "FullyConnected"}) {
      if (l.find(op) != std::string::npos && l.find('{') == std::string::npos) {
        ++op_lines;
        break;
      }
    }
  }
  EXPECT_EQ(op_lines, model_.ops.size());
  EXPECT_NE(r.out.find("wide multiplications (> 8-bit operands): 0"), std::string::npos) << r.out;
  const std::string& json = out.back();
  EXPECT_EQ(json.front(), '{');
  EXPECT_NE(json.find("\"wide_multiplications\":0}"), std::string::npos) << json;
  rt::GraphInfo info;
  ASSERT_TRUE(rt::validate_model(model_, &info).is_ok());
  int64_t macs = 0;
  for (const rt::OpInfo& o : info.ops) macs += o.macs;
  EXPECT_NE(json.find("\"macs\":" + std::to_string(macs) + ","), std::string::npos) << json;
  // Packed weight bytes of the chosen engine: none on the op-by-op reference, some when fused.
  const bool ref = json.find("\"isa\":\"ref\"") != std::string::npos;
  EXPECT_EQ(json.find("\"packed_bytes\":0,") != std::string::npos, ref) << json;
}

TEST_F(Cli, RunPrintsTopKClassNames) {
  std::vector<uint8_t> px(144);
  std::mt19937 rng(5);
  for (uint8_t& p : px) p = static_cast<uint8_t>(rng());
  std::string pgm = "P5\n# test image\n12 12\n255\n";
  pgm.append(px.begin(), px.end());
  std::ofstream(dir_ + "/img.pgm", std::ios::binary) << pgm;
  const CliResult r =
      cli("run --model " + dir_ + "/model.f8 --top 3 --threads 2 " + dir_ + "/img.pgm");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<int> want = ranking(px);
  const auto out = lines(r.out);
  ASSERT_EQ(out.size(), 4u) << r.out;
  for (int k = 0; k < 3; ++k) {
    EXPECT_NE(
        out[static_cast<size_t>(k + 1)].find(std::to_string(k + 1) + ". class" +
                                             std::to_string(want[static_cast<size_t>(k)]) + " "),
        std::string::npos)
        << out[static_cast<size_t>(k + 1)];
  }
}

TEST_F(Cli, RunReportsEveryImageAndFailsAtTheEndWhenOneIsBad) {
  std::vector<uint8_t> px(144, 7);
  std::string pgm = "P5\n12 12\n255\n";
  pgm.append(px.begin(), px.end());
  std::ofstream(dir_ + "/good.pgm", std::ios::binary) << pgm;
  const CliResult r = cli("run --model " + dir_ + "/model.f8 --top 2 --json " + dir_ +
                          "/missing.png " + dir_ + "/good.pgm");
  EXPECT_EQ(r.code, 1) << r.err;
  // The good image is still classified and printed; the bad one has its own stderr line.
  EXPECT_NE(r.out.find(dir_ + "/good.pgm:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1. class" + std::to_string(ranking(px)[0]) + " "), std::string::npos)
      << r.out;
  const auto err = lines(r.err);
  ASSERT_EQ(err.size(), 2u) << r.err;
  EXPECT_NE(err[0].find("missing.png"), std::string::npos) << r.err;
  EXPECT_NE(err[1].find("1 of 2 images"), std::string::npos) << r.err;
  const nlohmann::json j = nlohmann::json::parse(lines(r.out).back());
  EXPECT_EQ(j.at("failed"), 1) << r.out;
  ASSERT_EQ(j.at("results").size(), 2u) << r.out;
  EXPECT_NE(j["results"][0].at("error").get<std::string>().find("missing.png"), std::string::npos);
  EXPECT_EQ(j["results"][1].at("top").size(), 2u) << r.out;
}

TEST_F(Cli, InspectEscapesControlCharactersFromTheFile) {
  rt::ModelDef m = model_;
  m.metadata.name = "evil\x1b[2J\rname";
  m.metadata.provenance = {{"note",
                            "a\x07"
                            "b"}};  // split: \x07b would be one escape
  ASSERT_TRUE(rt::write_model_file(m, dir_ + "/evil.f8").is_ok());
  const CliResult r = cli("inspect " + dir_ + "/evil.f8");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
  EXPECT_EQ(r.out.find('\x07'), std::string::npos);
  EXPECT_EQ(r.out.find('\r'), std::string::npos);
  EXPECT_NE(r.out.find("evil\\x1b[2J\\x0dname"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("a\\x07b"), std::string::npos) << r.out;
}

TEST_F(Cli, EvalModelOnIdxFilesMatchesTheInterpreter) {
  const int n = 20;
  std::vector<uint8_t> images, labels;
  put_be32(&images, 0x803);
  put_be32(&images, n);
  put_be32(&images, 12);
  put_be32(&images, 12);
  put_be32(&labels, 0x801);
  put_be32(&labels, n);
  std::mt19937 rng(9);
  int top1 = 0, top5 = 0;
  for (int i = 0; i < n; ++i) {
    std::vector<uint8_t> px(144);
    for (uint8_t& p : px) p = static_cast<uint8_t>(rng());
    images.insert(images.end(), px.begin(), px.end());
    const std::vector<int> rank = ranking(px);
    // Labels: the prediction, the 3rd choice, or the last choice.
    const int label = i % 3 == 0 ? rank[0] : i % 3 == 1 ? rank[2] : rank.back();
    labels.push_back(static_cast<uint8_t>(label));
    top1 += label == rank[0];
    top5 += std::find(rank.begin(), rank.begin() + 5, label) != rank.begin() + 5;
  }
  const std::string data = dir_ + "/idx";
  ASSERT_EQ(std::system(("mkdir -p " + data).c_str()), 0);
  write_gz(data + "/t10k-images-idx3-ubyte.gz", images);
  write_gz(data + "/t10k-labels-idx1-ubyte.gz", labels);
  const CliResult r =
      cli("eval --model " + dir_ + "/model.f8 --data " + data + " --json --threads 3");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string json = lines(r.out).back();
  const nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  ASSERT_TRUE(j.is_object()) << json;
  // The JSON rounds percentages to 4 decimals; one image more or less moves them by far more.
  EXPECT_NEAR(j.value("top1", -1.0), 100.0 * top1 / n, 5.1e-5) << json;
  EXPECT_NEAR(j.value("top5", -1.0), 100.0 * top5 / n, 5.1e-5) << json;
  EXPECT_EQ(j.value("images", -1), n) << json;
  EXPECT_GT(j.value("images_per_second", 0.0), 0.0) << json;

  // A truncated image file: one clear line, exit 1.
  images.resize(images.size() - 7);
  write_gz(data + "/t10k-images-idx3-ubyte.gz", images);
  expect_one_line_error(cli("eval --model " + dir_ + "/model.f8 --data " + data), 1, "data bytes");
  // Zero images: an error, not "0 %" with exit 0.
  {
    std::vector<uint8_t> none_img, none_lab;
    for (uint32_t v : {0x00000803u, 0u, 12u, 12u}) put_be32(&none_img, v);
    for (uint32_t v : {0x00000801u, 0u}) put_be32(&none_lab, v);
    const std::string empty = dir_ + "/empty-data";
    ASSERT_EQ(std::system(("mkdir -p " + empty).c_str()), 0);
    write_gz(empty + "/t10k-images-idx3-ubyte.gz", none_img);
    write_gz(empty + "/t10k-labels-idx1-ubyte.gz", none_lab);
    expect_one_line_error(cli("eval --model " + dir_ + "/model.f8 --data " + empty), 1,
                          "no images");
  }
  // Wrong magic.
  images[3] = 0x01;
  write_gz(data + "/t10k-images-idx3-ubyte.gz", images);
  expect_one_line_error(cli("eval --model " + dir_ + "/model.f8 --data " + data), 1, "magic");
}

TEST_F(Cli, EvalModelReadsTheInstalledFashionMnistByDefault) {
  const std::string images = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  if (!std::ifstream(images)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  // A 28x28 model: conv 3x3 -> relu -> global sum -> requantize -> FC (10 classes).
  std::mt19937_64 rng(31);
  rt::ModelDef m;
  m.metadata.preprocessing.mode = rt::Preprocess::kRaw01;
  m.input = {rt::Shape{1, 28, 28}, rt::DType::kUint8, 8};
  rt::Conv2dParams p;
  p.out_channels = 4;
  p.kernel_h = p.kernel_w = 3;
  int32_t v = rt::add_conv2d(&m, 0, p, f8net::testing::random_weights(rng, 36, 50),
                             f8net::testing::random_bias(rng, 4, 1000), {6});
  v = rt::add_global_sum_pool(&m, rt::add_relu(&m, v), 10);
  v = rt::add_requantize(&m, v, 4, false);
  rt::add_fully_connected(&m, v, 10, f8net::testing::random_weights(rng, 40, 127),
                          f8net::testing::random_bias(rng, 10, 100), {6});
  ASSERT_TRUE(rt::write_model_file(m, dir_ + "/fm.f8").is_ok());
  const CliResult r = cli("eval --model " + dir_ + "/fm.f8 --limit 300 --json --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(lines(r.out).back().find("\"images\":300,"), std::string::npos) << r.out;
}

TEST_F(Cli, BadInputsGiveOneLineAndTheRightExitCode) {
  expect_one_line_error(cli("inspect " + dir_ + "/missing.f8"), 1, "cannot open");
  std::string bytes = slurp(dir_ + "/model.f8");
  bytes[bytes.size() / 2] ^= 0x10;
  std::ofstream(dir_ + "/corrupt.f8", std::ios::binary) << bytes;
  expect_one_line_error(cli("inspect " + dir_ + "/corrupt.f8"), 1, "checksum");
  expect_one_line_error(cli("run --model " + dir_ + "/corrupt.f8 x.png"), 1, "checksum");
  expect_one_line_error(cli("eval --model " + dir_ + "/model.f8 --data " + dir_ + "/nodata"), 1,
                        "cannot open");
  expect_one_line_error(cli("run --model " + dir_ + "/model.f8 " + dir_ + "/none.png"), 1,
                        "cannot open");
  expect_one_line_error(cli("run " + dir_ + "/img.pgm"), 2, "--model");
  expect_one_line_error(cli("eval"), 2, "exactly one of --model and --checkpoint");
  expect_one_line_error(cli("run --model " + dir_ + "/model.f8 --top 0 x"), 2, "--top");
  // Thread counts are bounded (10000 threads used to take minutes to create).
  expect_one_line_error(cli("run --model " + dir_ + "/model.f8 --threads 10000 x"), 2, "--threads");
  expect_one_line_error(cli("eval --model " + dir_ + "/model.f8 --threads 10000"), 2, "--threads");
}

// A small file that declares a huge input (the small CNN at 2048x2048: ~46 GMAC per image) is
// refused at load with the work limit and how to raise it, before any buffer is allocated.
TEST_F(Cli, AHugeInputIsRefusedByTheWorkLimit) {
  f8net::testing::ZooOptions o;
  o.size = 2048;
  o.classes = 10;
  ASSERT_TRUE(rt::write_model_file(f8net::testing::zoo_small_cnn(o), dir_ + "/huge.f8").is_ok());
  const CliResult r = cli("run --model " + dir_ + "/huge.f8 " + dir_ + "/none.png");
  expect_one_line_error(r, 1, "work limit");
  EXPECT_NE(r.err.find("F8NET_MAX_GMAC"), std::string::npos) << r.err;
  expect_one_line_error(cli("bench --model " + dir_ + "/huge.f8"), 1, "work limit");
}
