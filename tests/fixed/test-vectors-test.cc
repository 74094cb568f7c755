// The test vectors of F8NET.md §22 that concern the fixed-point core: TV1-TV3, TV7, TV9-TV13.
// (TV4-TV6 live in fraclen-test.cc; TV8 needs BN folding and lives with the training tests.)
#include <gtest/gtest.h>

#include <cmath>

#include "f8net/fixed.h"

namespace fx = f8net::fixed;

namespace {
struct QRow {
  double x;
  int code;
  double value;
  bool pass;
};

void check_rows(const std::vector<QRow>& rows, fx::Format f) {
  for (const QRow& r : rows) {
    EXPECT_EQ(fx::quantize(r.x, f), r.code) << "x=" << r.x;
    EXPECT_EQ(fx::fake_quantize(r.x, f), r.value) << "x=" << r.x;
    EXPECT_EQ(fx::ste_pass(r.x, f), r.pass) << "x=" << r.x;
  }
}
}  // namespace

TEST(TestVectors, TV1SignedFl7) {
  check_rows({{3.0 / 256, 2, 0.015625, true},
              {5.0 / 256, 2, 0.015625, true},
              {-3.0 / 256, -2, -0.015625, true},
              {0.5, 64, 0.5, true},
              {255.0 / 256, 127, 0.9921875, false},
              {253.0 / 256, 126, 0.984375, true},
              {-1.0, -127, -0.9921875, false},
              {1.5, 127, 0.9921875, false},
              {1.0 / 256, 0, 0.0, true},
              {-1.0 / 256, 0, 0.0, true}},
             fx::weight_format(7));
}

TEST(TestVectors, TV2UnsignedFl5) {
  check_rows({{-0.25, 0, 0.0, false},
              {0.0, 0, 0.0, false},
              {1.0 / 64, 0, 0.0, false},
              {1.0 / 32, 1, 0.03125, true},
              {3.0 / 64, 2, 0.0625, true},
              {201.0 / 64, 100, 3.125, true},
              {203.0 / 64, 102, 3.1875, true},
              {509.0 / 64, 254, 7.9375, true},
              {255.0 / 32, 255, 7.96875, false},
              {8.0, 255, 7.96875, false}},
             fx::activation_format(5, false));
}

TEST(TestVectors, TV3Requantize12To5) {
  struct Row {
    int64_t acc;
    int s, u;
  };
  const Row rows[] = {{64, 0, 0},          {63, 0, 0},         {65, 1, 1},        {192, 2, 2},
                      {320, 2, 2},         {-64, 0, 0},        {-192, -2, 0},     {-320, -2, 0},
                      {-65, -1, 0},        {16320, 127, 128},  {16384, 127, 128}, {-16384, -127, 0},
                      {1000000, 127, 255}, {-1000000, -127, 0}};
  for (const Row& r : rows) {
    EXPECT_EQ(fx::requantize(r.acc, 12, fx::activation_format(5, true)), r.s) << r.acc;
    EXPECT_EQ(fx::requantize(r.acc, 12, fx::activation_format(5, false)), r.u) << r.acc;
  }
  // Left shift FL 3 -> 8 unsigned.
  EXPECT_EQ(fx::requantize(5, 3, fx::activation_format(8, false)), 160);
  EXPECT_EQ(fx::requantize(9, 3, fx::activation_format(8, false)), 255);
}

TEST(TestVectors, TV7PactEquivalence) {
  const double s = fx::fix_scaling(6.0, 4, /*is_signed=*/false);
  EXPECT_NEAR(s, 0.3764705882, 1e-10);
  const double z[] = {-1.0, 0.05, 0.5, 2.0, 5.99, 7.0};
  const int want[] = {0, 2, 21, 85, 255, 255};
  for (int i = 0; i < 6; ++i) {
    const int code = fx::quantize(z[i] / s, fx::activation_format(4, false));
    EXPECT_EQ(code, want[i]) << z[i];
    const double clipped = std::min(std::max(z[i], 0.0), 6.0);
    EXPECT_EQ(code, static_cast<int>(std::nearbyint(clipped * 255.0 / 6.0))) << z[i];
  }
}

TEST(TestVectors, TV9ResidualAlignment) {
  const int64_t body = 5000;                                     // FL 11
  const int64_t skip = fx::shift_round_half_even(-700, 9 - 11);  // FL 9 -> 11: left shift by 2
  EXPECT_EQ(skip, -2800);
  int64_t sum = body + skip;
  EXPECT_EQ(sum, 2200);
  EXPECT_EQ(std::ldexp(static_cast<double>(sum), -11), 1.07421875);
  sum = std::max<int64_t>(sum, 0);  // ReLU
  EXPECT_EQ(fx::requantize(sum, 11, fx::activation_format(4, false)), 17);
}

TEST(TestVectors, TV10AveragePoolSumAndShift) {
  int64_t sum = 0;
  for (int i = 0; i < 48; ++i) sum += 100;
  sum += 149;
  EXPECT_EQ(sum, 4949);
  const int out_fl = 10 + 6;  // shift by round(log2(49)) = 6
  EXPECT_NEAR(std::ldexp(static_cast<double>(sum), -out_fl), 0.07551575, 1e-8);
  EXPECT_EQ(fx::requantize(sum, out_fl, fx::activation_format(4, false)), 1);
  // The true mean (4949/49 at FL 10) would give 2: the 64/49 compensation matters.
  EXPECT_EQ(fx::quantize(4949.0 / 49 / 1024, fx::activation_format(4, false)), 2);
}

TEST(TestVectors, TV11InputPixels) {
  for (int k = 0; k < 256; ++k) {
    const float x = static_cast<float>(k) / 255.0f;  // ToTensor
    const int code = fx::quantize(255.0 * x, fx::activation_format(0, false));
    ASSERT_EQ(code, k);
    EXPECT_EQ(fx::dequantize(code, fx::activation_format(8, false)), k / 256.0);
  }
  const double z = (128.0 / 255.0 - 0.485) / 0.229;
  EXPECT_NEAR(z, 0.074065, 1e-6);
  EXPECT_EQ(fx::quantize(z, fx::activation_format(5, true)), 2);
  EXPECT_EQ(fx::fake_quantize(z, fx::activation_format(5, true)), 0.0625);
}

TEST(TestVectors, TV12BiasCodes) {
  EXPECT_EQ(fx::quantize_bias(0.123456, 13), 1011);
  EXPECT_EQ(fx::quantize_bias(-2.5 / 8192, 13), -2);
  EXPECT_EQ(fx::quantize_bias(-1.5 / 8192, 13), -2);
  EXPECT_EQ(fx::quantize_bias(70000.0, 15), 2147483647);
  EXPECT_EQ(fx::quantize_bias(-70000.0, 15), -2147483647);
}

TEST(TestVectors, TV13FixScaling) {
  EXPECT_NEAR(fx::fix_scaling(12.114248275756836, 8, false), 12.161755, 1e-6);
  EXPECT_NEAR(fx::fix_scaling(17.634538650512695, 1, false), 0.138310, 1e-6);
  EXPECT_NEAR(fx::fix_scaling(22.902, 7, true), 23.082331, 1e-6);
  EXPECT_EQ(fx::fix_scaling(-6.0, 4, false), fx::fix_scaling(6.0, 4, false));  // |alpha|
}
