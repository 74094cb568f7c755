// Whole zoo models (tests/support/model-zoo.h, every family, small sizes) give byte-identical
// int32 logits under every ISA this machine has, at 1, 2 and 3 threads, against the op-by-op
// reference engine; plus edge graphs for the fusion planner (an Add whose operands come in
// either order, a value read twice, a spatial int32 output, signed input codes).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "f8net/rt/interpreter.h"
#include "kernels/kernel-table.h"
#include "support/model-zoo.h"
#include "support/random.h"
#include "support/tiny-models.h"

namespace rt = f8net::rt;
namespace t = f8net::testing;

namespace {

std::vector<uint8_t> random_input(const rt::ModelDef& m, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const bool s = m.input.dtype == rt::DType::kInt8;
  std::uniform_int_distribution<int> d(s ? -127 : 0, s ? 127 : 255);
  std::vector<uint8_t> x(static_cast<size_t>(m.input.shape.elements()));
  for (uint8_t& v : x) v = static_cast<uint8_t>(static_cast<int8_t>(d(rng)));
  if (!s) {
    for (uint8_t& v : x) v = static_cast<uint8_t>(d(rng));
  }
  return x;
}

// Logits bytes of `m` on `input` under isa/threads; empty when prepare refuses.
std::vector<uint8_t> logits(const rt::ModelDef& m, const std::vector<uint8_t>& input,
                            const std::string& isa, int threads, std::string* kernels = nullptr) {
  rt::Interpreter it;
  EXPECT_TRUE(it.load(m).is_ok());
  rt::InterpreterOptions o;
  o.num_threads = threads;
  o.isa = isa;
  const rt::Status s = it.prepare(o);
  EXPECT_TRUE(s.is_ok()) << s.message();
  if (!s.is_ok()) return {};
  EXPECT_EQ(std::string(it.isa()), isa);
  EXPECT_TRUE(it.set_input(input.data(), input.size()).is_ok());
  EXPECT_TRUE(it.run().is_ok());
  const rt::TensorView out = it.output();
  const auto* p = static_cast<const uint8_t*>(out.data);
  if (kernels != nullptr) {
    for (size_t i = 0; i < m.ops.size(); ++i)
      *kernels += std::string(it.kernel_name(static_cast<int>(i))) + " ";
  }
  return std::vector<uint8_t>(p, p + out.bytes());
}

std::vector<std::string> machine_isas() {
  std::vector<std::string> out;
  for (auto isa : {rt::kernels::Isa::kAvx2, rt::kernels::Isa::kAvx512,
                   rt::kernels::Isa::kAvx512Vnni, rt::kernels::Isa::kAvxVnni}) {
    if (rt::kernels::isa_available(isa)) out.push_back(rt::kernels::isa_name(isa));
  }
  return out;
}

void expect_all_isas_equal(const rt::ModelDef& m, uint64_t seed) {
  const std::vector<uint8_t> x = random_input(m, seed);
  const std::vector<uint8_t> want = logits(m, x, "ref", 1);
  ASSERT_FALSE(want.empty());
  for (const std::string& isa : machine_isas()) {
    for (int threads : {1, 2, 3}) {
      std::string kernels;
      EXPECT_TRUE(logits(m, x, isa, threads, &kernels) == want)
          << m.metadata.name << " isa " << isa << " threads " << threads << " kernels " << kernels;
    }
  }
}

}  // namespace

TEST(Zoo, EveryFamilyEveryIsaEveryThreadCount) {
  const uint64_t seed = t::test_seed(2026);
  struct Case {
    std::string name;
    int32_t size;
    double width;
  };
  for (const Case& c : {Case{"small-cnn", 28, 1.0}, Case{"resnet20", 32, 0.5},
                        Case{"resnet18", 64, 0.25}, Case{"resnet50", 48, 0.125},
                        Case{"mobilenet-v1", 64, 0.25}, Case{"mobilenet-v2", 64, 0.35}}) {
    t::ZooOptions o;
    o.size = c.size;
    o.width = c.width;
    o.classes = 37;
    o.seed = seed;
    rt::ModelDef m;
    ASSERT_TRUE(t::zoo_model(c.name, o, &m));
    ASSERT_TRUE(rt::validate_model(m, nullptr).is_ok()) << c.name;
    SCOPED_TRACE(c.name + " " + t::seed_note(seed));
    expect_all_isas_equal(m, seed + 1);
  }
}

