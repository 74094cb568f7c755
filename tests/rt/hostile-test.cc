// Hostile .f8 files: truncation at every byte, every single-bit flip, seeded random mutations,
// and targeted field edits (ids, enums, shapes whose product overflows, FLs, offsets, counts,
// overflowing weights) with the checksum recomputed so the checks behind it run. Every case must
// come back as an error Status; built under ASan/UBSan this also proves no crash and no UB.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "f8net/rt/interpreter.h"
#include "f8net/rt/model-file.h"
#include "support/random.h"
#include "support/tiny-models.h"

namespace rt = f8net::rt;
using f8net::testing::seed_note;

namespace {

using Bytes = std::vector<uint8_t>;

Bytes model_bytes() {
  Bytes b;
  EXPECT_TRUE(rt::write_model(f8net::testing::random_cnn(42, 3), &b).is_ok());
  return b;
}

uint64_t get_u64(const Bytes& b, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | b[at + static_cast<size_t>(i)];
  return v;
}
void put_u64(Bytes* b, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    (*b)[at + static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (8 * i));
}
void put_u32(Bytes* b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    (*b)[at + static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (8 * i));
}
void fix_checksum(Bytes* b) { put_u64(b, 24, rt::fnv1a64(b->data() + 128, b->size() - 128)); }

size_t graph_offset(const Bytes& b) { return static_cast<size_t>(get_u64(b, 48)); }
size_t data_offset(const Bytes& b) { return static_cast<size_t>(get_u64(b, 64)); }
size_t op_record(const Bytes& b, size_t i) { return graph_offset(b) + 32 + 128 * i; }

// Loads through the reader and (if that passes) the interpreter; returns the error or "ok".
std::string load(const Bytes& b) {
  rt::ModelDef m;
  rt::Status s = rt::read_model(b.data(), b.size(), &m);
  if (!s.is_ok()) return s.message();
  rt::Interpreter it;
  s = it.load(std::move(m));
  if (s.is_ok()) s = it.prepare({1, false});
  if (s.is_ok() && it.arena_bytes() < (size_t{1} << 20)) {  // mutated dims can make huge models
    std::vector<uint8_t> in(it.input().bytes(), 1);
    s = it.set_input(in.data(), in.size());
    if (s.is_ok()) s = it.run();
  }
  return s.is_ok() ? "ok" : s.message();
}

}  // namespace

TEST(Hostile, IntactFileLoads) { EXPECT_EQ(load(model_bytes()), "ok"); }

TEST(Hostile, TruncationAtEveryByteIsRejected) {
  const Bytes full = model_bytes();
  for (size_t n = 0; n < full.size(); ++n) {
    const Bytes cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(n));
    ASSERT_NE(load(cut), "ok") << "truncated to " << n << " bytes";
  }
  Bytes longer = full;
  longer.push_back(0);
  EXPECT_NE(load(longer).find("file size"), std::string::npos);
}

TEST(Hostile, EverySingleBitFlipIsRejected) {
  const Bytes full = model_bytes();
  for (size_t i = 0; i < full.size(); ++i) {
    for (int bit = 0; bit < 8; bit += (i < 128 ? 1 : 3)) {  // all bits of the header
      Bytes b = full;
      b[i] ^= static_cast<uint8_t>(1u << bit);
      ASSERT_NE(load(b), "ok") << "flip byte " << i << " bit " << bit;
    }
  }
}

TEST(Hostile, RandomMutationsBehindTheChecksumNeverCrash) {
  const uint64_t seed = f8net::testing::test_seed(4001);
  std::printf("Hostile.RandomMutations %s\n", seed_note(seed).c_str());
  std::mt19937_64 rng(seed);
  const Bytes full = model_bytes();
  int rejected = 0;
  const int trials = 1500;
  for (int t = 0; t < trials; ++t) {
    Bytes b = full;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = 128 + rng() % (b.size() - 128);
      switch (rng() % 3) {
        case 0:
          b[at] = static_cast<uint8_t>(rng());
          break;
        case 1:
          b[at] = 0xFF;
          break;
        default:
          b[at] ^= 0x80;
          break;
      }
    }
    fix_checksum(&b);
    if (load(b) != "ok") ++rejected;  // most are rejected; weight edits may stay valid
  }
  EXPECT_GT(rejected, trials / 4) << seed_note(seed);
}

