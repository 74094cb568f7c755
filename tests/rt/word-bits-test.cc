// Code word lengths other than 8 in the runtime (issue 11): narrower Requantize outputs and weight
// codes run bit-exactly against the int64 whole-graph oracle in every engine; the .f8 file stays
// version 1 for 8-bit models and becomes version 2 (a word length per op) otherwise; validation
// refuses codes outside the recorded range and proves the accumulator bound with the real range.
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

// The random CNN with every Requantize at `act_bits` and every conv/FC weight clipped to
// `weight_bits` (the FC stays 8-bit when keep_fc).
rt::ModelDef narrow_cnn(uint64_t seed, int act_bits, int weight_bits, bool keep_fc) {
  rt::ModelDef m = f8net::testing::random_cnn(seed, 1);
  const int w_max = (1 << (weight_bits - 1)) - 1;
  for (rt::OpDef& op : m.ops) {
    if (op.type == rt::OpType::kRequantize) {
      op.code_bits = act_bits;
      op.out_fl = std::min(op.out_fl, op.out_signed ? act_bits - 1 : act_bits);
    }
    const bool fc = op.type == rt::OpType::kFullyConnected;
    if ((op.type == rt::OpType::kConv2d || fc) && !(fc && keep_fc)) {
      op.code_bits = weight_bits;
      for (int8_t& w : op.weights)
        w = static_cast<int8_t>(std::max(-w_max, std::min(w_max, int{w})));
      for (int32_t& f : op.weight_fl) f = static_cast<int8_t>(std::min<int>(f, weight_bits - 1));
    }
  }
  return m;
}

uint64_t fnv1a(const std::vector<uint8_t>& b, size_t from) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = from; i < b.size(); ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}
uint32_t get_u32(const std::vector<uint8_t>& b, size_t at) {
  uint32_t v;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}
// Writes a u32 and fixes the checksum, so only the edited field can make the reader refuse.
void put_u32(std::vector<uint8_t>* b, size_t at, uint32_t v) {
  std::memcpy(b->data() + at, &v, 4);
  const uint64_t h = fnv1a(*b, 128);
  std::memcpy(b->data() + 24, &h, 8);
}
size_t op_record(const std::vector<uint8_t>& b, size_t i) {
  uint64_t graph;
  std::memcpy(&graph, b.data() + 48, 8);
  return static_cast<size_t>(graph) + 32 + 128 * i;
}
std::string read_error(const std::vector<uint8_t>& b) {
  rt::ModelDef m;
  const rt::Status s = rt::read_model(b.data(), b.size(), &m);
  return s.is_ok() ? "ok" : s.message();
}

}  // namespace

TEST(WordBits, NarrowCodesMatchTheOracleInEveryEngine) {
  const uint64_t seed = f8net::testing::test_seed(4242);
  std::mt19937_64 rng(seed);
  for (int bits = 2; bits <= 8; ++bits) {
    for (bool keep_fc : {true, false}) {
      const rt::ModelDef m = narrow_cnn(seed + static_cast<uint64_t>(bits), bits, bits, keep_fc);
      ASSERT_TRUE(rt::validate_model(m, nullptr).is_ok()) << bits;
      std::vector<uint8_t> bytes;
      ASSERT_TRUE(rt::write_model(m, &bytes).is_ok());
      std::vector<uint8_t> input(144);
      std::uniform_int_distribution<int> d(0, 255);
      for (uint8_t& x : input) x = static_cast<uint8_t>(d(rng));
      const auto want =
          f8net::testing::naive_run(m, std::vector<int64_t>(input.begin(), input.end()));
      // The reference engine and the fused engine under every ISA (one this CPU lacks is
      // skipped).
      for (const char* isa : {"ref", "avx2", "avx512", "avx512vnni", "avxvnni"}) {
        for (int threads : {1, 2}) {
          rt::Interpreter it;
          ASSERT_TRUE(it.load_memory(bytes.data(), bytes.size()).is_ok());
          rt::InterpreterOptions o;
          o.num_threads = threads;
          o.isa = isa;
          if (!it.prepare(o).is_ok()) continue;
          ASSERT_TRUE(it.set_input(input.data(), input.size()).is_ok());
          ASSERT_TRUE(it.run().is_ok());
          const rt::TensorView out = it.output();
          ASSERT_EQ(static_cast<size_t>(out.shape.elements()), want.data.size());
          for (size_t i = 0; i < want.data.size(); ++i) {
            ASSERT_EQ(out.s32()[i], want.data[i]) << "bits " << bits << " isa '" << isa << "'"
                                                  << " threads " << threads << seed_note(seed);
          }
        }
      }
    }
  }
  // The oracle itself saturates narrower: 2-bit unsigned codes never exceed 3.
  EXPECT_EQ(f8net::testing::naive_requantize(1000, 4, 0, false, 2), 3);
  EXPECT_EQ(f8net::testing::naive_requantize(-1000, 4, 0, true, 3), -3);
}

