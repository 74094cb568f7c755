// Rounding, quantization and requantization (F8NET.md §3, §4, §15.2). Every rounding in f8net is
// round-half-to-even: std::nearbyint under the default FE_TONEAREST mode for floating point, the
// tie-corrected arithmetic shift for integers. Never std::round, (a + half) >> d, or division.
#pragma once

#include <cassert>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "f8net/fixed/format.h"

namespace f8net::fixed {

// Clamps an integer to the code range of `f`.
constexpr int64_t saturate(int64_t v, Format f) {
  return v < f.qmin() ? f.qmin() : (v > f.qmax() ? f.qmax() : v);
}

// Round half to even, equal to std::nearbyint in the default rounding mode but without a libm
// call on baseline x86-64 (which has no rounding instruction): below 2^51, adding 1.5 * 2^52
// lands in a binade whose spacing is exactly 1, so the hardware addition rounds to an integer,
// half to even; subtracting it back is exact. Larger magnitudes (and inf/NaN) take nearbyint.
// Zero results are +0.0 (nearbyint would keep the sign of a negative input).
inline double round_half_even(double v) {
  constexpr double kMagic = 6755399441055744.0;       // 1.5 * 2^52
  constexpr double kExactBelow = 2251799813685248.0;  // 2^51
  if (std::fabs(v) < kExactBelow) return (v + kMagic) - kMagic;
  return std::nearbyint(v);
}

// 2^e as a double for e in [-1022, 1023], built from its bits (no libm call). Multiplying by it
// is correctly rounded like std::ldexp, so x * exp2i(e) == std::ldexp(x, e).
inline double exp2i(int e) {
  assert(e >= -1022 && e <= 1023);
  const uint64_t bits = static_cast<uint64_t>(e + 1023) << 52;
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

// The real number x scaled to the grid of `f` and rounded half-to-even, before saturation.
// Exact scaling by 2^FL; the caller must keep the default rounding mode.
inline double round_to_grid(double x, int fl) { return round_half_even(x * exp2i(fl)); }

// saturate(round_half_even(x * 2^FL)). NaN maps to code 0 (a cast of NaN would be undefined);
// +-inf saturate. Pre: f.valid().
inline int32_t quantize(double x, Format f) {
  assert(f.valid());
  if (std::isnan(x)) return 0;
  const double r = round_to_grid(x, f.fl);
  const double lo = static_cast<double>(f.qmin());
  const double hi = static_cast<double>(f.qmax());
  return static_cast<int32_t>(r < lo ? lo : (r > hi ? hi : r));
}

// code * 2^-FL, exact.
inline double dequantize(int32_t code, Format f) { return code * exp2i(-f.fl); }

// quantize then dequantize: Q(x; f) of F8NET.md §4 (exact in double).
inline double fake_quantize(double x, Format f) { return dequantize(quantize(x, f), f); }

// The straight-through gradient mask of F8NET.md §4, evaluated on the ROUNDED scaled value with
// strict inequalities: signed |r| < qmax; unsigned 0 < r < qmax. With round=false (the FP
// "floating" pre-training) the unrounded product is used instead. NaN never passes.
inline bool ste_pass(double x, Format f, bool round = true) {
  const double scaled = x * exp2i(f.fl);
  const double r = round ? round_half_even(scaled) : scaled;
  const double hi = static_cast<double>(f.qmax());
  return f.is_signed ? (std::fabs(r) < hi) : (r > 0.0 && r < hi);
}

// Round-half-to-even of value / 2^shift for shift in [0, 62]; exact left shift value * 2^-shift
// for shift in [-62, 0) (pre: the result fits int64). Never overflows for shift >= 0, including
// INT64_MIN/MAX. Equivalent to F8NET.md §3's "t = a + h; tie ? (t >> (d+1)) << 1 : t >> d".
constexpr int64_t shift_round_half_even(int64_t value, int shift) {
  assert(shift >= -62 && shift <= 62);
  if (shift <= 0) {
    // Through uint64: a left shift of a negative signed value is undefined before C++20.
    return static_cast<int64_t>(static_cast<uint64_t>(value) << (-shift));
  }
  const uint64_t mask = (uint64_t{1} << shift) - 1;
  const uint64_t half = uint64_t{1} << (shift - 1);
  const uint64_t rem = static_cast<uint64_t>(value) & mask;  // non-negative remainder
  int64_t q = value >> shift;                                // arithmetic: floor(value / 2^shift)
  if (rem > half || (rem == half && (q & 1) != 0)) q += 1;   // ties go to the even neighbour
  return q;
}

// Re-expresses an integer `acc` at FL `acc_fl` in format `out` (F8NET.md §15.2): a
// rounding right shift (or exact left shift) by acc_fl - out.fl, then saturation.
// Saturates instead of overflowing on large left shifts. Pre: out.valid(), |shift| <= 62.
constexpr int32_t requantize(int64_t acc, int acc_fl, Format out) {
  assert(out.valid());
  const int shift = acc_fl - out.fl;
  assert(shift >= -62 && shift <= 62);
  if (shift < 0) {
    const int left = -shift;
    const int64_t limit = std::numeric_limits<int64_t>::max() >> left;
    if (acc > limit) return static_cast<int32_t>(out.qmax());
    if (acc < -limit) return static_cast<int32_t>(out.qmin());
  }
  return static_cast<int32_t>(saturate(shift_round_half_even(acc, shift), out));
}

// The 32-bit bias code of F8NET.md §9 / TV12: rne(b * 2^FL) computed in double and clamped to
// +-(2^31-1) before narrowing (float32 cannot represent 2^31-1).
inline int32_t quantize_bias(double b, int fl) { return quantize(b, bias_format(fl)); }

}  // namespace f8net::fixed