TEST(Zoo, TinyModelsAndFusionEdges) {
  expect_all_isas_equal(t::tv8_model(), 1);
  expect_all_isas_equal(t::tv9_model(), 2);
  expect_all_isas_equal(t::tv10_model(false), 3);  // spatial-free int32 output after a sum
  expect_all_isas_equal(t::tv10_model(true), 4);
  for (uint64_t s = 0; s < 4; ++s) {
    expect_all_isas_equal(t::random_cnn(s, 1), 10 + s);
    expect_all_isas_equal(t::random_cnn(s, 3), 20 + s);
  }
  // A spatial int32 output (conv last), signed input, a value read twice (add(x, x)).
  rt::ModelDef m;
  m.input = {rt::Shape{5, 9, 7}, rt::DType::kInt8, 6};
  m.metadata.preprocessing.mode = rt::Preprocess::kCodes;
  std::mt19937_64 rng(5);
  rt::Conv2dParams p;
  p.out_channels = 19;
  p.kernel_h = 3;
  p.kernel_w = 2;
  p.stride_h = 2;
  p.pad_h = 1;
  p.pad_w = 1;
  p.dilation_w = 2;
  int32_t v = rt::add_conv2d(&m, 0, p, t::random_weights(rng, 19 * 5 * 6, 127),
                             t::random_bias(rng, 19, 100000), {3});
  v = rt::add_add(&m, v, v);
  const int32_t r = rt::add_requantize(&m, v, 2, true);
  rt::Conv2dParams q;
  q.out_channels = 70;
  const int32_t c2 = rt::add_conv2d(&m, r, q, t::random_weights(rng, 70 * 19, 127),
                                    t::random_bias(rng, 70, 100000), {4});
  rt::add_relu(&m, c2);
  expect_all_isas_equal(m, 6);
}

// One int32 value requantized four times: twice to the same codes, once to another FL and once to
// another word length. The fused engine writes the first codes from the conv's registers beside
// the int32 value (both convs read them: the two Requantize ops join the conv's stage); the other
// two are stages of their own. Same bytes as the reference under every ISA.
TEST(Zoo, RepeatedRequantizeOfOneValue) {
  rt::ModelDef m;
  m.input = {rt::Shape{6, 10, 10}, rt::DType::kUint8, 8};
  m.metadata.preprocessing.mode = rt::Preprocess::kCodes;
  std::mt19937_64 rng(9);
  rt::Conv2dParams p;
  p.out_channels = 24;
  p.kernel_h = p.kernel_w = 3;
  p.pad_h = p.pad_w = 1;
  const int32_t v =
      rt::add_relu(&m, rt::add_conv2d(&m, 0, p, t::random_weights(rng, 24 * 6 * 9, 60),
                                      t::random_bias(rng, 24, 5000), {7}));
  rt::Conv2dParams q;
  q.out_channels = 24;
  auto conv_of = [&](int32_t codes) {
    return rt::add_conv2d(&m, codes, q, t::random_weights(rng, 24 * 24, 127),
                          t::random_bias(rng, 24, 5000), {7});
  };
  const int32_t a = conv_of(rt::add_requantize(&m, v, 4, false));
  const int32_t b = conv_of(rt::add_requantize(&m, v, 4, false));     // same as a's input
  const int32_t c = conv_of(rt::add_requantize(&m, v, 3, false));     // another FL
  const int32_t d = conv_of(rt::add_requantize(&m, v, 4, false, 6));  // another word length
  rt::add_add(&m, rt::add_add(&m, a, b), rt::add_add(&m, c, d));
  expect_all_isas_equal(m, 7);
  const int32_t rq_a = m.ops[static_cast<size_t>(a) - 1].inputs[0] - 1;  // a's requantize op
  const int32_t rq_b = m.ops[static_cast<size_t>(b) - 1].inputs[0] - 1;
  for (const std::string& isa : machine_isas()) {
    rt::Interpreter it;
    ASSERT_TRUE(it.load(m).is_ok());
    rt::InterpreterOptions o;
    o.isa = isa;
    ASSERT_TRUE(it.prepare(o).is_ok());
    int requant_stages = 0;
    for (const rt::StageInfo& st : it.stages()) {
      if (st.ops.empty()) continue;  // the layout conversions
      const rt::OpType head = m.ops[static_cast<size_t>(st.ops.at(0))].type;
      if (head == rt::OpType::kRequantize) ++requant_stages;
      if (st.ops[0] == 0) {  // the first conv: conv, ReLU, then both same-format requantizes
        EXPECT_EQ(st.ops, (std::vector<int32_t>{0, v - 1, rq_a, rq_b})) << isa;
      }
    }
    EXPECT_EQ(requant_stages, 2) << isa;
  }
}

TEST(Zoo, IsaChoiceIsValidated) {
  rt::Interpreter it;
  ASSERT_TRUE(it.load(t::tv8_model()).is_ok());
  rt::InterpreterOptions o;
  o.isa = "sse9";
  const rt::Status s = it.prepare(o);
  EXPECT_EQ(s.code(), rt::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("unknown ISA 'sse9'"), std::string::npos) << s.message();
  for (auto isa : {rt::kernels::Isa::kAvx2, rt::kernels::Isa::kAvx512,
                   rt::kernels::Isa::kAvx512Vnni, rt::kernels::Isa::kAvxVnni}) {
    o.isa = rt::kernels::isa_name(isa);
    const rt::Status st = it.prepare(o);
    EXPECT_EQ(st.is_ok(), rt::kernels::isa_available(isa)) << o.isa << ": " << st.message();
    if (!st.is_ok()) {
      EXPECT_EQ(st.code(), rt::StatusCode::kUnsupported);
    }
  }
  o.isa = "";
  o.force_reference = true;
  ASSERT_TRUE(it.prepare(o).is_ok());
  EXPECT_STREQ(it.isa(), "ref");
}