TEST(Hostile, TargetedFieldEditsAreRejectedWithAReason) {
  const Bytes full = model_bytes();
  struct Edit {
    const char* what;
    std::function<void(Bytes*)> apply;
    const char* expect;  // substring of the error message
  };
  const size_t op0 = op_record(full, 0);
  const size_t data = data_offset(full);
  const std::vector<Edit> edits = {
      {"magic", [](Bytes* b) { (*b)[0] = 'X'; }, "bad magic"},
      {"version", [](Bytes* b) { put_u32(b, 8, 3); }, "format version 3"},
      {"header size", [](Bytes* b) { put_u32(b, 12, 64); }, "header size"},
      {"reserved header", [](Bytes* b) { (*b)[100] = 1; }, "reserved header"},
      {"metadata size", [](Bytes* b) { put_u64(b, 40, get_u64(*b, 40) + 1); }, "inconsistent"},
      {"graph offset huge", [](Bytes* b) { put_u64(b, 48, ~uint64_t{0} - 8); }, "inconsistent"},
      {"data size huge", [](Bytes* b) { put_u64(b, 72, uint64_t{1} << 63); }, "inconsistent"},
      {"name length", [](Bytes* b) { put_u32(b, 128, 0xFFFFFFF0u); }, "model name"},
      {"input dims overflow",
       [](Bytes* b) {
         const size_t g = graph_offset(*b);
         put_u32(b, g, 0xFFFFFFFFu);
         put_u32(b, g + 4, 0xFFFFFFFFu);
       },
       "dimension above"},
      {"input elements",
       [](Bytes* b) {
         const size_t g = graph_offset(*b);
         put_u32(b, g, 65535);
         put_u32(b, g + 4, 65535);
         put_u32(b, g + 8, 65535);
       },
       "elements"},
      {"input dtype", [](Bytes* b) { put_u32(b, graph_offset(*b) + 12, 7); }, "input dtype"},
      {"input FL", [](Bytes* b) { put_u32(b, graph_offset(*b) + 16, 200); }, "input FL"},
      {"op count", [](Bytes* b) { put_u32(b, graph_offset(*b) + 20, 0xFFFFFFFFu); },
       "too many ops"},
      {"op count off by one", [](Bytes* b) { put_u32(b, graph_offset(*b) + 20, 3); }, "op records"},
      {"op type", [op0](Bytes* b) { put_u32(b, op0, 99); }, "unknown op type 99"},
      {"op type zero", [op0](Bytes* b) { put_u32(b, op0, 0); }, "unknown op type 0"},
      {"input id forward", [op0](Bytes* b) { put_u32(b, op0 + 4, 5); }, "not an earlier value"},
      {"input id negative", [op0](Bytes* b) { put_u32(b, op0 + 4, 0x80000000u); },
       "not an earlier value"},
      {"second input on conv", [op0](Bytes* b) { put_u32(b, op0 + 8, 0); }, "second input"},
      {"out channels", [op0](Bytes* b) { put_u32(b, op0 + 12, 0x7FFFFFFF); }, "out_channels"},
      {"kernel zero", [op0](Bytes* b) { put_u32(b, op0 + 16, 0); }, "kernel/stride"},
      {"stride huge", [op0](Bytes* b) { put_u32(b, op0 + 24, 100000); }, "kernel/stride"},
      {"pad negative", [op0](Bytes* b) { put_u32(b, op0 + 32, 0xFFFFFFFFu); }, "padding"},
      {"dilation", [op0](Bytes* b) { put_u32(b, op0 + 40, 65); }, "kernel/stride"},
      {"groups", [op0](Bytes* b) { put_u32(b, op0 + 48, 2); }, "groups 2"},
      {"requant FL on conv", [op0](Bytes* b) { put_u32(b, op0 + 52, 3); }, "does not use"},
      {"out_signed", [op0](Bytes* b) { put_u32(b, op0 + 56, 2); }, "out_signed"},
      {"requant FL", [&full](Bytes* b) { put_u32(b, op_record(full, 3) + 52, 9); }, "output FL 9"},
      {"pool shift", [&full](Bytes* b) { put_u32(b, op_record(full, 11) + 60, 40); }, "shift 40"},
      {"pool shift FL", [&full](Bytes* b) { put_u32(b, op_record(full, 11) + 60, 30); },
       "output FL"},
      {"maxpool pad", [&full](Bytes* b) { put_u32(b, op_record(full, 2) + 32, 2); }, "padding"},
      {"weights offset", [op0](Bytes* b) { put_u64(b, op0 + 64, uint64_t{1} << 40); },
       "outside the data"},
      {"weights unaligned", [op0](Bytes* b) { put_u64(b, op0 + 64, 1); }, "aligned"},
      {"weights count huge", [op0](Bytes* b) { put_u64(b, op0 + 72, ~uint64_t{0}); },
       "outside the data"},
      {"weights count short", [op0](Bytes* b) { put_u64(b, op0 + 72, 5); }, "weights, expected"},
      {"bias count", [op0](Bytes* b) { put_u64(b, op0 + 88, uint64_t{1} << 61); },
       "outside the data"},
      {"wfl count zero with offset", [op0](Bytes* b) { put_u64(b, op0 + 104, 0); },
       "non-zero offset"},
      {"op reserved", [op0](Bytes* b) { (*b)[op0 + 120] = 1; }, "reserved bytes"},
      {"weight -128", [data](Bytes* b) { (*b)[data] = 0x80; }, "weight code -128"},
      {"bias INT32_MIN",
       [op0, data](Bytes* b) { put_u32(b, data + get_u64(*b, op0 + 80), 0x80000000u); },
       "bias of channel 0"},
      {"bias overflows",
       [op0, data](Bytes* b) { put_u32(b, data + get_u64(*b, op0 + 80), 0x7FFFFFFFu); },
       "can overflow int32"},
      {"weight FL", [op0, data](Bytes* b) { (*b)[data + get_u64(*b, op0 + 96)] = 9; },
       "weight FL 9"},
      {"class count",
       [](Bytes* b) {
         // name (4 + len) + mode + gray + 6 floats, then the class count.
         const uint32_t len = static_cast<uint32_t>((*b)[128]);
         put_u32(b, 128 + 4 + len + 8 + 24, 0xFFFFFFFFu);
       },
       "class-name count"},
      {"preprocess mode",
       [](Bytes* b) {
         const uint32_t len = static_cast<uint32_t>((*b)[128]);
         put_u32(b, 128 + 4 + len, 9);
       },
       "preprocessing mode 9"},
      {"replicate flag",
       [](Bytes* b) {
         const uint32_t len = static_cast<uint32_t>((*b)[128]);
         put_u32(b, 128 + 4 + len + 4, 2);
       },
       "replicate_gray"},
      {"normalize std NaN",
       [](Bytes* b) {
         const uint32_t len = static_cast<uint32_t>((*b)[128]);
         put_u32(b, 128 + 4 + len, 2);  // normalized mode on a uint8 input
       },
       "needs an int8 input"},
  };
  for (const Edit& e : edits) {
    Bytes b = full;
    e.apply(&b);
    if (std::string(e.what) != "magic" && std::string(e.what) != "version" &&
        std::string(e.what) != "header size" && std::string(e.what) != "reserved header") {
      fix_checksum(&b);
    }
    const std::string msg = load(b);
    EXPECT_NE(msg.find(e.expect), std::string::npos)
        << e.what << ": got \"" << msg << "\", wanted \"" << e.expect << "\"";
  }
}

