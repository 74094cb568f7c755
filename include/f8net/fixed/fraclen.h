// Choosing fractional lengths (F8NET.md §5, §6): the metric rule FL = clamp(floor(log2(C/m))),
// the RMSE grid search over every FL (first minimum wins), and the activation-FL moving average.
// Training (qat) and the tests call these; the rules live nowhere else.
#pragma once

#include <array>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "f8net/fixed/format.h"
#include "f8net/fixed/rounding.h"

namespace f8net::fixed {

// The statistic a metric-rule FL is computed from: unbiased standard deviation (divisor N-1),
// mean absolute value, or root mean square (F8NET.md §5.2).
enum class Metric { kStd, kMae, kRms };

// The constant C of the metric rule for 8-bit words (F8NET.md §5.2 table, fitted in §5.3).
constexpr double metric_constant(Metric metric, bool is_signed) {
  switch (metric) {
    case Metric::kStd: return is_signed ? 40.0 : 70.0;
    case Metric::kMae: return 30.0;
    case Metric::kRms: return is_signed ? 40.0 : 50.0;
  }
  return 0.0;
}

// FL = clamp(floor(log2(C / m)), 0, word_bits - is_signed), computed exactly as the largest f with
// m * 2^f <= C (no log rounding at powers of two). m = 0 gives the largest FL (log2(+inf)).
// Only 8-bit constants exist (the reference implements n = 8 only); for other word lengths C is
// scaled by 2^(word_bits - 8), which keeps the clip range the same number of grid steps wide.
// Pre: m >= 0 and not NaN.
inline int fl_from_metric(double m, Metric metric, bool is_signed, int word_bits = 8) {
  assert(!(m < 0.0) && !std::isnan(m));
  const int max_fl = is_signed ? word_bits - 1 : word_bits;
  const double c = std::ldexp(metric_constant(metric, is_signed), word_bits - 8);
  if (!(m > 0.0)) return max_fl;
  if (m > c) return 0;  // floor(log2(C/m)) < 0
  int fl = 0;
  while (fl < max_fl && std::ldexp(m, fl + 1) <= c) ++fl;
  return fl;
}

// The metric of n values, accumulated in double in index order. Unbiased std of fewer than two
// values is 0 (PyTorch would give NaN; one value carries no spread).
template <typename T>
double compute_metric(const T* x, size_t n, Metric metric) {
  if (n == 0) return 0.0;
  switch (metric) {
    case Metric::kStd: {
      if (n < 2) return 0.0;
      double sum = 0.0;
      for (size_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]);
      const double mean = sum / static_cast<double>(n);
      double ss = 0.0;
      for (size_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(x[i]) - mean;
        ss += d * d;
      }
      return std::sqrt(ss / static_cast<double>(n - 1));
    }
    case Metric::kMae: {
      double sum = 0.0;
      for (size_t i = 0; i < n; ++i) sum += std::fabs(static_cast<double>(x[i]));
      return sum / static_cast<double>(n);
    }
    case Metric::kRms: {
      double sum = 0.0;
      for (size_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * static_cast<double>(x[i]);
      return std::sqrt(sum / static_cast<double>(n));
    }
  }
  return 0.0;
}

// Largest number of candidate FLs a grid search scores (unsigned 31-bit words: FL 0..31).
constexpr int kMaxGridCandidates = 32;

// RMSE(x - Q(x; f)) for every f in 0..word_bits - is_signed, the straightforward way: one full
// pass per FL, squared errors summed in double in index order. Writes rmse[0..max_fl]; returns
// the number of candidates. The oracle the one-pass search is tested against.
inline int grid_search_errors_per_fl(const float* x, size_t n, bool is_signed, int word_bits,
                                     double* rmse) {
  const int max_fl = is_signed ? word_bits - 1 : word_bits;
  for (int f = 0; f <= max_fl; ++f) {
    const Format fmt{word_bits, f, is_signed};
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) {
      const double e = static_cast<double>(x[i]) - fake_quantize(x[i], fmt);
      sum += e * e;
    }
    rmse[f] = n ? std::sqrt(sum / static_cast<double>(n)) : 0.0;
  }
  return max_fl + 1;
}

