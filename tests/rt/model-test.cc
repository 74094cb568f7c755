// The runtime end to end on hand-checked models (F8NET.md TV8, TV9, TV10), random CNNs against
// the whole-graph int64 oracle, lossless writer -> reader round trips, and validation refusing
// hand-built bad models with a message naming the problem.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "f8net/rt/interpreter.h"
#include "f8net/rt/model-file.h"
#include "support/naive-graph.h"
#include "support/random.h"
#include "support/tiny-models.h"

namespace rt = f8net::rt;
using f8net::testing::seed_note;

namespace {

std::vector<int32_t> run_model(const rt::ModelDef& m, const std::vector<uint8_t>& input,
                               std::vector<int32_t>* fl = nullptr, int threads = 1) {
  rt::Interpreter it;
  rt::Status s = it.load(m);
  EXPECT_TRUE(s.is_ok()) << s.message();
  rt::InterpreterOptions o;
  o.num_threads = threads;
  s = it.prepare(o);
  EXPECT_TRUE(s.is_ok()) << s.message();
  s = it.set_input(input.data(), input.size());
  EXPECT_TRUE(s.is_ok()) << s.message();
  s = it.run();
  EXPECT_TRUE(s.is_ok()) << s.message();
  const rt::TensorView out = it.output();
  std::vector<int32_t> r(out.s32(), out.s32() + out.shape.elements());
  if (fl) fl->assign(out.fl, out.fl + out.shape.c);
  return r;
}

std::string validation_error(const rt::ModelDef& m) {
  const rt::Status s = rt::validate_model(m, nullptr);
  return s.is_ok() ? "ok" : s.message();
}

}  // namespace

TEST(Model, Tv8ConvRequantize) {
  rt::GraphInfo info;
  const rt::ModelDef m = f8net::testing::tv8_model();
  ASSERT_TRUE(rt::validate_model(m, &info).is_ok());
  EXPECT_EQ(info.values[1].fl, (std::vector<int32_t>{10, 10}));  // acc FL 6 + 4
  std::vector<int32_t> fl;
  EXPECT_EQ(run_model(m, {52, 129}, &fl), (std::vector<int32_t>{0, 75}));
  EXPECT_EQ(fl, (std::vector<int32_t>{5, 5}));
  // The accumulator itself: drop the requantize and FC.
  rt::ModelDef acc_only = m;
  acc_only.ops.resize(1);
  EXPECT_EQ(run_model(acc_only, {52, 129}), (std::vector<int32_t>{-3041, 2404}));
}

TEST(Model, Tv9ResidualAlignment) {
  const rt::ModelDef m = f8net::testing::tv9_model();
  rt::ModelDef upto_add = m;
  upto_add.ops.resize(3);
  std::vector<int32_t> fl;
  EXPECT_EQ(run_model(upto_add, {10}, &fl), (std::vector<int32_t>{2200}));
  EXPECT_EQ(fl, (std::vector<int32_t>{11}));
  EXPECT_EQ(run_model(m, {10}, &fl), (std::vector<int32_t>{17}));
  EXPECT_EQ(fl, (std::vector<int32_t>{4}));
}

TEST(Model, Tv10AveragePool) {
  std::vector<uint8_t> input(49, 100);
  input[17] = 149;
  std::vector<int32_t> fl;
  EXPECT_EQ(run_model(f8net::testing::tv10_model(false), input, &fl), (std::vector<int32_t>{4949}));
  EXPECT_EQ(fl, (std::vector<int32_t>{16}));
  EXPECT_EQ(run_model(f8net::testing::tv10_model(true), input, &fl), (std::vector<int32_t>{1}));
  EXPECT_EQ(fl, (std::vector<int32_t>{4}));
}

TEST(Model, RandomCnnMatchesWholeGraphOracle) {
  const uint64_t seed = f8net::testing::test_seed(2001);
  std::mt19937_64 rng(seed);
  for (int trial = 0; trial < 6; ++trial) {
    const int32_t channels = trial % 2 ? 3 : 1;
    const rt::ModelDef m = f8net::testing::random_cnn(seed + trial, channels);
    std::vector<uint8_t> input(static_cast<size_t>(channels * 144));
    std::uniform_int_distribution<int> d(0, 255);
    for (uint8_t& x : input) x = static_cast<uint8_t>(trial == 2 ? 255 : d(rng));
    std::vector<int32_t> fl;
    const std::vector<int32_t> got = run_model(m, input, &fl);
    const auto want =
        f8net::testing::naive_run(m, std::vector<int64_t>(input.begin(), input.end()));
    ASSERT_EQ(got.size(), want.data.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want.data[i]) << seed_note(seed);
    for (size_t c = 0; c < fl.size(); ++c) EXPECT_EQ(fl[c], want.fl[c]);
  }
}

