// The fused engine's microkernels (implicit-GEMM conv, FC, depthwise, pointwise epilogue, pools)
// of every row of kernels/fused-table.h this CPU runs (avx2, avx512, avx512vnni, avxvnni) against
// the op-by-op reference on single-op models: edge shapes (M, N, K below, at and above the 6 x 16
// and 6 x 64 tiles, channel counts 1, 3, 4, 5; strides 1/2, padding, dilation), every epilogue
// (int32 out, Add, ReLU, signed/unsigned requantize, 3- and 4-bit codes, left shifts; int32 max
// pools of 3x3/2 and 2x2/1 after it, with the requantize fused into the pool) and extreme codes
// (0, 255, +-127 with +-127 weights, an FC whose accumulator reaches the proven bound; weights
// at vpmaddubsw's int16 bound, where avx2 / avx512 switch to their u8 x s8 GEMM). Output
// buffers sit in the interpreter's arena between other live values, so a stray write changes
// logits.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "f8net/rt/interpreter.h"
#include "kernels/fused-table.h"
#include "kernels/kernel-table.h"
#include "support/random.h"
#include "support/tiny-models.h"

namespace rt = f8net::rt;
namespace t = f8net::testing;

namespace {

// The ISAs whose fused kernels this build has and this CPU runs, by name.
std::vector<std::string> fused_isas() {
  std::vector<std::string> out;
  int n = 0;
  const rt::kernels::FusedKernels* rows = rt::kernels::fused_kernel_table(&n);
  for (int i = 0; i < n; ++i) {
    if (rt::kernels::isa_available(rows[i].isa)) out.push_back(rt::kernels::isa_name(rows[i].isa));
  }
  return out;
}

// Loads m into *it and prepares it under `isa` with `threads` threads; false (a test failure) if
// either step fails.
bool prepare(const rt::ModelDef& m, const std::string& isa, int threads, rt::Interpreter* it) {
  rt::InterpreterOptions o;
  o.isa = isa;
  o.num_threads = threads;
  rt::Status s = it->load(m);
  if (s.is_ok()) s = it->prepare(o);
  EXPECT_TRUE(s.is_ok()) << s.message();
  return s.is_ok();
}

// The kernel name of op 0 under `isa`.
std::string first_kernel(const rt::ModelDef& m, const std::string& isa) {
  rt::Interpreter it;
  return prepare(m, isa, rt::InterpreterOptions{}.num_threads, &it) ? it.kernel_name(0) : "";
}

std::vector<uint8_t> run(const rt::ModelDef& m, const std::vector<uint8_t>& x,
                         const std::string& isa, int threads) {
  rt::Interpreter it;
  if (!prepare(m, isa, threads, &it)) return {};
  if (isa != "ref") {
    EXPECT_EQ(std::string(it.isa()), isa);
    EXPECT_NE(std::string(it.kernel_name(0)).find("__" + isa), std::string::npos)
        << it.kernel_name(0);  // the fused engine ran, not the op-by-op fallback
  }
  rt::Status s = it.set_input(x.data(), x.size());
  if (s.is_ok()) s = it.run();
  EXPECT_TRUE(s.is_ok()) << s.message();
  if (!s.is_ok()) return {};
  const auto* p = static_cast<const uint8_t*>(it.output().data);
  return std::vector<uint8_t>(p, p + it.output().bytes());
}

// mode 0 random, 1 max codes, 2 min codes, 3 zeros.
std::vector<uint8_t> codes(std::mt19937_64& rng, const rt::InputDef& in, int mode) {
  const bool s = in.dtype == rt::DType::kInt8;
  std::uniform_int_distribution<int> d(s ? -127 : 0, s ? 127 : 255);
  std::vector<uint8_t> x(static_cast<size_t>(in.shape.elements()));
  for (uint8_t& v : x) {
    const int c = mode == 0 ? d(rng) : mode == 1 ? (s ? 127 : 255) : mode == 2 ? (s ? -127 : 0) : 0;
    v = static_cast<uint8_t>(c);
  }
  return x;
}

struct Geo {
  int32_t c, h, w, n, k, stride, pad, dil;
  bool depthwise;
};

// input -> conv -> [epilogue variant] -> (codes: 1x1 identity-ish conv to int32) output.
rt::ModelDef conv_model(const Geo& g, bool sgn, int variant, int wmode, uint64_t seed) {
  std::mt19937_64 rng(seed);
  rt::ModelDef m;
  m.metadata.preprocessing.mode = rt::Preprocess::kCodes;
  m.input = {rt::Shape{g.c, g.h, g.w}, sgn ? rt::DType::kInt8 : rt::DType::kUint8,
             variant == 3 ? 0 : (sgn ? 7 : 8)};
  rt::Conv2dParams p;
  p.out_channels = g.depthwise ? g.c : g.n;
  p.kernel_h = p.kernel_w = g.k;
  p.stride_h = p.stride_w = g.stride;
  p.pad_h = p.pad_w = g.pad;
  p.dilation_h = p.dilation_w = g.dil;
  p.groups = g.depthwise ? g.c : 1;
  const size_t nw = static_cast<size_t>(p.out_channels) * (g.depthwise ? 1 : g.c) * g.k * g.k;
  // wmode 0: random; 1 / -1: all +-127; 2: random within +-64; 3 / -3: all +-64 (every pair's
  // weights sum to +-128, the most vpmaddubsw takes: 255 * 128 = 32640 fits int16).
  std::vector<int8_t> w = t::random_weights(rng, nw, wmode == 2 ? 64 : 127);
  if (wmode == 1 || wmode == -1 || wmode == 3 || wmode == -3) {
    const int mag = wmode == 1 || wmode == -1 ? 127 : 64;
    for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(wmode > 0 ? mag : -mag);
  }
  // Per-channel weight FLs for depthwise and the pools (whose fused requantize then shifts each
  // channel by its own amount), one per layer otherwise.
  const bool per_channel = g.depthwise || variant == 5 || variant == 6;
  std::vector<int32_t> wfl(per_channel ? static_cast<size_t>(p.out_channels) : 1);
  for (size_t i = 0; i < wfl.size(); ++i) wfl[i] = static_cast<int32_t>((i * 3 + seed) % 8);
  int32_t v = rt::add_conv2d(
      &m, 0, p, w, t::random_bias(rng, static_cast<size_t>(p.out_channels), 1 << 20), wfl);
  const int32_t conv = v;
  switch (variant) {
    case 0:
      return m;  // int32 spatial output
    case 1:
      v = rt::add_requantize(&m, v, 2, false);
      break;
    case 2:
      v = rt::add_requantize(&m, rt::add_relu(&m, v), 5, true);
      break;
    case 3:
      v = rt::add_requantize(&m, v, 7, true);
      break;  // left shifts for small FLs
    case 5:   // ResNet's stem: ReLU and a 3x3 stride-2 max pool (int32), then codes
      v = rt::add_requantize(&m, rt::add_max_pool(&m, rt::add_relu(&m, v), 3, 2, 1), 4, false);
      break;
    case 6:  // a 2x2 stride-1 max pool of signed values with padding on both sides
      v = rt::add_requantize(&m, rt::add_max_pool(&m, v, 2, 1, 1), 6, true);
      break;
    case 7:  // narrow codes: signed 3-bit ([-3, 3]) and unsigned 4-bit ([0, 15]) words
    case 8:
      v = rt::add_requantize(&m, v, variant == 7 ? 2 : 4, variant == 7);
      m.ops.back().code_bits = variant == 7 ? 3 : 4;
      break;
    default: {
      // A second conv reading the same input, added to the first (add fused into the later one).
      const int32_t other =
          rt::add_conv2d(&m, 0, p, t::random_weights(rng, nw, 127),
                         t::random_bias(rng, static_cast<size_t>(p.out_channels), 1000), {1});
      v = rt::add_requantize(&m, rt::add_relu(&m, rt::add_add(&m, other, conv)), 3, false);
      break;
    }
  }
  // Codes -> a 1x1 all-ones conv: a spatial int32 output that exposes every code.
  rt::Conv2dParams ones;
  ones.out_channels = 3;
  rt::add_conv2d(&m, v, ones, std::vector<int8_t>(static_cast<size_t>(3 * p.out_channels), 1),
                 {0, 1, -1}, {0});
  return m;
}

}  // namespace