TEST(WordBits, FileVersionAndRoundTrip) {
  std::vector<uint8_t> eight, four;
  const rt::ModelDef m8 = f8net::testing::random_cnn(7, 1);
  const rt::ModelDef m4 = narrow_cnn(7, 4, 4, true);
  ASSERT_TRUE(rt::write_model(m8, &eight).is_ok());
  ASSERT_TRUE(rt::write_model(m4, &four).is_ok());
  EXPECT_EQ(get_u32(eight, 8), 1u) << "8-bit models stay version 1 (older runtimes read them)";
  EXPECT_EQ(get_u32(four, 8), 2u);
  for (size_t i = 0; i < m8.ops.size(); ++i) {
    EXPECT_EQ(get_u32(eight, op_record(eight, i) + 112), 0u) << "version 1: reserved, zero";
  }
  rt::ModelDef back;
  rt::GraphInfo info;
  ASSERT_TRUE(rt::read_model(four.data(), four.size(), &back, &info).is_ok());
  ASSERT_EQ(back.ops.size(), m4.ops.size());
  for (size_t i = 0; i < m4.ops.size(); ++i) {
    EXPECT_EQ(back.ops[i].code_bits, m4.ops[i].code_bits) << i;
    if (back.ops[i].type == rt::OpType::kRequantize) {
      EXPECT_EQ(info.values[i + 1].code_bits, 4);
    }
  }
  std::vector<uint8_t> again;
  ASSERT_TRUE(rt::write_model(back, &again).is_ok());
  EXPECT_EQ(again, four) << "canonical: the same bytes";

  // Find a Requantize and a Relu record.
  size_t rq = 0, relu = 0;
  for (size_t i = 0; i < m4.ops.size(); ++i) {
    if (m4.ops[i].type == rt::OpType::kRequantize && rq == 0) rq = i;
    if (m4.ops[i].type == rt::OpType::kRelu && relu == 0) relu = i;
  }
  std::vector<uint8_t> b = four;
  put_u32(&b, op_record(b, rq) + 112, 9);
  EXPECT_NE(read_error(b).find("word length 9 outside [2, 8]"), std::string::npos) << read_error(b);
  b = four;
  put_u32(&b, op_record(b, relu) + 112, 4);
  EXPECT_NE(read_error(b).find("code word length it does not use"), std::string::npos);
  b = eight;  // version 1 with a word length: the field is reserved there
  put_u32(&b, op_record(b, rq) + 112, 4);
  EXPECT_NE(read_error(b).find("reserved bytes are not zero"), std::string::npos);
  b = four;  // a 4-bit model relabelled version 1 keeps its widths in reserved bytes: refused
  put_u32(&b, 8, 1);
  EXPECT_NE(read_error(b).find("reserved bytes are not zero"), std::string::npos);
}

TEST(WordBits, ValidationUsesTheRecordedRanges) {
  // Weight codes beyond the recorded width are refused.
  rt::ModelDef m = narrow_cnn(9, 4, 4, true);
  size_t conv = 0;
  for (size_t i = 0; i < m.ops.size(); ++i) {
    if (m.ops[i].type == rt::OpType::kConv2d) {
      conv = i;
      break;
    }
  }
  m.ops[conv].weights[3] = 8;
  rt::Status s = rt::validate_model(m, nullptr);
  EXPECT_NE(s.message().find("weight code 8 at index 3 is outside [-7, 7] (4-bit weights)"),
            std::string::npos)
      << s.message();
  m = narrow_cnn(9, 4, 4, true);
  m.ops[conv].code_bits = 1;
  EXPECT_NE(rt::validate_model(m, nullptr).message().find("weight word length 1"),
            std::string::npos);
  m = f8net::testing::tv8_model();
  m.ops[1].code_bits = 4;
  m.ops[1].out_fl = 5;  // unsigned 4-bit: FL <= 4
  EXPECT_NE(rt::validate_model(m, nullptr).message().find("output FL 5 outside [0, 4]"),
            std::string::npos);
  m = f8net::testing::tv8_model();
  m.ops[0].code_bits = 8;
  m.ops[2].code_bits = 8;
  m.ops.push_back(m.ops.back());
  m.ops.back().type = rt::OpType::kRelu;
  m.ops.back().inputs = {3, -1};
  m.ops.back().out_channels = 0;
  m.ops.back().weights.clear();
  m.ops.back().bias.clear();
  m.ops.back().weight_fl.clear();
  m.ops.back().code_bits = 4;
  EXPECT_NE(rt::validate_model(m, nullptr).message().find("code word length it does not use"),
            std::string::npos);

  // The accumulator bound uses max|x| of the input's width: TV8's requantize to 4-bit codes
  // (<= 15), then an FC with sum|w| = 254 and a bias filling the rest of int32 exactly.
  auto bound_model = [](int bits, int64_t bias) {
    rt::ModelDef b = f8net::testing::tv8_model();
    b.ops.resize(2);
    b.ops[1].code_bits = bits;
    b.ops[1].out_fl = 4;
    rt::add_fully_connected(&b, 2, 1, {127, 127}, {static_cast<int32_t>(bias)}, {0});
    return b;
  };
  const int64_t room = (int64_t{1} << 31) - 1;
  rt::GraphInfo info;
  EXPECT_TRUE(rt::validate_model(bound_model(4, room - 254 * 15), &info).is_ok());
  EXPECT_EQ(info.ops[2].accumulator_bound, room);
  s = rt::validate_model(bound_model(4, room - 254 * 15 + 1), nullptr);
  EXPECT_EQ(s.code(), rt::StatusCode::kOverflow) << s.message();
  EXPECT_NE(s.message().find("max|x| 15"), std::string::npos) << s.message();
  s = rt::validate_model(bound_model(8, room - 254 * 15), nullptr);
  EXPECT_EQ(s.code(), rt::StatusCode::kOverflow) << "8-bit codes reach 255: " << s.message();
}