TEST(Model, WriteReadRoundTripIsLossless) {
  for (const rt::ModelDef& m : {f8net::testing::tv8_model(), f8net::testing::tv9_model(),
                                f8net::testing::random_cnn(7, 3)}) {
    std::vector<uint8_t> bytes, again;
    ASSERT_TRUE(rt::write_model(m, &bytes).is_ok());
    rt::ModelDef back;
    const rt::Status s = rt::read_model(bytes.data(), bytes.size(), &back);
    ASSERT_TRUE(s.is_ok()) << s.message();
    ASSERT_TRUE(rt::write_model(back, &again).is_ok());
    EXPECT_EQ(bytes, again);
    EXPECT_EQ(back.metadata.name, m.metadata.name);
    EXPECT_EQ(back.metadata.class_names, m.metadata.class_names);
    EXPECT_EQ(back.metadata.provenance, m.metadata.provenance);
    EXPECT_EQ(back.metadata.preprocessing.mode, m.metadata.preprocessing.mode);
    EXPECT_EQ(back.metadata.preprocessing.replicate_gray, m.metadata.preprocessing.replicate_gray);
    EXPECT_EQ(back.input.shape, m.input.shape);
    EXPECT_EQ(back.input.fl, m.input.fl);
    ASSERT_EQ(back.ops.size(), m.ops.size());
    for (size_t i = 0; i < m.ops.size(); ++i) {
      const rt::OpDef& a = m.ops[i];
      const rt::OpDef& b = back.ops[i];
      EXPECT_EQ(a.type, b.type);
      EXPECT_EQ(a.inputs, b.inputs);
      EXPECT_EQ(a.weights, b.weights);
      EXPECT_EQ(a.bias, b.bias);
      EXPECT_EQ(a.weight_fl, b.weight_fl);
      EXPECT_EQ(a.kernel_h, b.kernel_h);
      EXPECT_EQ(a.dilation_w, b.dilation_w);
      EXPECT_EQ(a.groups, b.groups);
      EXPECT_EQ(a.out_fl, b.out_fl);
      EXPECT_EQ(a.out_signed, b.out_signed);
      EXPECT_EQ(a.shift, b.shift);
    }
  }
}

TEST(Model, FileLayoutHasMagicAlignmentAndChecksum) {
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(rt::write_model(f8net::testing::random_cnn(3), &bytes).is_ok());
  EXPECT_EQ(std::memcmp(bytes.data(), "F8NETMDL", 8), 0);
  uint64_t data_offset = 0, checksum = 0;
  for (int i = 7; i >= 0; --i) data_offset = data_offset << 8 | bytes[64 + i];
  for (int i = 7; i >= 0; --i) checksum = checksum << 8 | bytes[24 + i];
  EXPECT_EQ(data_offset % 64, 0u);
  EXPECT_EQ(checksum, rt::fnv1a64(bytes.data() + 128, bytes.size() - 128));
}

TEST(Model, NormalizedMetadataRoundTrips) {
  rt::ModelDef m = f8net::testing::random_cnn(5, 3);
  m.input.dtype = rt::DType::kInt8;
  m.input.fl = 5;
  m.metadata.preprocessing.mode = rt::Preprocess::kNormalized;
  m.metadata.preprocessing.mean = {{0.485f, 0.456f, 0.406f}};
  m.metadata.preprocessing.std = {{0.229f, 0.224f, 0.225f}};
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(rt::write_model(m, &bytes).is_ok());
  rt::ModelDef back;
  ASSERT_TRUE(rt::read_model(bytes.data(), bytes.size(), &back).is_ok());
  EXPECT_EQ(back.metadata.preprocessing.mean, m.metadata.preprocessing.mean);
  EXPECT_EQ(back.metadata.preprocessing.std, m.metadata.preprocessing.std);
  EXPECT_EQ(back.input.dtype, rt::DType::kInt8);
}