TEST(Hostile, WeightEditsThatCouldOverflowInt32AreRejected) {
  // FC over 2x256x256 uint8 codes: all-zero weights are fine; all-127 weights give
  // sum|w| * 255 = 131072 * 127 * 255 > 2^31, which the loader must refuse.
  for (const bool edit_one_short : {false, true}) {
    rt::ModelDef m;
    m.metadata.preprocessing.mode = rt::Preprocess::kCodes;
    m.input = {rt::Shape{2, 256, 256}, rt::DType::kUint8, 8};
    rt::add_fully_connected(&m, 0, 1, std::vector<int8_t>(2 * 256 * 256, 0), {0}, {0});
    Bytes b;
    ASSERT_TRUE(rt::write_model(m, &b).is_ok());
    const size_t w = data_offset(b) + static_cast<size_t>(get_u64(b, op_record(b, 0) + 64));
    // 66311 weights of 127 reach 66311 * 127 * 255 = 2147481735 < 2^31; one more overflows.
    const size_t count = edit_one_short ? 66311 : 66312;
    std::memset(b.data() + w, 127, count);
    fix_checksum(&b);
    rt::ModelDef back;
    const rt::Status s = rt::read_model(b.data(), b.size(), &back);
    if (edit_one_short) {
      EXPECT_TRUE(s.is_ok()) << s.message();
    } else {
      EXPECT_EQ(s.code(), rt::StatusCode::kOverflow);
      EXPECT_NE(s.message().find("can overflow int32"), std::string::npos) << s.message();
    }
  }
}

