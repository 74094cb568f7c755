// The AVX-512 epilogue shared by the fused microkernels: 16 int32 accumulators of one pixel ->
// optional Add (int64 left shifts, saturate to +-(2^31-1)) -> optional ReLU -> int32 store and/or
// fixed::requantize (RNE right shift or saturating left shift, then clamp) -> code store.
// Include only from files compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq (with or
// without -mavx512vnni: every function has internal linkage, so each file keeps its own copy).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/fused-args.h"

namespace f8net::rt::kernels::avx512 {

static inline __mmask16 lane_mask(int32_t lanes) {
  return lanes >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << lanes) - 1);
}

// sat32((a << s1) + (b << s2)) in int64, shifts in [0, 31].
static inline __m512i add_aligned(__m512i a, __m512i b, __m512i s1, __m512i s2) {
  const __m512i hi = _mm512_set1_epi64(2147483647);
  const __m512i lo = _mm512_set1_epi64(-2147483647);
  __m256i half[2];
  for (int p = 0; p < 2; ++p) {
    const __m512i a64 =
        _mm512_cvtepi32_epi64(p ? _mm512_extracti64x4_epi64(a, 1) : _mm512_castsi512_si256(a));
    const __m512i b64 =
        _mm512_cvtepi32_epi64(p ? _mm512_extracti64x4_epi64(b, 1) : _mm512_castsi512_si256(b));
    const __m512i t1 =
        _mm512_cvtepi32_epi64(p ? _mm512_extracti64x4_epi64(s1, 1) : _mm512_castsi512_si256(s1));
    const __m512i t2 =
        _mm512_cvtepi32_epi64(p ? _mm512_extracti64x4_epi64(s2, 1) : _mm512_castsi512_si256(s2));
    __m512i s = _mm512_add_epi64(_mm512_sllv_epi64(a64, t1), _mm512_sllv_epi64(b64, t2));
    s = _mm512_min_epi64(_mm512_max_epi64(s, lo), hi);
    half[p] = _mm512_cvtepi64_epi32(s);
  }
  return _mm512_inserti64x4(_mm512_castsi256_si512(half[0]), half[1], 1);
}

// add_aligned with both shifts 0: the int32 sum saturated to +-(2^31-1) without widening. A sum
// overflows exactly when a and b share a sign the wrapped sum lacks; it then saturates towards
// a's sign (0x7fffffff or 0x80000000, which the final max, like a true -2^31, lifts to
// -(2^31-1)).
static inline __m512i add_plain(__m512i a, __m512i b) {
  const __m512i sum = _mm512_add_epi32(a, b);
  const __m512i wrapped = _mm512_and_si512(_mm512_xor_si512(a, sum), _mm512_xor_si512(b, sum));
  const __m512i sat = _mm512_xor_si512(_mm512_srai_epi32(a, 31), _mm512_set1_epi32(0x7fffffff));
  const __m512i r = _mm512_mask_mov_epi32(sum, _mm512_movepi32_mask(wrapped), sat);
  return _mm512_max_epi32(r, _mm512_set1_epi32(-2147483647));
}

// fixed::requantize of int32 x by per-lane right shift rs [0, 31] (RNE; mask = 2^rs - 1, half =
// (mask >> 1) + 1) / left shift ls [0, 8], then clamp to [lo, hi]. Left shifts first clamp |x|
// to 1024 (any such value saturates 8-bit codes). Rounding up happens when the remainder
// exceeds half, or equals it with q odd: exactly when rem + (q & 1) > half (rem <= mask < 2^31).
template <bool kAnyLeft>
static inline __m512i requantize16(__m512i x, __m512i rs, __m512i ls, __m512i mask, __m512i half,
                                   __m512i lo, __m512i hi) {
  const __m512i one = _mm512_set1_epi32(1);
  if (kAnyLeft) {
    const __mmask16 left = _mm512_cmpgt_epi32_mask(ls, _mm512_setzero_si512());
    x = _mm512_mask_max_epi32(x, left, x, _mm512_set1_epi32(-1024));
    x = _mm512_mask_min_epi32(x, left, x, _mm512_set1_epi32(1024));
    x = _mm512_sllv_epi32(x, ls);
  }
  __m512i q = _mm512_srav_epi32(x, rs);
  const __m512i t = _mm512_add_epi32(_mm512_and_si512(x, mask), _mm512_and_si512(q, one));
  q = _mm512_mask_add_epi32(q, _mm512_cmpgt_epi32_mask(t, half), q, one);
  return _mm512_min_epi32(_mm512_max_epi32(q, lo), hi);
}

