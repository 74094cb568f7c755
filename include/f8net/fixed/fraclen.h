// Choosing fractional lengths (F8NET.md §5, §6): the metric rule FL = clamp(floor(log2(C/m))),
// the RMSE grid search over every FL (first minimum wins), and the activation-FL moving average.
// Training (qat) and the tests call these; the rules live nowhere else.
#pragma once

#include <array>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "f8net/fixed/blocked-sum.h"
#include "f8net/fixed/detail/grid-kernels.h"
#include "f8net/fixed/format.h"
#include "f8net/fixed/rounding.h"

namespace f8net::fixed {

// The statistic a metric-rule FL is computed from: unbiased standard deviation (divisor N-1),
// mean absolute value, or root mean square (F8NET.md §5.2).
enum class Metric { kStd, kMae, kRms };

// The constant C of the metric rule for 8-bit words (F8NET.md §5.2 table, fitted in §5.3).
constexpr double metric_constant(Metric metric, bool is_signed) {
  switch (metric) {
    case Metric::kStd:
      return is_signed ? 40.0 : 70.0;
    case Metric::kMae:
      return 30.0;
    case Metric::kRms:
      return is_signed ? 40.0 : 50.0;
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

// The metric of n values, summed in double in the blocked order of blocked-sum.h (`parallel` may
// spread the blocks over threads; the result is the same). Unbiased std of fewer than two values
// is 0 (PyTorch would give NaN; one value carries no spread).
template <typename T, typename Parallel = SerialBlocks>
double compute_metric(const T* x, size_t n, Metric metric, const Parallel& parallel = {}) {
  if (n == 0) return 0.0;
  const double count = static_cast<double>(n);
  switch (metric) {
    case Metric::kStd: {
      if (n < 2) return 0.0;
      const double mean = blocked_sum(
                              x, n, [](T v) { return static_cast<double>(v); }, parallel) /
                          count;
      const double ss = blocked_sum(
          x, n,
          [mean](T v) {
            const double d = static_cast<double>(v) - mean;
            return d * d;
          },
          parallel);
      return std::sqrt(ss / (count - 1.0));
    }
    case Metric::kMae:
      return blocked_sum(
                 x, n, [](T v) { return std::fabs(static_cast<double>(v)); }, parallel) /
             count;
    case Metric::kRms:
      return std::sqrt(blocked_sum(
                           x, n,
                           [](T v) {
                             const double d = static_cast<double>(v);
                             return d * d;
                           },
                           parallel) /
                       count);
  }
  return 0.0;
}

// RMSE(x - Q(x; f)) for every f in 0..word_bits - is_signed, the straightforward way: one full
// pass per FL, squared errors summed in double in the blocked order of blocked-sum.h (per block,
// eight interleaved partials in index order; block sums in block order). Writes rmse[0..max_fl];
// returns the number of candidates. The oracle the one-pass search is tested against.
inline int grid_search_errors_per_fl(const float* x, size_t n, bool is_signed, int word_bits,
                                     double* rmse) {
  const int max_fl = is_signed ? word_bits - 1 : word_bits;
  for (int f = 0; f <= max_fl; ++f) {
    const Format fmt{word_bits, f, is_signed};
    double sum = 0.0;
    for (size_t begin = 0; begin < n; begin += kSumBlock) {
      double partial[kSumLanes] = {};
      for (size_t i = begin; i < n && i < begin + kSumBlock; ++i) {
        const double e = static_cast<double>(x[i]) - fake_quantize(x[i], fmt);
        partial[(i - begin) % kSumLanes] += e * e;
      }
      sum += combine_partials(partial);
    }
    rmse[f] = n ? std::sqrt(sum / static_cast<double>(n)) : 0.0;
  }
  return max_fl + 1;
}

// The same errors in ONE pass over the data: each element is read once and scored against every
// candidate FL, block by block (`parallel` may spread the blocks over threads). The per-FL sums
// see the same terms in the same order as the per-FL passes, so the results are identical, not
// merely close, whatever the thread count or SIMD width.
template <typename Parallel = SerialBlocks>
int grid_search_errors(const float* x, size_t n, bool is_signed, int word_bits, double* rmse,
                       const Parallel& parallel = {}) {
  const int max_fl = is_signed ? word_bits - 1 : word_bits;
  const int count = max_fl + 1;
  assert(count <= kMaxGridCandidates);
  const double hi = static_cast<double>(Format{word_bits, 0, is_signed}.qmax());
  const double lo = is_signed ? -hi : 0.0;
  const size_t blocks = sum_blocks(n);
  std::vector<double> partial(blocks * kMaxGridCandidates);
  parallel(blocks, [&](size_t first, size_t end) {
    for (size_t b = first; b < end; ++b) {
      const size_t begin = b * kSumBlock;
      detail::grid_block_errors(x + begin, std::min(kSumBlock, n - begin), count, lo, hi,
                                partial.data() + b * kMaxGridCandidates);
    }
  });
  for (int f = 0; f < count; ++f) {
    double sum = 0.0;
    for (size_t b = 0; b < blocks; ++b) sum += partial[b * kMaxGridCandidates + f];
    rmse[f] = n ? std::sqrt(sum / static_cast<double>(n)) : 0.0;
  }
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
template <typename Parallel = SerialBlocks>
int fl_grid_search(const float* x, size_t n, bool is_signed, int word_bits = 8,
                   const Parallel& parallel = {}) {
  std::array<double, kMaxGridCandidates> rmse{};
  const int count = grid_search_errors(x, n, is_signed, word_bits, rmse.data(), parallel);
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
inline double fix_scaling(double alpha, int fl, bool is_signed, int word_bits = 8) {
  const double denom = std::ldexp(1.0, is_signed ? word_bits - 1 : word_bits) - 1.0;
  return std::ldexp(std::fabs(alpha), fl) / denom;
}

}  // namespace f8net::fixed
