// Interpreter behaviour: outputs do not depend on the thread count or kernel choice, the arena
// reuses dead buffers, calls out of order and bad inputs give a Status, preprocessing follows
// TV11, and one interpreter can run many images.
#include "f8net/rt/interpreter.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <vector>

#include "f8net/rt/preprocess.h"
#include "kernels/kernel-table.h"
#include "support/random.h"
#include "support/tiny-models.h"

namespace rt = f8net::rt;
using f8net::testing::random_bias;
using f8net::testing::random_weights;

namespace {

std::vector<int32_t> outputs(const rt::Interpreter& it) {
  const rt::TensorView o = it.output();
  return std::vector<int32_t>(o.s32(), o.s32() + o.shape.elements());
}

// Big enough that every op is split across threads: 3x40x40 input, 16-channel convs.
rt::ModelDef wide_model(std::mt19937_64& rng) {
  rt::ModelDef m;
  m.metadata.preprocessing.mode = rt::Preprocess::kRaw01;
  m.input = {rt::Shape{3, 40, 40}, rt::DType::kUint8, 8};
  rt::Conv2dParams p;
  p.out_channels = 16;
  p.kernel_h = p.kernel_w = 3;
  p.pad_h = p.pad_w = 1;
  int32_t v =
      rt::add_conv2d(&m, 0, p, random_weights(rng, 16 * 27, 127), random_bias(rng, 16, 1000), {6});
  const int32_t skip = rt::add_relu(&m, v);
  v = rt::add_requantize(&m, skip, 4, false);
  rt::Conv2dParams d = p;
  d.groups = 16;
  v = rt::add_conv2d(&m, v, d, random_weights(rng, 16 * 9, 127), random_bias(rng, 16, 1000), {3});
  v = rt::add_add(&m, v, skip);
  v = rt::add_max_pool(&m, v, 3, 2, 1);
  v = rt::add_global_sum_pool(&m, v, 8);
  v = rt::add_requantize(&m, v, 2, false);
  rt::add_fully_connected(&m, v, 300, random_weights(rng, 300 * 16, 127),
                          random_bias(rng, 300, 1000), {5});
  return m;
}

}  // namespace

TEST(Interpreter, ThreadCountDoesNotChangeOutputs) {
  const uint64_t seed = f8net::testing::test_seed(3001);
  std::mt19937_64 rng(seed);
  const rt::ModelDef m = wide_model(rng);
  std::vector<uint8_t> input(3 * 40 * 40);
  for (uint8_t& x : input) x = static_cast<uint8_t>(rng());
  std::vector<int32_t> first;
  for (int threads : {1, 2, 3, 4, 7, 0}) {
    rt::Interpreter it;
    ASSERT_TRUE(it.load(m).is_ok());
    rt::InterpreterOptions o;
    o.num_threads = threads;
    ASSERT_TRUE(it.prepare(o).is_ok());
    if (threads > 0) {
      EXPECT_EQ(it.num_threads(), threads);
    }
    ASSERT_TRUE(it.set_input(input.data(), input.size()).is_ok());
    ASSERT_TRUE(it.run().is_ok());
    if (first.empty()) {
      first = outputs(it);
    } else {
      EXPECT_EQ(outputs(it), first)
          << "threads=" << threads << " " << f8net::testing::seed_note(seed);
    }
  }
  EXPECT_EQ(first.size(), 300u);
}

TEST(Interpreter, ForcedReferenceGivesTheSameOutputs) {
  std::mt19937_64 rng(f8net::testing::test_seed(3002));
  const rt::ModelDef m = wide_model(rng);
  std::vector<uint8_t> input(3 * 40 * 40, 200);
  std::vector<int32_t> out[2];
  for (int forced = 0; forced < 2; ++forced) {
    rt::Interpreter it;
    ASSERT_TRUE(it.load(m).is_ok());
    rt::InterpreterOptions o;
    o.force_reference = forced == 1;
    ASSERT_TRUE(it.prepare(o).is_ok());
    if (forced) {
      for (int i = 0; i < static_cast<int>(m.ops.size()); ++i) {
        EXPECT_NE(std::string(it.kernel_name(i)).find("__ref"), std::string::npos);
      }
    }
    ASSERT_TRUE(it.set_input(input.data(), input.size()).is_ok());
    ASSERT_TRUE(it.run().is_ok());
    out[forced] = outputs(it);
  }
  EXPECT_EQ(out[0], out[1]);
}