TEST(FusedKernels, ConvAndDepthwiseEqualReferenceOnEdgeShapes) {
  const std::vector<std::string> isas = fused_isas();
  if (isas.empty()) GTEST_SKIP() << "no fused kernels for this CPU";
  const uint64_t seed = t::test_seed(77);
  std::mt19937_64 rng(seed);
  const Geo geos[] = {
      {1, 5, 5, 1, 1, 1, 0, 1, false},
      {3, 11, 9, 16, 7, 2, 3, 1, false},
      {4, 6, 7, 64, 1, 1, 0, 1, false},
      {5, 7, 6, 65, 3, 1, 1, 1, false},
      {64, 4, 5, 63, 1, 1, 0, 1, false},
      {67, 5, 5, 130, 3, 2, 1, 1, false},
      {8, 9, 9, 17, 3, 1, 2, 2, false},
      {16, 3, 3, 200, 3, 1, 1, 1, false},
      {12, 13, 1, 6, 1, 2, 0, 1, false},
      {3, 8, 8, 24, 5, 2, 2, 1, false},
      // c % 4 == 0: interior patches read in place (vnni tap rows), runs longer than a 6-pixel
      // call, stride 2, a 5x5, a strided 1x1, no padding, and inputs with no interior at all.
      {8, 10, 14, 64, 3, 1, 1, 1, false},
      {16, 9, 13, 70, 3, 2, 1, 1, false},
      {4, 7, 20, 5, 5, 1, 2, 1, false},
      {12, 6, 9, 64, 1, 2, 0, 1, false},
      {8, 5, 11, 3, 3, 1, 0, 1, false},
      {4, 2, 9, 16, 3, 1, 1, 1, false},
      {4, 8, 2, 16, 3, 2, 1, 1, false},
      {1, 6, 6, 1, 3, 1, 1, 1, true},
      {17, 7, 8, 0, 3, 1, 1, 1, true},
      {32, 9, 9, 0, 3, 2, 1, 1, true},
      {40, 8, 7, 0, 5, 1, 2, 1, true},
      {5, 9, 9, 0, 3, 1, 2, 2, true},
      {16, 4, 4, 0, 7, 2, 3, 1, true},
      // Depthwise with several 16-channel groups split across threads (few output rows), and a
      // wide 5x5 whose interior runs the fixed-tap path.
      {48, 7, 7, 0, 3, 2, 1, 1, true},
      {33, 12, 20, 0, 5, 1, 2, 1, true},
      // 64-channel blocks (vnni tap quads): one full block (3x3 fixed path, strides 1 and 2),
      // three blocks with a 2-channel tail split across threads, a 5x5 of 7 quads.
      {64, 6, 7, 0, 3, 1, 1, 1, true},
      {64, 9, 8, 0, 3, 2, 1, 1, true},
      {130, 5, 6, 0, 3, 1, 1, 1, true},
      {70, 6, 9, 0, 5, 2, 2, 1, true},
      // (review) quads with dilation 2, a 36-channel tail split across threads, a 7x7.
      {96, 9, 10, 0, 3, 1, 2, 2, true},
      {100, 5, 7, 0, 3, 1, 1, 1, true},
      {80, 9, 9, 0, 7, 1, 3, 1, true},
  };
  for (const Geo& g : geos) {
    for (bool sgn : {false, true}) {
      for (int variant = 0; variant < 9; ++variant) {
        // Modes 4-6: weights vpmaddubsw takes (avx2 / avx512 then run the u8 x s8 GEMM), random
        // and at its int16 bound with the largest patch bytes (max codes; signed ones flip to
        // 255); for a few epilogues, to keep the test short.
        const bool quads_modes = variant == 0 || variant == 2 || variant == 4 || variant == 5;
        for (int mode = 0; mode < (quads_modes ? 7 : 4); ++mode) {
          static constexpr int kWmode[] = {0, 1, -1, 0, 2, 3, -3};
          static constexpr int kCodes[] = {0, 1, 2, 3, 0, 1, 1};
          const int wmode = kWmode[mode];
          const rt::ModelDef m = conv_model(g, sgn, variant, wmode, seed + variant);
          const rt::Status valid = rt::validate_model(m, nullptr);
          ASSERT_TRUE(valid.is_ok()) << valid.message() << " variant " << variant;
          const std::vector<uint8_t> x = codes(rng, m.input, kCodes[mode]);
          const std::vector<uint8_t> want = run(m, x, "ref", 1);
          for (const std::string& isa : isas) {
            // avxvnni's vpdpbusd takes any weights: every conv runs its q kernel.
            if (!g.depthwise && isa == "avxvnni") {
              EXPECT_NE(first_kernel(m, isa).find("_6x16q"), std::string::npos)
                  << first_kernel(m, isa);
            }
            if (mode >= 4 && !g.depthwise && (isa == "avx2" || isa == "avx512")) {
              const std::string tile = isa == "avx2" ? "_6x16q" : "_6x64q";
              EXPECT_NE(first_kernel(m, isa).find(tile), std::string::npos)
                  << isa << " mode " << mode << ": " << first_kernel(m, isa);
            }
            for (int threads : {1, 3}) {
              EXPECT_TRUE(run(m, x, isa, threads) == want)
                  << isa << " c" << g.c << " h" << g.h << " w" << g.w << " n" << g.n << " k" << g.k
                  << " s" << g.stride << " p" << g.pad << " d" << g.dil
                  << (g.depthwise ? " dw" : "") << (sgn ? " signed" : "") << " variant " << variant
                  << " mode " << mode << " threads " << threads << " " << t::seed_note(seed);
            }
          }
        }
      }
    }
  }
}

