// The ONNX commands as a subprocess: `f8net convert` (JSON summary, atomic write, refusal with
// --require-exact, bad input) and, in QAT builds, `f8net verify --onnx` on Fashion-MNIST test
// images with a 28x28 runtime model (ORT vs the interpreter, both optimization levels).
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "f8net/rt/model-file.h"
#include "onnx/ort-harness.h"
#include "support/tiny-models.h"

namespace f8net::testing {
namespace {

std::string cli() { return F8NET_CLI_PATH; }

TEST(OnnxCli, ConvertWritesAndSummarizes) {
  const std::string f8 = temp_dir() + "/cli-cnn.f8", onnx = temp_dir() + "/cli-cnn.onnx";
  ASSERT_TRUE(rt::write_model_file(random_cnn(3, 3), f8).is_ok());
  std::string log;
  ASSERT_EQ(run_command(cli() + " convert " + f8 + " -o " + onnx + " --json", &log), 0) << log;
  EXPECT_NE(log.find("\"bit_exact_in_ort\":true"), std::string::npos) << log;
  EXPECT_NE(log.find("\"integer_convs\":"), std::string::npos) << log;
  expect_checker_accepts(onnx);
  EXPECT_TRUE(no_temporary_left(onnx));
}

TEST(OnnxCli, RequireExactRefusesBeforeWriting) {
  rt::ModelDef m;
  m.input = {rt::Shape{1024, 1, 1}, rt::DType::kUint8, 8};
  m.metadata.preprocessing.mode = rt::Preprocess::kCodes;
  rt::add_fully_connected(&m, 0, 2, std::vector<int8_t>(2048, 127), {0, 0}, {7});
  const std::string f8 = temp_dir() + "/big.f8", onnx = temp_dir() + "/big.onnx";
  ASSERT_TRUE(rt::write_model_file(m, f8).is_ok());
  std::string log;
  EXPECT_EQ(run_command(cli() + " convert " + f8 + " -o " + onnx + " --require-exact", &log), 1);
  EXPECT_NE(log.find("op 0 (FullyConnected)"), std::string::npos) << log;
  EXPECT_FALSE(std::ifstream(onnx).good());
  // Without --require-exact it writes, warns and says bit_exact_in_ort=0.
  EXPECT_EQ(run_command(cli() + " convert " + f8 + " -o " + onnx, &log), 0) << log;
  EXPECT_NE(log.find("bit_exact_in_ort=0"), std::string::npos) << log;
  EXPECT_NE(log.find("warning"), std::string::npos) << log;
}

TEST(OnnxCli, BadModelIsOneErrorLine) {
  const std::string bad = temp_dir() + "/bad.f8";
  std::ofstream(bad) << "not a model";
  std::string log;
  EXPECT_EQ(run_command(cli() + " convert " + bad + " -o " + temp_dir() + "/bad.onnx", &log), 1);
  EXPECT_NE(log.find("convert: " + bad), std::string::npos) << log;
  EXPECT_FALSE(std::ifstream(temp_dir() + "/bad.onnx").good());
}

#ifdef F8NET_TEST_HAVE_QAT
// conv 3x3 -> relu -> max pool 3/3 -> global sum -> requantize -> FC on 1x28x28 raw images
// (every bound below 2^24: 36 * 15 * 255 * 64 < 2^24).
rt::ModelDef fmnist_sized_model() {
  std::mt19937_64 rng(9);
  rt::ModelDef m;
  m.input = {rt::Shape{1, 28, 28}, rt::DType::kUint8, 8};
  rt::Conv2dParams p;
  p.out_channels = 4;
  p.kernel_h = p.kernel_w = 3;
  int32_t v = rt::add_conv2d(&m, 0, p, random_weights(rng, 36, 15), random_bias(rng, 4, 1000), {6});
  v = rt::add_relu(&m, v);
  v = rt::add_max_pool(&m, v, 3, 3, 0);
  v = rt::add_global_sum_pool(&m, v, 6);
  v = rt::add_requantize(&m, v, 6, false);
  rt::add_fully_connected(&m, v, 10, random_weights(rng, 40, 127), random_bias(rng, 10, 100), {7});
  return m;
}

TEST(OnnxCli, VerifyOnnxOnFashionMnistImages) {
  const std::string f8 = temp_dir() + "/fm.f8", onnx = temp_dir() + "/fm.onnx";
  ASSERT_TRUE(rt::write_model_file(fmnist_sized_model(), f8).is_ok());
  std::string log;
  ASSERT_EQ(run_command(cli() + " convert " + f8 + " -o " + onnx, &log), 0) << log;
  ASSERT_EQ(run_command(cli() + " verify --onnx " + onnx + " --model " + f8 +
                            " --limit 300 --json --ort-run " + F8NET_ORT_RUN_JS,
                        &log),
            0)
      << log;
  EXPECT_NE(log.find("\"bit_exact\":true"), std::string::npos) << log;
  EXPECT_NE(log.find("\"ort_all\":{\"bit_exact\":300"), std::string::npos) << log;
  EXPECT_NE(log.find("\"ort_disabled\":{\"bit_exact\":300"), std::string::npos) << log;
}
#endif

}  // namespace
}  // namespace f8net::testing