TEST(Interpreter, EnvironmentVariableForcesReference) {
  ::unsetenv("F8NET_FORCE_REFERENCE");
#ifndef F8NET_FORCE_REFERENCE_BUILD
  EXPECT_FALSE(f8net::rt::kernels::reference_forced_by_environment());
#endif
  ::setenv("F8NET_FORCE_REFERENCE", "1", 1);
  EXPECT_TRUE(f8net::rt::kernels::reference_forced_by_environment());
  rt::Interpreter it;
  ASSERT_TRUE(it.load(f8net::testing::tv9_model()).is_ok());
  ASSERT_TRUE(it.prepare({1, false}).is_ok());
  for (int i = 0; i < 6; ++i)
    EXPECT_NE(std::string(it.kernel_name(i)).find("__ref"), std::string::npos);
  ::unsetenv("F8NET_FORCE_REFERENCE");
}

TEST(Interpreter, ArenaLimitIsEnforced) {
  std::mt19937_64 rng(3004);
  rt::Interpreter it;
  ASSERT_TRUE(it.load(wide_model(rng)).is_ok());
  rt::InterpreterOptions o;
  o.num_threads = 1;
  o.max_arena_bytes = 4096;
  const rt::Status s = it.prepare(o);
  EXPECT_EQ(s.code(), rt::StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("arena"), std::string::npos);
  EXPECT_EQ(it.input_data(), nullptr);
}