// vpmaddubsw (avx2 / avx512 without VNNI) only where no weight pair can saturate int16: each
// pair's positive and |negative| weight sums at most 128; one more and the conv keeps vpmaddwd.
// Either way the bytes equal the reference at the largest patch bytes.
TEST(FusedKernels, VpmaddubswOnlyForWeightPairsThatFitInt16) {
  struct Case {
    std::vector<int8_t> w;  // 2 output channels x 4 input channels (pairs c0 c1, c2 c3)
    bool quads;
  };
  const Case cases[] = {
      {{127, 1, 64, 64, -1, -127, 100, -100}, true},
      {{127, 2, 0, 0, 1, 1, 1, 1}, false},
      {{0, 0, 0, 0, -65, -64, 3, 3}, false},
      {{-64, -64, 0, 127, 0, 0, 5, -5}, true},
  };
  std::vector<std::string> isas;
  for (const std::string& isa : fused_isas()) {
    if (isa == "avx2" || isa == "avx512") isas.push_back(isa);
  }
  if (isas.empty()) GTEST_SKIP() << "no avx2 / avx512 on this CPU";
  std::mt19937_64 rng(t::test_seed(91));
  for (const Case& c : cases) {
    for (bool sgn : {false, true}) {
      rt::ModelDef m;
      m.metadata.preprocessing.mode = rt::Preprocess::kCodes;
      m.input = {rt::Shape{4, 3, 5}, sgn ? rt::DType::kInt8 : rt::DType::kUint8, sgn ? 7 : 8};
      rt::Conv2dParams p;
      p.out_channels = 2;
      rt::add_conv2d(&m, 0, p, c.w, {0, 0}, {0});
      for (int mode : {0, 1, 2}) {
        const std::vector<uint8_t> x = codes(rng, m.input, mode);
        const std::vector<uint8_t> want = run(m, x, "ref", 1);
        for (const std::string& isa : isas) {
          const std::string name = first_kernel(m, isa);
          EXPECT_EQ(name.find("q__") != std::string::npos, c.quads) << name;
          EXPECT_TRUE(run(m, x, isa, 1) == want) << isa << " " << name << " mode " << mode;
        }
      }
    }
  }
}

