// shift_round_half_even and requantize against an exact oracle that uses integer division, never
// shifts: exhaustive over int16 x shifts 0..30, random int32/int64 values, and the extremes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>

#include "f8net/fixed.h"
#include "support/random.h"

namespace fx = f8net::fixed;

namespace {

__extension__ typedef __int128 int128;  // GCC/Clang extension, fine in a test oracle

// rne(a / 2^d) by exact rational arithmetic in 128 bits: floor division, then compare twice the
// remainder with the divisor.
int64_t oracle_rne(int64_t a, int d) {
  const int128 p = static_cast<int128>(1) << d;
  int128 q = a / p;
  int128 r = a % p;
  if (r < 0) {
    r += p;
    q -= 1;
  }
  if (2 * r > p || (2 * r == p && (q & 1) != 0)) q += 1;
  return static_cast<int64_t>(q);
}

// The literal formula of F8NET.md §3 (valid where a + h cannot overflow).
int64_t spec_formula(int64_t a, int d) {
  if (d <= 0) return a * (int64_t{1} << -d);
  const int64_t h = int64_t{1} << (d - 1);
  const int64_t t = a + h;
  if ((a & ((int64_t{1} << d) - 1)) == h) return (t >> (d + 1)) * 2;
  return t >> d;
}

}  // namespace

