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
// GCC and Clang compile a function for AVX2 or AVX-512 on request (target attribute) and tell at
// run time whether the CPU has it; elsewhere the scalar kernel runs.
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define F8NET_FIXED_HAVE_SIMD 1
#include <immintrin.h>
#else
#define F8NET_FIXED_HAVE_SIMD 0
#endif

#include "f8net/fixed/blocked-sum.h"
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
      const double mean =
          blocked_sum(x, n, [](T v) { return static_cast<double>(v); }, parallel) / count;
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
      return blocked_sum(x, n, [](T v) { return std::fabs(static_cast<double>(v)); }, parallel) /
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

// Largest number of candidate FLs a grid search scores (unsigned 31-bit words: FL 0..31).
constexpr int kMaxGridCandidates = 32;

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

namespace detail {

// The kernels below write, for one block of n elements, the sum of the squared errors of every
// candidate FL to sums[0..count), in the oracle's order (element i to partial i % 8). Two exact
// rewrites make them cheaper than the oracle's formula, and the tests hold every kernel to the
// oracle bit for bit:
//  * Clamping the scaled value c = v * 2^f to [lo, hi] before rounding gives the same code as
//    rounding first (rounding is monotone and lo, hi are integers), and keeps it far below 2^51,
//    where magic-number or SIMD rounding to nearest-even is exact.
//  * The error is formed in scaled units, c - code = (v - Q(v)) * 2^f, and each partial is
//    scaled back by 2^-2f at the end. Multiplying by a power of two commutes with every rounded
//    operation here (no overflow: |v| < 2^128 and f < 32; no underflow: errors of float inputs
//    are at least 2^-149, their squares far above the double subnormals), so the sums are the
//    very same numbers.
// A NaN input gives NaN errors for every FL, as quantize()'s code 0 would; infinities give
// infinite errors. max/min return their second operand, the NaN, when a lane is NaN.
inline void grid_block_errors_scalar(const float* x, size_t n, int count, double lo, double hi,
                                     double* sums) {
  double scale[kMaxGridCandidates];
  double acc[kMaxGridCandidates][kSumLanes] = {};
  for (int f = 0; f < count; ++f) scale[f] = std::ldexp(1.0, f);
  for (size_t i = 0; i < n; ++i) {
    const double v = x[i];
    const size_t lane = i % kSumLanes;
    for (int f = 0; f < count; ++f) {
      const double c = v * scale[f];
      double r = lo > c ? lo : c;  // a NaN stays NaN
      r = hi < r ? hi : r;
      const double e = c - round_half_even(r);
      acc[f][lane] += e * e;
    }
  }
  for (int f = 0; f < count; ++f) sums[f] = std::ldexp(combine_partials(acc[f]), -2 * f);
}

#if F8NET_FIXED_HAVE_SIMD
// What a SIMD kernel scans of one block, eight elements at a time: part 0 is the whole groups of
// eight in place, part 1 the remainder copied and zero-padded (adding +0 to the unused partials
// changes nothing). Plain loops over both parts: a lambda would lose the target attribute.
struct BlockParts {
  float tail[kSumLanes] = {};
  const float* base[2];
  size_t end[2];
  BlockParts(const float* x, size_t n) {
    const size_t whole = n - n % kSumLanes;
    for (size_t l = 0; whole + l < n; ++l) tail[l] = x[whole + l];
    base[0] = x;
    end[0] = whole;
    base[1] = tail;
    end[1] = whole < n ? kSumLanes : 0;
  }
  BlockParts(const BlockParts&) = delete;  // base[1] points into this object
  BlockParts& operator=(const BlockParts&) = delete;
};

// Eight elements at a time as two 4-double registers (lanes 0-3 and 4-7 of the partials), one FL
// after the other. Compiled for AVX2 whatever the translation unit's flags; called only when the
// CPU has it. No FMA: a fused multiply-add would round differently from e * e then +.
__attribute__((target("avx2"))) inline void grid_block_errors_avx2(const float* x, size_t n,
                                                                    int count, double lo,
                                                                    double hi, double* sums) {
  __m256d acc_lo[kMaxGridCandidates], acc_hi[kMaxGridCandidates], scale[kMaxGridCandidates];
  for (int f = 0; f < count; ++f) {
    acc_lo[f] = acc_hi[f] = _mm256_setzero_pd();
    scale[f] = _mm256_set1_pd(std::ldexp(1.0, f));
  }
  const __m256d vlo = _mm256_set1_pd(lo), vhi = _mm256_set1_pd(hi);
  const BlockParts parts(x, n);
  for (int part = 0; part < 2; ++part) {
    for (size_t i = 0; i < parts.end[part]; i += kSumLanes) {
      const float* p = parts.base[part] + i;
      const __m256d v_lo = _mm256_cvtps_pd(_mm_loadu_ps(p));
      const __m256d v_hi = _mm256_cvtps_pd(_mm_loadu_ps(p + 4));
      for (int f = 0; f < count; ++f) {
        const __m256d c_lo = _mm256_mul_pd(v_lo, scale[f]);
        const __m256d c_hi = _mm256_mul_pd(v_hi, scale[f]);
        const __m256d r_lo = _mm256_round_pd(_mm256_min_pd(vhi, _mm256_max_pd(vlo, c_lo)),
                                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m256d r_hi = _mm256_round_pd(_mm256_min_pd(vhi, _mm256_max_pd(vlo, c_hi)),
                                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m256d e_lo = _mm256_sub_pd(c_lo, r_lo);
        const __m256d e_hi = _mm256_sub_pd(c_hi, r_hi);
        acc_lo[f] = _mm256_add_pd(acc_lo[f], _mm256_mul_pd(e_lo, e_lo));
        acc_hi[f] = _mm256_add_pd(acc_hi[f], _mm256_mul_pd(e_hi, e_hi));
      }
    }
  }
  for (int f = 0; f < count; ++f) {
    double p[kSumLanes];
    _mm256_storeu_pd(p, acc_lo[f]);
    _mm256_storeu_pd(p + 4, acc_hi[f]);
    sums[f] = std::ldexp(combine_partials(p), -2 * f);
  }
}

// The same with one 8-double register: lane l holds partial l.
__attribute__((target("avx512f"))) inline void grid_block_errors_avx512(const float* x, size_t n,
                                                                        int count, double lo,
                                                                        double hi, double* sums) {
  __m512d acc[kMaxGridCandidates], scale[kMaxGridCandidates];
  for (int f = 0; f < count; ++f) {
    acc[f] = _mm512_setzero_pd();
    scale[f] = _mm512_set1_pd(std::ldexp(1.0, f));
  }
  const __m512d vlo = _mm512_set1_pd(lo), vhi = _mm512_set1_pd(hi);
  const BlockParts parts(x, n);
  for (int part = 0; part < 2; ++part) {
    for (size_t i = 0; i < parts.end[part]; i += kSumLanes) {
      const float* p = parts.base[part] + i;
      // The maskz forms (all lanes on) are the plain operations; GCC 12 warns about the
      // undefined pass-through operand of the unmasked ones under -Wmaybe-uninitialized.
      const __m512d v = _mm512_maskz_cvtps_pd(0xFF, _mm256_loadu_ps(p));
      for (int f = 0; f < count; ++f) {
        const __m512d c = _mm512_mul_pd(v, scale[f]);
        const __m512d clamped = _mm512_maskz_min_pd(0xFF, vhi, _mm512_maskz_max_pd(0xFF, vlo, c));
        const __m512d r = _mm512_maskz_roundscale_pd(
            0xFF, clamped, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m512d e = _mm512_sub_pd(c, r);
        acc[f] = _mm512_add_pd(acc[f], _mm512_mul_pd(e, e));
      }
    }
  }
  for (int f = 0; f < count; ++f) {
    double p[kSumLanes];
    _mm512_storeu_pd(p, acc[f]);
    sums[f] = std::ldexp(combine_partials(p), -2 * f);
  }
}

inline bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}

inline bool cpu_has_avx512f() {
  static const bool has = __builtin_cpu_supports("avx512f");
  return has;
}
#endif

// The fastest kernel this CPU runs; all of them give identical sums.
inline void grid_block_errors(const float* x, size_t n, int count, double lo, double hi,
                              double* sums) {
#if F8NET_FIXED_HAVE_SIMD
  if (cpu_has_avx512f()) return grid_block_errors_avx512(x, n, count, lo, hi, sums);
  if (cpu_has_avx2()) return grid_block_errors_avx2(x, n, count, lo, hi, sums);
#endif
  grid_block_errors_scalar(x, n, count, lo, hi, sums);
}

}  // namespace detail

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
inline double fix_scaling(double alpha, int frac_bits, bool is_signed, int word_bits = 8) {
  const double denom = std::ldexp(1.0, is_signed ? word_bits - 1 : word_bits) - 1.0;
  return std::ldexp(std::fabs(alpha), frac_bits) / denom;
}

}  // namespace f8net::fixed