TEST(Zoo, BatchOfFiveEqualsSingleReferenceRuns) {
  for (const std::string name : {"resnet18", "mobilenet-v2"}) {
    t::ZooOptions o;
    o.size = 40;
    o.width = 0.25;
    o.classes = 11;
    rt::ModelDef m;
    ASSERT_TRUE(t::zoo_model(name, o, &m));
    std::vector<uint8_t> inputs;
    std::vector<uint8_t> want;
    for (uint64_t i = 0; i < 5; ++i) {
      const std::vector<uint8_t> x = random_input(m, 100 + i);
      inputs.insert(inputs.end(), x.begin(), x.end());
      const std::vector<uint8_t> y = logits(m, x, "ref", 1);
      want.insert(want.end(), y.begin(), y.end());
    }
    for (const std::string& isa : machine_isas()) {
      for (int threads : {1, 2, 3}) {
        rt::Interpreter it;
        ASSERT_TRUE(it.load(m).is_ok());
        rt::InterpreterOptions opt;
        opt.isa = isa;
        opt.num_threads = threads;
        ASSERT_TRUE(it.prepare(opt).is_ok());
        std::vector<int32_t> out(5 * 11);
        ASSERT_TRUE(it.run_batch(inputs.data(), 5, out.data()).is_ok());
        EXPECT_EQ(std::memcmp(out.data(), want.data(), want.size()), 0)
            << name << " " << isa << " threads " << threads;
        EXPECT_EQ(it.run_batch(nullptr, 1, out.data()).code(), rt::StatusCode::kInvalidArgument);
      }
    }
    EXPECT_NE(std::memcmp(want.data(), want.data() + 44, 44), 0) << "inputs should differ";
  }
}

TEST(Zoo, BatchStopsAtTheFirstBadImageWithEarlierImagesWritten) {
  // Signed input codes: -128 in image 3 of 6. Whole-image threading (2 or 3 threads) must still
  // write images 0..2 exactly, report image 3, and leave output() at the last image run.
  t::ZooOptions o;
  o.size = 32;
  o.width = 0.25;
  o.classes = 7;
  rt::ModelDef m;
  ASSERT_TRUE(t::zoo_model("resnet18", o, &m));
  m.input.dtype = rt::DType::kInt8;
  m.input.fl = 7;
  m.metadata.preprocessing.mode = rt::Preprocess::kCodes;
  const rt::Status valid = rt::validate_model(m, nullptr);
  ASSERT_TRUE(valid.is_ok()) << valid.message();
  std::vector<uint8_t> inputs, want;
  for (uint64_t i = 0; i < 6; ++i) {
    std::vector<uint8_t> x = random_input(m, 300 + i);
    const std::vector<uint8_t> y = logits(m, x, "ref", 1);
    want.insert(want.end(), y.begin(), y.end());
    if (i == 3) x[17] = 0x80;  // -128
    inputs.insert(inputs.end(), x.begin(), x.end());
  }
  for (const std::string& isa : machine_isas()) {
    for (int threads : {1, 2, 3}) {
      rt::Interpreter it;
      ASSERT_TRUE(it.load(m).is_ok());
      rt::InterpreterOptions opt;
      opt.isa = isa;
      opt.num_threads = threads;
      ASSERT_TRUE(it.prepare(opt).is_ok());
      std::vector<int32_t> out(6 * 7, 0);
      const rt::Status s = it.run_batch(inputs.data(), 6, out.data());
      EXPECT_EQ(s.code(), rt::StatusCode::kInvalidArgument) << isa << " threads " << threads;
      EXPECT_NE(s.message().find("image 3"), std::string::npos) << s.message();
      EXPECT_EQ(std::memcmp(out.data(), want.data(), 3 * 7 * 4), 0) << isa << " " << threads;
      // The 6 valid images (image 3 repaired) run whole per thread; output() is the last one.
      std::vector<uint8_t> fixed = inputs;
      fixed[3 * inputs.size() / 6 + 17] = 0;
      std::vector<uint8_t> x3(fixed.begin() + 3 * inputs.size() / 6,
                              fixed.begin() + 4 * inputs.size() / 6);
      std::vector<uint8_t> want3 = logits(m, x3, "ref", 1);
      ASSERT_TRUE(it.run_batch(fixed.data(), 6, out.data()).is_ok());
      EXPECT_EQ(std::memcmp(out.data(), want.data(), 3 * 7 * 4), 0);
      EXPECT_EQ(std::memcmp(out.data() + 3 * 7, want3.data(), 7 * 4), 0);
      EXPECT_EQ(std::memcmp(out.data() + 4 * 7, want.data() + 4 * 7 * 4, 2 * 7 * 4), 0);
      EXPECT_EQ(std::memcmp(it.output().data, want.data() + 5 * 7 * 4, 7 * 4), 0);
    }
  }
}