TEST(ShiftRoundHalfEven, ExhaustiveInt16AllShifts) {
  int64_t mismatches = 0;
  for (int d = 0; d <= 30; ++d) {
    for (int64_t a = std::numeric_limits<int16_t>::min(); a <= std::numeric_limits<int16_t>::max();
         ++a) {
      const int64_t got = fx::shift_round_half_even(a, d);
      if (got != oracle_rne(a, d) || got != spec_formula(a, d)) {
        if (++mismatches < 10) ADD_FAILURE() << "a=" << a << " d=" << d << " got " << got;
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(ShiftRoundHalfEven, RandomInt32AndInt64) {
  const uint64_t seed = f8net::testing::test_seed(20221);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> i32;
  std::uniform_int_distribution<int64_t> i64;
  for (int i = 0; i < 200000; ++i) {
    const int64_t a32 = i32(rng);
    const int d32 = static_cast<int>(rng() % 32);
    ASSERT_EQ(fx::shift_round_half_even(a32, d32), oracle_rne(a32, d32))
        << "a=" << a32 << " d=" << d32 << " " << f8net::testing::seed_note(seed);
    ASSERT_EQ(fx::shift_round_half_even(a32, d32), spec_formula(a32, d32));
    const int64_t a64 = i64(rng);
    const int d64 = static_cast<int>(rng() % 63);
    ASSERT_EQ(fx::shift_round_half_even(a64, d64), oracle_rne(a64, d64))
        << "a=" << a64 << " d=" << d64 << " " << f8net::testing::seed_note(seed);
  }
}

TEST(ShiftRoundHalfEven, Extremes) {
  const int64_t values[] = {std::numeric_limits<int32_t>::min(),
                            std::numeric_limits<int32_t>::max(),
                            std::numeric_limits<int64_t>::min(),
                            std::numeric_limits<int64_t>::max(),
                            std::numeric_limits<int64_t>::min() + 1,
                            -1,
                            0,
                            1};
  for (int64_t a : values) {
    for (int d = 0; d <= 62; ++d) {
      EXPECT_EQ(fx::shift_round_half_even(a, d), oracle_rne(a, d)) << "a=" << a << " d=" << d;
    }
  }
}

TEST(ShiftRoundHalfEven, TiesGoToEven) {
  // shift 1: x.5 ties.
  EXPECT_EQ(fx::shift_round_half_even(1, 1), 0);
  EXPECT_EQ(fx::shift_round_half_even(3, 1), 2);
  EXPECT_EQ(fx::shift_round_half_even(5, 1), 2);  // half-up would give 3
  EXPECT_EQ(fx::shift_round_half_even(-1, 1), 0);
  EXPECT_EQ(fx::shift_round_half_even(-3, 1), -2);  // half-up would give -1
  EXPECT_EQ(fx::shift_round_half_even(-5, 1), -2);
  EXPECT_EQ(fx::shift_round_half_even(-7, 2), -2);  // truncating (-7+2)/4 gives -1
}

TEST(ShiftRoundHalfEven, LeftShiftIsExact) {
  EXPECT_EQ(fx::shift_round_half_even(5, -5), 160);
  EXPECT_EQ(fx::shift_round_half_even(-700, -2), -2800);
  EXPECT_EQ(fx::shift_round_half_even(-1, -62), -(int64_t{1} << 62));
}

TEST(Requantize, MatchesOracleThenSaturates) {
  const uint64_t seed = f8net::testing::test_seed(777);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> i32;
  for (int i = 0; i < 100000; ++i) {
    const int64_t acc = i32(rng);
    const int acc_fl = static_cast<int>(rng() % 24);
    const bool sg = rng() & 1;
    const fx::Format out{8, static_cast<int>(rng() % (sg ? 8 : 9)), sg};
    const int shift = acc_fl - out.fl;
    const int64_t exact = shift >= 0 ? oracle_rne(acc, shift) : acc * (int64_t{1} << -shift);
    const int64_t want = std::min<int64_t>(std::max<int64_t>(exact, out.qmin()), out.qmax());
    ASSERT_EQ(fx::requantize(acc, acc_fl, out), want)
        << "acc=" << acc << " fl " << acc_fl << "->" << out.fl << " signed=" << sg << " "
        << f8net::testing::seed_note(seed);
  }
}

TEST(Requantize, HugeLeftShiftSaturatesInsteadOfOverflowing) {
  const fx::Format u8{8, 8, false};
  const fx::Format s32{32, 31, true};
  EXPECT_EQ(fx::requantize(std::numeric_limits<int64_t>::max(), 0, u8), 255);
  EXPECT_EQ(fx::requantize(std::numeric_limits<int64_t>::min(), 0, u8), 0);
  EXPECT_EQ(fx::requantize(std::numeric_limits<int64_t>::min(), 0, s32), -2147483647);
  EXPECT_EQ(fx::requantize(3, 0, s32), 2147483647);
  EXPECT_EQ(fx::requantize(0, 0, s32), 0);
}

TEST(RoundHalfEven, EqualsNearbyint) {
  const uint64_t seed = f8net::testing::test_seed(4242);
  std::mt19937_64 rng(seed);
  auto same = [](double v) {
    const double a = fx::round_half_even(v), b = std::nearbyint(v);
    return (std::isnan(a) && std::isnan(b)) || a == b;
  };
  // Ties and near-ties at many magnitudes, both signs, up to and across 2^51 and 2^52.
  for (int e = -3; e <= 60; ++e) {
    const double base = std::ldexp(1.0, e);
    for (double k : {0.0, 0.5, 1.0, 1.5, 2.5, 3.5}) {
      for (double v : {base + k, base - k, -(base + k), -(base - k)}) {
        for (double w : {v, std::nextafter(v, 0.0), std::nextafter(v, 1e300)}) {
          ASSERT_TRUE(same(w)) << w;
        }
      }
    }
  }
  for (double v :
       {0.0, -0.0, 0.5, -0.5, 1e-320, double{INFINITY}, -double{INFINITY}, std::nan("")}) {
    ASSERT_TRUE(same(v)) << v;
  }
  std::uniform_int_distribution<uint64_t> bits;
  for (int i = 0; i < 1000000; ++i) {
    uint64_t b = bits(rng);
    double v;
    std::memcpy(&v, &b, sizeof v);
    const double scaled = std::ldexp(v, -static_cast<int>(rng() % 64));  // also many in range
    ASSERT_TRUE(same(v)) << v << " " << f8net::testing::seed_note(seed);
    ASSERT_TRUE(same(scaled)) << scaled << " " << f8net::testing::seed_note(seed);
  }
}

TEST(Exp2i, EqualsLdexp) {
  for (int e = -1022; e <= 1023; ++e) ASSERT_EQ(fx::exp2i(e), std::ldexp(1.0, e)) << e;
  // Scaling by exp2i is correctly rounded like ldexp, also into the denormal range.
  for (double x : {1.0, 3.0, 1.7976931348623157e308, 4.9e-324, 1.2345678901234567e-300}) {
    for (int e : {-60, -8, 0, 8, 60})
      ASSERT_EQ(x * fx::exp2i(e), std::ldexp(x, e)) << x << " " << e;
  }
}
