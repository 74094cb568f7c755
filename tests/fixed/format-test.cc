// Format ranges and validity (F8NET.md §2): symmetric signed ranges, FL bounds, int32 codes.
#include <gtest/gtest.h>

#include "f8net/fixed.h"

namespace fx = f8net::fixed;

TEST(Format, EightBitRanges) {
  EXPECT_EQ(fx::weight_format(7).qmin(), -127);
  EXPECT_EQ(fx::weight_format(7).qmax(), 127);
  EXPECT_EQ(fx::activation_format(8, false).qmin(), 0);
  EXPECT_EQ(fx::activation_format(8, false).qmax(), 255);
  EXPECT_EQ(fx::bias_format(10).qmax(), 2147483647);
  EXPECT_EQ(fx::bias_format(10).qmin(), -2147483647);
}

TEST(Format, ValidityBoundsFractionalLength) {
  EXPECT_TRUE(fx::weight_format(0).valid());
  EXPECT_TRUE(fx::weight_format(7).valid());
  EXPECT_FALSE(fx::weight_format(8).valid());   // signed 8-bit: FL <= 7
  EXPECT_FALSE(fx::weight_format(-1).valid());  // negative FLs do not exist
  EXPECT_TRUE(fx::activation_format(8, false).valid());
  EXPECT_FALSE(fx::activation_format(9, false).valid());
  EXPECT_TRUE(fx::bias_format(31).valid());
  EXPECT_FALSE((fx::Format{33, 0, true}.valid()));
  EXPECT_FALSE((fx::Format{32, 0, false}.valid()));  // 2^32-1 does not fit int32
  EXPECT_FALSE((fx::Format{1, 0, true}.valid()));    // signed 1-bit holds only 0
  EXPECT_EQ(fx::weight_format(3), (fx::Format{8, 3, true}));
  EXPECT_NE(fx::weight_format(3), fx::activation_format(3, false));
}

TEST(Quantize, NonFiniteInputs) {
  EXPECT_EQ(fx::quantize(std::nan(""), fx::weight_format(3)), 0);
  EXPECT_EQ(fx::quantize(INFINITY, fx::weight_format(3)), 127);
  EXPECT_EQ(fx::quantize(-INFINITY, fx::activation_format(3, false)), 0);
  EXPECT_FALSE(fx::ste_pass(std::nan(""), fx::weight_format(3)));
}

TEST(Quantize, FloatingModeMaskUsesUnroundedValue) {
  // 0.5/2^5 rounds to code 0 (blocked) but its unrounded product 0.5 passes in floating mode.
  const fx::Format u5 = fx::activation_format(5, false);
  EXPECT_FALSE(fx::ste_pass(1.0 / 64, u5));
  EXPECT_TRUE(fx::ste_pass(1.0 / 64, u5, /*round=*/false));
  // 254.6 rounds to 255 (blocked) but passes unrounded.
  EXPECT_FALSE(fx::ste_pass(254.6 / 32, u5));
  EXPECT_TRUE(fx::ste_pass(254.6 / 32, u5, false));
}