// A small file can declare a huge input: the multiply-accumulates per image are bounded before
// anything is planned, the message says how to raise the limit, and F8NET_MAX_GMAC overrides it.
TEST(Interpreter, WorkLimitIsEnforced) {
  std::mt19937_64 rng(3005);
  rt::Interpreter it;
  ASSERT_TRUE(it.load(wide_model(rng)).is_ok());
  int64_t macs = 0;
  for (const rt::OpInfo& op : it.graph_info().ops) macs += op.macs + op.wide_multiplications;
  ASSERT_GT(macs, 1000);
  rt::InterpreterOptions o;
  o.num_threads = 1;
  o.max_macs_per_image = static_cast<uint64_t>(macs) - 1;
  rt::Status s = it.prepare(o);
  EXPECT_EQ(s.code(), rt::StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("work limit"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("F8NET_MAX_GMAC"), std::string::npos) << s.message();
  EXPECT_EQ(it.input_data(), nullptr);
  o.max_macs_per_image = static_cast<uint64_t>(macs);  // exactly at the limit is allowed
  EXPECT_TRUE(it.prepare(o).is_ok());

  o.max_macs_per_image = 1;
  ::setenv("F8NET_MAX_GMAC", "0", 1);  // no limit
  EXPECT_TRUE(it.prepare(o).is_ok());
  ::setenv("F8NET_MAX_GMAC", "1e-9", 1);  // one MAC
  EXPECT_EQ(it.prepare(o).code(), rt::StatusCode::kUnsupported);
  ::setenv("F8NET_MAX_GMAC", "lots", 1);
  s = it.prepare(o);
  EXPECT_EQ(s.code(), rt::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("F8NET_MAX_GMAC"), std::string::npos);
  ::unsetenv("F8NET_MAX_GMAC");
}

TEST(Interpreter, ArenaReusesDeadBuffers) {
  std::mt19937_64 rng(3003);
  const rt::ModelDef m = wide_model(rng);
  rt::Interpreter it;
  ASSERT_TRUE(it.load(m).is_ok());
  ASSERT_TRUE(it.prepare({1, false}).is_ok());
  size_t total = 0;
  for (const rt::ValueInfo& v : it.graph_info().values) {
    total += static_cast<size_t>(v.shape.elements()) * rt::dtype_size(v.dtype);
  }
  EXPECT_LT(it.arena_bytes(), total);
  // Input (4800 B) + conv out (102400 B) + relu out (kept for the add) + ... at least 3 live.
  EXPECT_GE(it.arena_bytes(), size_t{4800 + 2 * 102400});
}

TEST(Interpreter, RunsManyImagesWithOnePreparedInterpreter) {
  const rt::ModelDef m = f8net::testing::tv9_model();
  rt::Interpreter it;
  ASSERT_TRUE(it.load(m).is_ok());
  ASSERT_TRUE(it.prepare({2, false}).is_ok());
  for (int rep = 0; rep < 3; ++rep) {
    const uint8_t x = 10;
    ASSERT_TRUE(it.set_input(&x, 1).is_ok());
    ASSERT_TRUE(it.run().is_ok());
    EXPECT_EQ(outputs(it), std::vector<int32_t>{17});
  }
}

TEST(Interpreter, ErrorsAreStatusesNotCrashes) {
  rt::Interpreter it;
  EXPECT_EQ(it.prepare().code(), rt::StatusCode::kFailedPrecondition);
  EXPECT_EQ(it.run().code(), rt::StatusCode::kFailedPrecondition);
  EXPECT_EQ(it.input_data(), nullptr);
  EXPECT_EQ(it.load_file("/nonexistent/model.f8").code(), rt::StatusCode::kIoError);
  rt::ModelDef bad = f8net::testing::tv8_model();
  bad.ops[0].weights[0] = -128;
  EXPECT_EQ(it.load(bad).code(), rt::StatusCode::kInvalidModel);
  ASSERT_TRUE(it.load(f8net::testing::tv8_model()).is_ok());
  EXPECT_EQ(it.prepare({-1, false}).code(), rt::StatusCode::kInvalidArgument);
  ASSERT_TRUE(it.prepare().is_ok());
  const uint8_t three[3] = {1, 2, 3};
  EXPECT_EQ(it.set_input(three, 3).code(), rt::StatusCode::kInvalidArgument);
  EXPECT_EQ(it.set_input(nullptr, 2).code(), rt::StatusCode::kInvalidArgument);
}

TEST(Interpreter, SignedInputRejectsMinus128) {
  rt::ModelDef m;
  m.metadata.preprocessing.mode = rt::Preprocess::kCodes;
  m.input = {rt::Shape{2, 1, 1}, rt::DType::kInt8, 7};
  rt::add_fully_connected(&m, 0, 1, {127, 127}, {0}, {7});
  rt::Interpreter it;
  ASSERT_TRUE(it.load(m).is_ok());
  ASSERT_TRUE(it.prepare({1, false}).is_ok());
  const int8_t ok[2] = {-127, 127};
  ASSERT_TRUE(it.set_input(ok, 2).is_ok());
  ASSERT_TRUE(it.run().is_ok());
  EXPECT_EQ(outputs(it), std::vector<int32_t>{0});
  const int8_t bad[2] = {-128, 1};
  ASSERT_TRUE(it.set_input(bad, 2).is_ok());
  const rt::Status s = it.run();
  EXPECT_EQ(s.code(), rt::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("-128"), std::string::npos);
}

TEST(Preprocess, Tv11RawAndNormalized) {
  rt::InputDef raw{rt::Shape{1, 1, 4}, rt::DType::kUint8, 8};
  rt::Preprocessing pre;
  const uint8_t px[4] = {0, 1, 128, 255};
  uint8_t codes[4] = {};
  ASSERT_TRUE(rt::image_to_codes(px, 1, raw, pre, codes).is_ok());
  EXPECT_EQ(std::vector<uint8_t>(codes, codes + 4), std::vector<uint8_t>({0, 1, 128, 255}));

  rt::InputDef norm{rt::Shape{3, 1, 1}, rt::DType::kInt8, 5};
  pre.mode = rt::Preprocess::kNormalized;
  pre.mean = {{0.485f, 0.456f, 0.406f}};
  pre.std = {{0.229f, 0.224f, 0.225f}};
  const uint8_t rgb[3] = {128, 0, 255};
  int8_t s[3] = {};
  ASSERT_TRUE(rt::image_to_codes(rgb, 3, norm, pre, s).is_ok());
  EXPECT_EQ(s[0], 2);    // TV11: (128/255 - 0.485) / 0.229 = 0.074065 -> *32 = 2.37 -> 2
  EXPECT_EQ(s[1], -65);  // -0.456/0.224 = -2.0357 -> -65.14 -> -65
  EXPECT_EQ(s[2], 84);   // (1 - 0.406)/0.225 = 2.64 -> 84.48 -> 84

  // Gray image into a 3-channel model: only with replicate_gray.
  const uint8_t gray[1] = {128};
  EXPECT_FALSE(rt::image_to_codes(gray, 1, norm, pre, s).is_ok());
  pre.replicate_gray = true;
  ASSERT_TRUE(rt::image_to_codes(gray, 1, norm, pre, s).is_ok());
  EXPECT_EQ(s[0], 2);
  pre.mode = rt::Preprocess::kCodes;
  EXPECT_FALSE(rt::image_to_codes(rgb, 3, norm, pre, s).is_ok());
}