TEST(FusedKernels, FullyConnectedAtTheAccumulatorBound) {
  const std::vector<std::string> isas = fused_isas();
  if (isas.empty()) GTEST_SKIP() << "no fused kernels for this CPU";
  // K = 65536: 65536 * 127 * 255 + bias = 2^31 - 1 exactly: the largest sum the loader accepts.
  for (bool sgn : {false, true}) {
    rt::ModelDef m;
    m.metadata.preprocessing.mode = rt::Preprocess::kCodes;
    m.input = {rt::Shape{4, 128, 128}, sgn ? rt::DType::kInt8 : rt::DType::kUint8, 0};
    const int64_t k = 65536;
    const int64_t xmax = sgn ? 127 : 255;
    const int32_t bias = static_cast<int32_t>(2147483647 - k * 127 * xmax);
    std::vector<int8_t> w(static_cast<size_t>(3 * k));
    for (size_t i = 0; i < w.size(); ++i)
      w[i] = static_cast<int8_t>(i < static_cast<size_t>(k) ? 127 : (i % 2 ? -127 : 127));
    rt::add_fully_connected(&m, 0, 3, w, {bias, -bias, 7}, {0});
    ASSERT_TRUE(rt::validate_model(m, nullptr).is_ok());
    std::mt19937_64 rng(3);
    for (int mode = 0; mode < 4; ++mode) {
      const std::vector<uint8_t> x = codes(rng, m.input, mode);
      const std::vector<uint8_t> want = run(m, x, "ref", 1);
      for (const std::string& isa : isas) {
        EXPECT_TRUE(run(m, x, isa, 2) == want) << isa << " signed " << sgn << " mode " << mode;
      }
      if (mode == 1) {
        int32_t first;
        std::memcpy(&first, want.data(), 4);
        EXPECT_EQ(first, 2147483647);  // the bound is reached
      }
    }
  }
}