TEST(Validate, RefusesBadModelsWithAClearMessage) {
  using f8net::testing::tv8_model;
  auto expect_error = [](const rt::ModelDef& m, const std::string& needle) {
    const std::string msg = validation_error(m);
    EXPECT_NE(msg.find(needle), std::string::npos) << "got: " << msg << " / wanted: " << needle;
  };
  rt::ModelDef m = tv8_model();
  m.ops[0].weights[1] = -128;
  expect_error(m, "weight code -128");
  m = tv8_model();
  m.ops[0].bias[0] = INT32_MIN;
  expect_error(m, "bias of channel 0");
  m = tv8_model();
  m.ops[0].weight_fl[0] = 8;
  expect_error(m, "weight FL 8");
  m = tv8_model();
  m.ops[1].out_fl = 9;
  expect_error(m, "output FL 9");
  m = tv8_model();
  m.ops[1].inputs[0] = 2;
  expect_error(m, "not an earlier value");
  m = tv8_model();
  m.ops[1].inputs[0] = 0;  // requantize of codes
  expect_error(m, "must be an int32 accumulator");
  m = tv8_model();
  m.ops[0].weights.pop_back();
  expect_error(m, "expected 4");
  m = tv8_model();
  m.ops[0].groups = 3;
  expect_error(m, "groups 3");
  m = tv8_model();
  m.ops[0].stride_h = 0;
  expect_error(m, "stride");
  m = tv8_model();
  m.ops[0].kernel_h = 3;  // 3x1 kernel on a 1x1 input without padding
  expect_error(m, "kernel larger");
  m = tv8_model();
  m.ops[2].shift = 1;  // FC carrying a pool shift
  expect_error(m, "shift it does not use");
  m = tv8_model();
  m.input.fl = 8;
  m.ops[0].weights = {127, 127, 0, 0};  // channel 0: sum|w| = 254, max|x| = 255
  m.ops[0].bias[0] = static_cast<int32_t>((int64_t{1} << 31) - 1 - 254 * 255);
  EXPECT_EQ(validation_error(m), "ok");  // bound = 2^31 - 1: allowed
  m.ops[0].bias[0] += 1;
  const rt::Status s = rt::validate_model(m, nullptr);
  EXPECT_EQ(s.code(), rt::StatusCode::kOverflow);
  EXPECT_NE(s.message().find("can overflow int32"), std::string::npos) << s.message();
  m = tv8_model();
  m.ops.resize(2);  // ends in codes
  expect_error(m, "int32 logits");
  m = tv8_model();
  m.metadata.class_names = {"a", "b", "c"};
  expect_error(m, "3 class names");
  m = tv8_model();
  m.input.shape.h = 70000;
  expect_error(m, "outside [1, 65535]");
  m = tv8_model();
  m.input.shape = {65535, 65535, 65535};
  expect_error(m, "elements");
  m = tv8_model();
  m.input.fl = 9;
  expect_error(m, "input FL 9");
  m = tv8_model();
  m.metadata.preprocessing.mode = rt::Preprocess::kRaw01;
  expect_error(m, "raw01 needs a uint8 input at FL 8");
  m = tv8_model();
  m.ops[0].type = static_cast<rt::OpType>(99);
  expect_error(m, "unknown op type 99");
}

TEST(Validate, ConvOutputChannelsMustMatchForDepthwise) {
  rt::ModelDef m;
  m.metadata.preprocessing.mode = rt::Preprocess::kCodes;
  m.input = {rt::Shape{4, 5, 5}, rt::DType::kUint8, 8};
  rt::Conv2dParams p;
  p.out_channels = 8;
  p.groups = 4;
  rt::add_conv2d(&m, 0, p, std::vector<int8_t>(8, 1), std::vector<int32_t>(8, 0), {0});
  EXPECT_NE(validation_error(m).find("depthwise"), std::string::npos) << validation_error(m);
}

TEST(Validate, AddChecksShapesAndAlignsFls) {
  rt::ModelDef m = f8net::testing::tv9_model();
  rt::GraphInfo info;
  ASSERT_TRUE(rt::validate_model(m, &info).is_ok());
  EXPECT_EQ(info.values[3].fl, (std::vector<int32_t>{11}));
  EXPECT_EQ(info.ops[0].macs, 1);
  EXPECT_EQ(info.ops[0].wide_multiplications, 0);
  EXPECT_EQ(info.ops[0].accumulator_bound, 5 * 255 + 4950);
}