namespace detail {

// Adds, for every element, the squared error of every candidate FL to sums[0..count). Each
// sums[f] receives its terms in element order, exactly like one pass per FL. Clamping the scaled
// value to [lo, hi] before rounding gives the same code as rounding first (rounding is monotone
// and lo, hi are integers), and keeps it far below 2^51, where the magic-number rounding of
// round_half_even is exact. A NaN input yields a NaN error for every FL, as quantize()'s code 0
// would. On SSE2 the FLs of one element are scored two at a time; the lane arithmetic is the same
// IEEE operations as the scalar loop (max/min return their second operand, the NaN, when a lane
// is NaN).
#if defined(__SSE2__)
inline void accumulate_grid_errors(const float* x, size_t n, int count, double lo, double hi,
                                   double* sums) {
  constexpr int kPairs = kMaxGridCandidates / 2;
  const int pairs = (count + 1) / 2;  // an odd count scores one FL too many, then drops it
  __m128d scale[kPairs], inv_scale[kPairs], acc[kPairs];
  for (int p = 0; p < pairs; ++p) {
    scale[p] = _mm_set_pd(std::ldexp(1.0, 2 * p + 1), std::ldexp(1.0, 2 * p));  // exact 2^f
    inv_scale[p] = _mm_set_pd(std::ldexp(1.0, -2 * p - 1), std::ldexp(1.0, -2 * p));
    acc[p] = _mm_setzero_pd();
  }
  const __m128d vlo = _mm_set1_pd(lo), vhi = _mm_set1_pd(hi);
  const __m128d magic = _mm_set1_pd(6755399441055744.0);  // 1.5 * 2^52
  for (size_t i = 0; i < n; ++i) {
    const __m128d v = _mm_set1_pd(static_cast<double>(x[i]));
    for (int p = 0; p < pairs; ++p) {
      __m128d c = _mm_mul_pd(v, scale[p]);
      c = _mm_min_pd(vhi, _mm_max_pd(vlo, c));
      const __m128d r = _mm_sub_pd(_mm_add_pd(c, magic), magic);
      const __m128d e = _mm_sub_pd(v, _mm_mul_pd(r, inv_scale[p]));
      acc[p] = _mm_add_pd(acc[p], _mm_mul_pd(e, e));
    }
  }
  alignas(16) double lanes[kMaxGridCandidates];
  for (int p = 0; p < pairs; ++p) _mm_store_pd(lanes + 2 * p, acc[p]);
  for (int f = 0; f < count; ++f) sums[f] = lanes[f];
}
#else
inline void accumulate_grid_errors(const float* x, size_t n, int count, double lo, double hi,
                                   double* sums) {
  for (int f = 0; f < count; ++f) sums[f] = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double v = x[i];
    for (int f = 0; f < count; ++f) {
      double c = std::ldexp(v, f);
      c = lo > c ? lo : c;  // a NaN stays NaN
      c = hi < c ? hi : c;
      const double e = v - std::ldexp(round_half_even(c), -f);
      sums[f] += e * e;
    }
  }
}
#endif

}  // namespace detail

// The same errors in ONE pass over the data: each element is read once and scored against every
// candidate FL. The per-FL sums see the same terms in the same order as the per-FL passes, so the
// results are identical, not merely close.
inline int grid_search_errors(const float* x, size_t n, bool is_signed, int word_bits,
                              double* rmse) {
  const int max_fl = is_signed ? word_bits - 1 : word_bits;
  const int count = max_fl + 1;
  assert(count <= kMaxGridCandidates);
  const double hi = static_cast<double>(Format{word_bits, 0, is_signed}.qmax());
  const double lo = is_signed ? -hi : 0.0;
  double sums[kMaxGridCandidates];
  detail::accumulate_grid_errors(x, n, count, lo, hi, sums);
  for (int f = 0; f < count; ++f) rmse[f] = n ? std::sqrt(sums[f] / static_cast<double>(n)) : 0.0;
  return count;
}

// Index of the first minimum (ties go to the smallest FL); NaN errors never win.
inline int first_minimum(const double* err, int count) {
  int best = 0;
  for (int f = 1; f < count; ++f) {
    if (err[f] < err[best] || (std::isnan(err[best]) && !std::isnan(err[f]))) best = f;
  }
  return best;
}

// The grid-search FL of F8NET.md §5.4: argmin over f of RMSE(x - Q(x; f)), first minimum wins.
// An all-zero tensor gives FL 0. One pass over the data (grid_search_errors).
inline int fl_grid_search(const float* x, size_t n, bool is_signed, int word_bits = 8) {
  std::array<double, kMaxGridCandidates> rmse{};
  const int count = grid_search_errors(x, n, is_signed, word_bits, rmse.data());
  return first_minimum(rmse.data(), count);
}

// Momentum of the activation-FL moving average (the reference's momentum_for_metric).
constexpr float kFlMomentum = 0.1f;
// Initial stored activation FL (the reference's input_format FL).
constexpr float kInitialActivationFl = 6.0f;

// One step of the activation-FL moving average (F8NET.md §6): F = m * f_batch + (1 - m) * F,
// in float32 like the stored buffer, so the stored value stays fractional.
inline float ema_update(float stored_fl, int batch_fl, float momentum = kFlMomentum) {
  return momentum * static_cast<float>(batch_fl) + (1.0f - momentum) * stored_fl;
}

// The FL used at evaluation, in fix_scaling and at export: clamp(rne(F), 0, word_bits - is_signed)
// (6.5 rounds to 6).
inline int ema_fl_used(float stored_fl, bool is_signed, int word_bits = 8) {
  const int max_fl = is_signed ? word_bits - 1 : word_bits;
  const float r = std::nearbyint(stored_fl);
  if (!(r > 0.0f)) return 0;  // also maps NaN to 0
  return r > static_cast<float>(max_fl) ? max_fl : static_cast<int>(r);
}

// fix_scaling s = 2^FL * |alpha| / (2^(n - sg) - 1) of F8NET.md §7.1 (denominator 255 or 127).
inline double fix_scaling(double alpha, int frac_bits, bool is_signed, int word_bits = 8) {
  const double denom = std::ldexp(1.0, is_signed ? word_bits - 1 : word_bits) - 1.0;
  return std::ldexp(std::fabs(alpha), frac_bits) / denom;
}

}  // namespace f8net::fixed
