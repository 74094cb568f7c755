// The AVX2 epilogue of the fused microkernels: 8 int32 accumulators of one pixel -> optional Add
// (int64 left shifts, saturate to +-(2^31-1)) -> optional ReLU -> int32 store and/or
// fixed::requantize (RNE right shift or saturating left shift, then clamp) -> code store. The
// same arithmetic as kernels/avx512/epilogue.h lane for lane. Include only from -mavx2 files;
// every function has internal linkage.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/fused-args.h"

namespace f8net::rt::kernels::avx2 {

// All-ones in the first `lanes` int32 lanes (for maskload / maskstore).
static inline __m256i lane_mask8(int32_t lanes) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __m256i load8_s32(const int32_t* p, int32_t lanes) {
  return lanes >= 8 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))
                    : _mm256_maskload_epi32(p, lane_mask8(lanes));
}

static inline void store8_s32(int32_t* p, __m256i v, int32_t lanes) {
  if (lanes >= 8) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
  } else {
    _mm256_maskstore_epi32(p, lane_mask8(lanes), v);
  }
}

// min(max(v, lo), hi) on int64 lanes.
static inline __m256i clamp64(__m256i v, __m256i lo, __m256i hi) {
  v = _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
  return _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
}

// sat32((a << s1) + (b << s2)) in int64, shifts in [0, 31].
static inline __m256i add_aligned8(__m256i a, __m256i b, __m256i s1, __m256i s2) {
  const __m256i hi = _mm256_set1_epi64x(2147483647);
  const __m256i lo = _mm256_set1_epi64x(-2147483647);
  const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
  __m128i half[2];
  for (int p = 0; p < 2; ++p) {
    const __m256i a64 =
        _mm256_cvtepi32_epi64(p ? _mm256_extracti128_si256(a, 1) : _mm256_castsi256_si128(a));
    const __m256i b64 =
        _mm256_cvtepi32_epi64(p ? _mm256_extracti128_si256(b, 1) : _mm256_castsi256_si128(b));
    const __m256i t1 =
        _mm256_cvtepi32_epi64(p ? _mm256_extracti128_si256(s1, 1) : _mm256_castsi256_si128(s1));
    const __m256i t2 =
        _mm256_cvtepi32_epi64(p ? _mm256_extracti128_si256(s2, 1) : _mm256_castsi256_si128(s2));
    __m256i s = _mm256_add_epi64(_mm256_sllv_epi64(a64, t1), _mm256_sllv_epi64(b64, t2));
    s = clamp64(s, lo, hi);
    half[p] = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(s, even));
  }
  return _mm256_inserti128_si256(_mm256_castsi128_si256(half[0]), half[1], 1);
}

// fixed::requantize of int32 x by per-lane right shift rs [0, 31] (RNE; mask = 2^rs - 1, half =
// (mask >> 1) + 1) / left shift ls [0, 8], then clamp to [lo, hi]. Left shifts first clamp |x|
// to 1024 (any such value saturates 8-bit codes). Rounds up exactly when rem + (q & 1) > half.
template <bool kAnyLeft>
static inline __m256i requantize8(__m256i x, __m256i rs, __m256i ls, __m256i mask, __m256i half,
                                  __m256i lo, __m256i hi) {
  const __m256i one = _mm256_set1_epi32(1);
  if (kAnyLeft) {
    const __m256i left = _mm256_cmpgt_epi32(ls, _mm256_setzero_si256());
    const __m256i c =
        _mm256_min_epi32(_mm256_max_epi32(x, _mm256_set1_epi32(-1024)), _mm256_set1_epi32(1024));
    x = _mm256_sllv_epi32(_mm256_blendv_epi8(x, c, left), ls);
  }
  __m256i q = _mm256_srav_epi32(x, rs);
  const __m256i t = _mm256_add_epi32(_mm256_and_si256(x, mask), _mm256_and_si256(q, one));
  q = _mm256_sub_epi32(q, _mm256_cmpgt_epi32(t, half));  // true lanes are -1
  return _mm256_min_epi32(_mm256_max_epi32(q, lo), hi);
}

// Stores the low byte of `lanes` int32 codes in [-127, 255].
static inline void store8_codes(uint8_t* p, __m256i q, int32_t lanes, bool sgn) {
  const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(q, q), 0x08);
  const __m128i w16 = _mm256_castsi256_si128(w);
  const __m128i b = sgn ? _mm_packs_epi16(w16, w16) : _mm_packus_epi16(w16, w16);
  if (lanes >= 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), b);
  } else {
    alignas(16) uint8_t tmp[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), b);
    std::memcpy(p, tmp, static_cast<size_t>(lanes));
  }
}

// Applies `ep` to channels [o, o + lanes) of pixel m. Tables hold at least o + 8 entries.
static inline void epilogue8(const Epilogue& ep, int64_t m, int32_t o, __m256i acc, int32_t lanes) {
  const int64_t at = m * ep.n + o;
  if (ep.other != nullptr) {
    const __m256i b = load8_s32(ep.other + at, lanes);
    acc =
        add_aligned8(acc, b, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ep.add_self + o)),
                     _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ep.add_other + o)));
  }
  if (ep.relu) acc = _mm256_max_epi32(acc, _mm256_setzero_si256());
  if (!ep.requant) {
    store8_s32(static_cast<int32_t*>(ep.out) + at, acc, lanes);
    return;
  }
  if (ep.out32 != nullptr) store8_s32(ep.out32 + at, acc, lanes);
  const int32_t qmax = ep.out_signed ? (1 << (ep.out_bits - 1)) - 1 : (1 << ep.out_bits) - 1;
  const __m256i lo = _mm256_set1_epi32(ep.out_signed && !ep.relu ? -qmax : 0);
  const __m256i hi = _mm256_set1_epi32(qmax);
  const auto v = [](const int32_t* p) { return reinterpret_cast<const __m256i*>(p); };
  const __m256i rs = _mm256_loadu_si256(v(ep.rshift + o));
  const __m256i mask = _mm256_loadu_si256(v(ep.rmask + o));
  const __m256i half = _mm256_loadu_si256(v(ep.rhalf + o));
  const __m256i q = ep.any_left ? requantize8<true>(acc, rs, _mm256_loadu_si256(v(ep.lshift + o)),
                                                    mask, half, lo, hi)
                                : requantize8<false>(acc, rs, rs, mask, half, lo, hi);
  store8_codes(static_cast<uint8_t*>(ep.out) + at, q, lanes, ep.out_signed);
}

}  // namespace f8net::rt::kernels::avx2