TEST(Hostile, ChecksumMismatchIsReported) {
  Bytes b = model_bytes();
  b[b.size() - 1] ^= 1;
  EXPECT_NE(load(b).find("checksum"), std::string::npos);
}

TEST(Hostile, EmptyAndTinyInputs) {
  EXPECT_NE(load(Bytes{}), "ok");
  EXPECT_NE(load(Bytes(127, 0)), "ok");
  rt::ModelDef m;
  EXPECT_EQ(rt::read_model(nullptr, 0, &m).code(), rt::StatusCode::kInvalidModel);
  EXPECT_EQ(rt::read_model(nullptr, 5, &m).code(), rt::StatusCode::kInvalidArgument);
}

// docs/model-format.md promises a canonical layout with no hidden data: tensors that overlap,
// padding that is not zero and bytes after the last tensor are all refused, even with the file
// size, the data size and the checksum made consistent.
TEST(Hostile, NonCanonicalTensorLayoutsAreRejected) {
  const Bytes full = model_bytes();
  const size_t op0 = op_record(full, 0);
  const size_t data = data_offset(full);
  {  // the bias points at the weights' bytes (sizes stay valid)
    Bytes b = full;
    put_u64(&b, op0 + 80, get_u64(b, op0 + 64));
    fix_checksum(&b);
    EXPECT_NE(load(b).find("canonical layout"), std::string::npos) << load(b);
  }
  {  // 64 extra zero bytes after the last tensor
    Bytes b = full;
    b.resize(b.size() + 64, 0);
    put_u64(&b, 16, b.size());
    put_u64(&b, 72, get_u64(b, 72) + 64);
    fix_checksum(&b);
    EXPECT_NE(load(b).find("trailing data"), std::string::npos) << load(b);
  }
  {  // a non-zero byte in the padding after the first weight blob
    const uint64_t w_end = get_u64(full, op0 + 64) + get_u64(full, op0 + 72);
    ASSERT_NE(w_end % 64, 0u) << "the test model's first weight blob must need padding";
    Bytes b = full;
    b[data + w_end] = 1;
    fix_checksum(&b);
    EXPECT_NE(load(b).find("padding before the tensor"), std::string::npos) << load(b);
  }
}