TEST(FusedKernels, ResidualAddSaturatesAtInt32) {
  const std::vector<std::string> isas = fused_isas();
  if (isas.empty()) GTEST_SKIP() << "no fused kernels for this CPU";
  // Two 3x3 convs of one input, added (fused into the second conv's epilogue) and stored as
  // int32. Channels 0-4 have zero weights, so with both shifts 0 channels 0-3 sum to exactly
  // 2 * bias: +-(2^31 + 2^30) (saturates), -2^31 (one past the saturation range: -(2^31 - 1)),
  // and 2^31 - 2 (exact); the other channels mix random weights with biases near 2^30. Same FLs
  // (both shifts 0) and different FLs (one operand shifted left by 1: channel 4's shift loses
  // its top bit, 2^31 + 10, yet the sum with the other conv's -2^30 fits int32 exactly, so the
  // kernels' fast path must hand that lane to the int64 one).
  for (int32_t wfl_b : {5, 6}) {
    rt::ModelDef m;
    m.metadata.preprocessing.mode = rt::Preprocess::kCodes;
    m.input = {rt::Shape{4, 6, 9}, rt::DType::kUint8, 8};
    rt::Conv2dParams p;
    p.out_channels = 40;
    p.kernel_h = p.kernel_w = 3;
    p.pad_h = p.pad_w = 1;
    std::mt19937_64 rng(11);
    std::vector<int32_t> bias(40);
    const int32_t big[4] = {1610612736, -1610612736, -1073741824, 1073741823};
    for (int32_t o = 0; o < 40; ++o) {
      bias[static_cast<size_t>(o)] =
          o < 4 ? big[o] : (o % 2 ? 1 : -1) * (1073741824 + static_cast<int32_t>(rng() % 4096));
    }
    bias[4] = 1073741829;
    std::vector<int32_t> bias_b = bias;
    bias_b[4] = -1073741824;
    auto weights = [&]() {
      std::vector<int8_t> w = t::random_weights(rng, 40 * 4 * 9, 127);
      std::fill(w.begin(), w.begin() + 5 * 4 * 9, int8_t{0});
      return w;
    };
    const int32_t a = rt::add_conv2d(&m, 0, p, weights(), bias, {5});
    const int32_t b = rt::add_conv2d(&m, 0, p, weights(), bias_b, {wfl_b});
    rt::add_add(&m, b, a);
    ASSERT_TRUE(rt::validate_model(m, nullptr).is_ok());
    for (int mode = 0; mode < 4; ++mode) {
      const std::vector<uint8_t> x = codes(rng, m.input, mode);
      const std::vector<uint8_t> want = run(m, x, "ref", 1);
      ASSERT_EQ(want.size(), size_t{40 * 6 * 9 * 4});
      int32_t ch[5];
      for (int c = 0; c < 5; ++c) std::memcpy(&ch[c], want.data() + 4 * (c * 54 + 20), 4);
      if (wfl_b == 5) {
        EXPECT_EQ(ch[0], 2147483647);
        EXPECT_EQ(ch[1], -2147483647);
        EXPECT_EQ(ch[2], -2147483647);
        EXPECT_EQ(ch[3], 2147483646);
        EXPECT_EQ(ch[4], 5);
      } else {
        EXPECT_EQ(ch[4], 1073741834);  // (1073741829 << 1) - 2^30
      }
      for (const std::string& isa : isas) {
        for (int threads : {1, 2}) {
          EXPECT_TRUE(run(m, x, isa, threads) == want)
              << isa << " wfl " << wfl_b << " mode " << mode << " threads " << threads;
        }
      }
    }
  }
}