// Applies `ep` to channels [o, o + lanes) of pixel m. Tables hold at least o + 16 entries.
static inline void epilogue16(const Epilogue& ep, int64_t m, int32_t o, __m512i acc,
                              int32_t lanes) {
  const __mmask16 k = lane_mask(lanes);
  const int64_t at = m * ep.n + o;
  if (ep.other != nullptr) {
    const __m512i b = _mm512_maskz_loadu_epi32(k, ep.other + at);
    acc = add_aligned(acc, b, _mm512_loadu_si512(ep.add_self + o),
                      _mm512_loadu_si512(ep.add_other + o));
  }
  if (ep.relu) acc = _mm512_max_epi32(acc, _mm512_setzero_si512());
  if (!ep.requant) {
    _mm512_mask_storeu_epi32(static_cast<int32_t*>(ep.out) + at, k, acc);
    return;
  }
  if (ep.out32 != nullptr) _mm512_mask_storeu_epi32(ep.out32 + at, k, acc);
  const int32_t qmax = ep.out_signed ? (1 << (ep.out_bits - 1)) - 1 : (1 << ep.out_bits) - 1;
  const __m512i lo = _mm512_set1_epi32(ep.out_signed && !ep.relu ? -qmax : 0);
  const __m512i hi = _mm512_set1_epi32(qmax);
  const __m512i rs = _mm512_loadu_si512(ep.rshift + o);
  const __m512i mask = _mm512_loadu_si512(ep.rmask + o);
  const __m512i half = _mm512_loadu_si512(ep.rhalf + o);
  const __m512i q = ep.any_left ? requantize16<true>(acc, rs, _mm512_loadu_si512(ep.lshift + o),
                                                     mask, half, lo, hi)
                                : requantize16<false>(acc, rs, rs, mask, half, lo, hi);
  _mm512_mask_cvtepi32_storeu_epi8(static_cast<uint8_t*>(ep.out) + at, k, q);
}

// The per-channel vectors of epilogue16 for channels [o, o + lanes), loaded once for a run of
// pixels (depthwise rows): the same arithmetic, without reloading the tables per pixel.
struct EpilogueRegs16 {
  __mmask16 k;
  bool plain_add;  // both Add shifts 0 in all 16 lanes (ResNet's blocks after the first stage)
  __m512i s1, s2, rs, ls, mask, half, lo, hi;
};

static inline EpilogueRegs16 epilogue_regs16(const Epilogue& ep, int32_t o, int32_t lanes) {
  EpilogueRegs16 r;
  const __m512i zero = _mm512_setzero_si512();
  r.k = lane_mask(lanes);
  r.s1 = ep.other != nullptr ? _mm512_loadu_si512(ep.add_self + o) : zero;
  r.s2 = ep.other != nullptr ? _mm512_loadu_si512(ep.add_other + o) : zero;
  r.plain_add = _mm512_test_epi32_mask(_mm512_or_si512(r.s1, r.s2), _mm512_set1_epi32(-1)) == 0;
  r.rs = ep.requant ? _mm512_loadu_si512(ep.rshift + o) : zero;
  r.ls = ep.requant && ep.any_left ? _mm512_loadu_si512(ep.lshift + o) : zero;
  r.mask = ep.requant ? _mm512_loadu_si512(ep.rmask + o) : zero;
  r.half = ep.requant ? _mm512_loadu_si512(ep.rhalf + o) : zero;
  const int32_t qmax = ep.out_signed ? (1 << (ep.out_bits - 1)) - 1 : (1 << ep.out_bits) - 1;
  r.lo = _mm512_set1_epi32(ep.out_signed && !ep.relu ? -qmax : 0);
  r.hi = _mm512_set1_epi32(qmax);
  return r;
}

// epilogue16(ep, m, o, acc, lanes) with the vectors of epilogue_regs16(ep, o, lanes).
static inline void epilogue16_regs(const Epilogue& ep, const EpilogueRegs16& r, int64_t m,
                                   int32_t o, __m512i acc) {
  const int64_t at = m * ep.n + o;
  if (ep.other != nullptr) {
    const __m512i b = _mm512_maskz_loadu_epi32(r.k, ep.other + at);
    acc = r.plain_add ? add_plain(acc, b) : add_aligned(acc, b, r.s1, r.s2);
  }
  if (ep.relu) acc = _mm512_max_epi32(acc, _mm512_setzero_si512());
  if (!ep.requant) {
    _mm512_mask_storeu_epi32(static_cast<int32_t*>(ep.out) + at, r.k, acc);
    return;
  }
  if (ep.out32 != nullptr) _mm512_mask_storeu_epi32(ep.out32 + at, r.k, acc);
  const __m512i q = ep.any_left ? requantize16<true>(acc, r.rs, r.ls, r.mask, r.half, r.lo, r.hi)
                                : requantize16<false>(acc, r.rs, r.rs, r.mask, r.half, r.lo, r.hi);
  _mm512_mask_cvtepi32_storeu_epi8(static_cast<uint8_t*>(ep.out) + at, r.k, q);
}

}  // namespace f8net::rt::kernels::avx512
