// The block kernels of the one-pass grid search (fraclen.h: grid_search_errors): scalar, AVX2 and
// AVX-512, chosen at run time. Not API: fraclen.h is the interface; tests hold every kernel to the
// per-FL oracle bit for bit.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

// GCC and Clang compile a function for AVX2 or AVX-512 on request (target attribute) and tell at
// run time whether the CPU has it; elsewhere the scalar kernel runs.
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define F8NET_FIXED_HAVE_SIMD 1
#include <immintrin.h>
#else
#define F8NET_FIXED_HAVE_SIMD 0
#endif

#include "f8net/fixed/blocked-sum.h"
#include "f8net/fixed/rounding.h"

namespace f8net::fixed {

// Largest number of candidate FLs a grid search scores (unsigned 31-bit words: FL 0..31).
constexpr int kMaxGridCandidates = 32;

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
                                                                   int count, double lo, double hi,
                                                                   double* sums) {
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
        const __m512d r = _mm512_maskz_roundscale_pd(0xFF, clamped,
                                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
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

}  // namespace f8net::fixed