TEST(FusedKernels, RequantizeByThirtyOneRoundsLikeTheReference) {
  const std::vector<std::string> isas = fused_isas();
  if (isas.empty()) GTEST_SKIP() << "no fused kernels for this CPU";
  // Input code 1 at pixel 0 of a 2x2 image (FL 8), a 1x1 conv (weight FL 7: FL 15), a global sum
  // pool with shift 16 (FL 31), then signed codes at FL 0: a right shift by 31. Channel sums are
  // w + 4 * bias: -1 (its remainder 2^31 - 1 once wrapped the rounding test: -1 instead of 0),
  // +1, -+2^30 (ties: 0), 2^30 + 3 and -(2^30 + 3) (+-1), 2^30 - 1 (0) and 2^31 - 1 (1).
  rt::ModelDef m;
  m.metadata.preprocessing.mode = rt::Preprocess::kCodes;
  m.input = {rt::Shape{1, 2, 2}, rt::DType::kUint8, 8};
  rt::Conv2dParams p;
  p.out_channels = 20;
  std::vector<int8_t> w(20, 0);
  std::vector<int32_t> bias(20, 0);
  const int8_t ws[8] = {-1, 1, 0, 0, -1, 1, -1, -1};
  const int32_t bs[8] = {0,       0,      1 << 28, -(1 << 28), (1 << 28) + 1, -(1 << 28) - 1,
                         1 << 28, 1 << 29};
  for (int c = 0; c < 8; ++c) {
    w[static_cast<size_t>(c)] = ws[c];
    bias[static_cast<size_t>(c)] = bs[c];
  }
  w[8] = -1;  // channels 8..19 repeat -1 (whole and partial vectors)
  for (int c = 9; c < 20; ++c) w[static_cast<size_t>(c)] = -1;
  const int32_t conv = rt::add_conv2d(&m, 0, p, w, bias, {7});
  const int32_t pooled = rt::add_global_sum_pool(&m, conv, 16);
  t::add_identity_fc(&m, rt::add_requantize(&m, pooled, 0, true), 20);
  ASSERT_TRUE(rt::validate_model(m, nullptr).is_ok());
  const std::vector<uint8_t> x = {1, 0, 0, 0};
  const std::vector<uint8_t> want = run(m, x, "ref", 1);
  ASSERT_EQ(want.size(), size_t{20 * 4});
  std::vector<int32_t> logits(20);
  std::memcpy(logits.data(), want.data(), want.size());
  const std::vector<int32_t> expect = {0, 0, 0, 0, 1, -1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(logits, expect);
  for (const std::string& isa : isas) {
    for (int threads : {1, 2})
      EXPECT_TRUE(run(m, x, isa, threads) == want) << isa << " " << threads;
  }
}

namespace {

struct PoolGeo {
  int32_t c, h, w, n, k, stride, pool_k, pool_s, pool_p;
  int32_t pad = -1;  // the conv's padding (-1: k / 2)
};

// input -> conv (+ an Add of a second conv, + ReLU) -> max pool -> tail. The pool alone reads
// the conv's int32, so the fused engine runs both as one banded stage. tail 0: codes, read out by
// a 1x1 conv; 1: the pooled int32 also feeds an Add (ResNet's stem and first block: the pool
// writes int32 and codes); 2: the pooled int32 is the graph's output.
rt::ModelDef conv_pool_model(const PoolGeo& g, bool sgn, bool add, bool relu, int tail,
                             uint64_t seed) {
  std::mt19937_64 rng(seed);
  rt::ModelDef m;
  m.metadata.preprocessing.mode = rt::Preprocess::kCodes;
  m.input = {rt::Shape{g.c, g.h, g.w}, sgn ? rt::DType::kInt8 : rt::DType::kUint8, 7};
  rt::Conv2dParams p;
  p.out_channels = g.n;
  p.kernel_h = p.kernel_w = g.k;
  p.stride_h = p.stride_w = g.stride;
  p.pad_h = p.pad_w = g.pad >= 0 ? g.pad : g.k / 2;
  const size_t nw = static_cast<size_t>(g.n) * g.c * g.k * g.k;
  std::vector<int32_t> wfl(static_cast<size_t>(g.n));
  for (size_t i = 0; i < wfl.size(); ++i) wfl[i] = static_cast<int32_t>((i * 5 + seed) % 7);
  const int32_t other =
      add ? rt::add_conv2d(&m, 0, p, t::random_weights(rng, nw, 127),
                           t::random_bias(rng, static_cast<size_t>(g.n), 5000), {3})
          : -1;
  int32_t v = rt::add_conv2d(&m, 0, p, t::random_weights(rng, nw, 127),
                             t::random_bias(rng, static_cast<size_t>(g.n), 1 << 18), wfl);
  if (add) v = rt::add_add(&m, v, other);
  if (relu) v = rt::add_relu(&m, v);
  const int32_t pooled = rt::add_max_pool(&m, v, g.pool_k, g.pool_s, g.pool_p);
  if (tail == 2) return m;
  const int32_t codes = rt::add_requantize(&m, pooled, 5, !relu);
  if (tail == 1) {
    rt::Conv2dParams q;
    q.out_channels = g.n;
    q.kernel_h = q.kernel_w = 3;
    q.pad_h = q.pad_w = 1;
    const int32_t body = rt::add_conv2d(
        &m, codes, q, t::random_weights(rng, static_cast<size_t>(9 * g.n * g.n), 127),
        t::random_bias(rng, static_cast<size_t>(g.n), 1000), {4});
    const int32_t sum = rt::add_relu(&m, rt::add_add(&m, body, pooled));
    rt::Conv2dParams one;
    one.out_channels = 1;
    rt::add_conv2d(&m, rt::add_requantize(&m, sum, 3, false), one,
                   std::vector<int8_t>(static_cast<size_t>(g.n), 1), {0}, {0});
    return m;
  }
  rt::Conv2dParams ones;
  ones.out_channels = 2;
  rt::add_conv2d(&m, codes, ones, std::vector<int8_t>(static_cast<size_t>(2 * g.n), 1), {0, -1},
                 {0});
  return m;
}

}  // namespace

TEST(FusedKernels, ConvAndMaxPoolInOneStageEqualReference) {
  const std::vector<std::string> isas = fused_isas();
  if (isas.empty()) GTEST_SKIP() << "no fused kernels for this CPU";
  const uint64_t seed = t::test_seed(91);
  std::mt19937_64 rng(seed);
  // ResNet's stem (7x7/2 on 3 channels, 3x3/2/1 pool) and in-place tap rows (c % 4 == 0), pools
  // whose windows straddle bands (3x3/2, 3x3/1, 5x5/1) or never do (2x2/2), a 1x1 pool, odd
  // sizes, channel counts off the vector widths, and a conv output of only a few rows.
  const PoolGeo geos[] = {
      {3, 60, 44, 64, 7, 2, 3, 2, 1},
      {8, 37, 29, 24, 3, 1, 3, 2, 1},
      {4, 26, 19, 70, 3, 2, 3, 1, 1},
      {3, 33, 17, 16, 5, 1, 5, 1, 2},
      {12, 30, 22, 40, 3, 1, 2, 2, 0},
      {4, 21, 9, 9, 1, 1, 1, 1, 0},
      {5, 9, 40, 33, 3, 2, 2, 1, 1},
      {4, 6, 6, 16, 3, 1, 3, 2, 1},
      // Odd int32 row bytes (3 channels x 45: per-thread slots must stay 64-byte aligned), and
      // a 1x1 conv padded by 3 on a 2-row input, whose last bands read only padding.
      {4, 45, 45, 3, 3, 1, 3, 1, 1},
      {4, 2, 5, 8, 1, 1, 2, 2, 0, 3},
  };
  for (const PoolGeo& g : geos) {
    for (int variant = 0; variant < 6; ++variant) {
      const bool sgn = variant % 2 == 1;
      const bool add = variant == 2 || variant == 5;
      const bool relu = variant != 1;
      const int tail = variant % 3;
      const rt::ModelDef m = conv_pool_model(g, sgn, add, relu, tail, seed + variant);
      const rt::Status valid = rt::validate_model(m, nullptr);
      ASSERT_TRUE(valid.is_ok()) << valid.message();
      const int conv_op = add ? 1 : 0;
      for (int mode = 0; mode < 4; ++mode) {
        const std::vector<uint8_t> x = codes(rng, m.input, mode);
        const std::vector<uint8_t> want = run(m, x, "ref", 1);
        for (const std::string& isa : isas) {
          for (int threads : {1, 2, 3}) {
            rt::Interpreter it;
            rt::InterpreterOptions o;
            o.isa = isa;
            o.num_threads = threads;
            ASSERT_TRUE(it.load(m).is_ok());
            ASSERT_TRUE(it.prepare(o).is_ok());
            // The conv and the pool are one stage (the pool's op reports the same kernel).
            const std::string name = it.kernel_name(conv_op);
            EXPECT_NE(name.find("+s32_maxpool"), std::string::npos) << name;
            EXPECT_EQ(name, it.kernel_name(conv_op + 1 + (add ? 1 : 0) + (relu ? 1 : 0)));
            const std::string where = isa + " c" + std::to_string(g.c) + " h" +
                                      std::to_string(g.h) + " w" + std::to_string(g.w) + " pool " +
                                      std::to_string(g.pool_k) + "/" + std::to_string(g.pool_s) +
                                      " variant " + std::to_string(variant) + " mode " +
                                      std::to_string(mode) + " threads " + std::to_string(threads) +
                                      " " + t::seed_note(seed);
            EXPECT_TRUE(run(m, x, isa, threads) == want) << where;
            // A batch of three (the image in the middle): per-image programs or one after another.
            std::vector<uint8_t> batch(3 * x.size());
            const std::vector<uint8_t> y = codes(rng, m.input, 0);
            std::copy(y.begin(), y.end(), batch.begin());
            std::copy(x.begin(), x.end(), batch.begin() + static_cast<int64_t>(x.size()));
            std::copy(y.begin(), y.end(), batch.begin() + 2 * static_cast<int64_t>(x.size()));
            std::vector<int32_t> out(3 * want.size() / 4);
            ASSERT_TRUE(it.run_batch(batch.data(), 3, out.data()).is_ok()) << where;
            EXPECT_EQ(std::memcmp(out.data() + want.size() / 4, want.data(), want.size()), 0)
                << "batch " << where;
          }
        }
      }
    }
  }
}

// A block output whose only readers are two Requantize ops to one code format (ResNet's block
// read by the next block's conv and by its downsample shortcut): both take the codes the block's
// stage writes from its registers, and its int32 value (64 KB here) is never stored, so the arena
// stays below that size; the logits still equal the reference. A third reader (a ReLU) needs the
// int32 value again.
TEST(FusedKernels, Int32ValueReadOnlyAsSameCodesIsNotStored) {
  const std::vector<std::string> isas = fused_isas();
  if (isas.empty()) GTEST_SKIP() << "no fused kernels for this CPU";
  for (bool int32_reader : {false, true}) {
    std::mt19937_64 rng(77);
    rt::ModelDef m;
    m.metadata.preprocessing.mode = rt::Preprocess::kCodes;
    m.input = {rt::Shape{8, 16, 16}, rt::DType::kUint8, 8};
    rt::Conv2dParams p3;
    p3.out_channels = 64;
    p3.kernel_h = p3.kernel_w = 3;
    p3.pad_h = p3.pad_w = 1;
    const int32_t block =
        rt::add_relu(&m, rt::add_conv2d(&m, 0, p3, t::random_weights(rng, 64 * 8 * 9, 127),
                                        t::random_bias(rng, 64, 1 << 12), {7}));
    const int32_t a = rt::add_requantize(&m, block, 4, false);
    const int32_t b = rt::add_requantize(&m, block, 4, false);
    rt::Conv2dParams p1;
    p1.out_channels = 2;
    const int32_t ya = rt::add_conv2d(&m, a, p1, t::random_weights(rng, 2 * 64, 127), {5, -5}, {3});
    const int32_t yb = rt::add_conv2d(&m, b, p1, t::random_weights(rng, 2 * 64, 127), {1, 2}, {3});
    int32_t y = rt::add_add(&m, ya, yb);
    if (int32_reader) {
      // The block's int32 value read again (a ReLU of it), aligned and added to the output.
      const int32_t again = rt::add_relu(&m, block);
      rt::Conv2dParams sum;
      sum.out_channels = 2;
      const int32_t codes = rt::add_requantize(&m, again, 2, false);
      y = rt::add_add(
          &m, y, rt::add_conv2d(&m, codes, sum, t::random_weights(rng, 2 * 64, 127), {0, 0}, {3}));
    }
    ASSERT_TRUE(rt::validate_model(m, nullptr).is_ok());
    const std::vector<uint8_t> x = codes(rng, m.input, 0);
    const std::vector<uint8_t> want = run(m, x, "ref", 1);
    for (const std::string& isa : isas) {
      EXPECT_TRUE(run(m, x, isa, 1) == want) << isa << " int32 reader " << int32_reader;
      rt::Interpreter it;
      ASSERT_TRUE(prepare(m, isa, 1, &it));
      const size_t block_int32 = size_t{64} * 16 * 16 * 4;
      if (int32_reader) {
        EXPECT_GE(it.arena_bytes(), block_int32) << isa;
      } else {
        EXPECT_LT(it.arena_bytes(), block_int32) << isa;
      }
    }
  }
}
