// The AVX2 epilogue of the fused microkernels: kernels/epilogue-body.h on 8 int32 lanes in a ymm
// (lane counts and maskload/maskstore for partial channel blocks). Include only from -mavx2
// files; everything has internal linkage.
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

// add_aligned8 with both shifts 0: the int32 sum saturated to +-(2^31-1) without widening (see
// avx512/epilogue.h's add_plain).
static inline __m256i add_plain8(__m256i a, __m256i b) {
  const __m256i sum = _mm256_add_epi32(a, b);
  const __m256i wrapped = _mm256_and_si256(_mm256_xor_si256(a, sum), _mm256_xor_si256(b, sum));
  const __m256i sat = _mm256_xor_si256(_mm256_srai_epi32(a, 31), _mm256_set1_epi32(0x7fffffff));
  const __m256i r = _mm256_castps_si256(_mm256_blendv_ps(
      _mm256_castsi256_ps(sum), _mm256_castsi256_ps(sat), _mm256_castsi256_ps(wrapped)));
  return _mm256_max_epi32(r, _mm256_set1_epi32(-2147483647));
}

namespace {

// The vector ops of epilogue-body.h on ymm; a partial channel block is a lane count.
struct YmmOps {
  using Reg = __m256i;
  using Cmp = __m256i;  // all-ones lanes
  using Mask = int32_t;
  static constexpr int32_t kLanes = 8;
  static Mask mask(int32_t lanes) { return lanes; }
  static Reg zero() { return _mm256_setzero_si256(); }
  static Reg set1(int32_t v) { return _mm256_set1_epi32(v); }
  static Reg load(const int32_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  static void store(int32_t* p, Reg v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static Reg load_masked(const int32_t* p, Mask lanes) { return load8_s32(p, lanes); }
  static void store_masked(int32_t* p, Mask lanes, Reg v) { store8_s32(p, v, lanes); }
  static Reg add(Reg a, Reg b) { return _mm256_add_epi32(a, b); }
  static Reg and_(Reg a, Reg b) { return _mm256_and_si256(a, b); }
  static Reg sub(Reg a, Reg b) { return _mm256_sub_epi32(a, b); }
  static Reg andnot(Reg a, Reg b) { return _mm256_andnot_si256(a, b); }
  static Reg or_(Reg a, Reg b) { return _mm256_or_si256(a, b); }
  static Reg min(Reg a, Reg b) { return _mm256_min_epi32(a, b); }
  static Reg max(Reg a, Reg b) { return _mm256_max_epi32(a, b); }
  static Reg srav(Reg a, Reg s) { return _mm256_srav_epi32(a, s); }
  static Reg sllv(Reg a, Reg s) { return _mm256_sllv_epi32(a, s); }
  static Cmp gt(Reg a, Reg b) { return _mm256_cmpgt_epi32(a, b); }
  static Reg select(Cmp c, Reg t, Reg f) { return _mm256_blendv_epi8(f, t, c); }
  static Reg add1_where(Cmp c, Reg v) { return _mm256_sub_epi32(v, c); }  // c lanes are -1
  static bool none(Reg v) { return _mm256_testz_si256(v, v) != 0; }
  static Reg add_aligned(Reg a, Reg b, Reg s1, Reg s2) { return add_aligned8(a, b, s1, s2); }
  static Reg add_plain(Reg a, Reg b) { return add_plain8(a, b); }
  static void store_codes(uint8_t* p, Mask lanes, Reg q, bool sgn) {
    store8_codes(p, q, lanes, sgn);
  }

  // epilogue-tile.h: NV vectors of codes -> bytes. The in-lane packs leave q[j]'s channels
  // 4l .. 4l + 3 in dword 4l + j; the permute puts them at dword 2j + l (channel order).
  static Reg set1_bytes(int32_t v) { return _mm256_set1_epi8(static_cast<char>(v)); }
  template <int NV>
  static Reg pack_codes(const Reg* q, bool sgn, Reg lo8, Reg hi8) {
    const Reg z = zero();
    const Reg a = _mm256_packs_epi32(q[0], NV > 1 ? q[1] : z);
    const Reg b = NV > 2 ? _mm256_packs_epi32(q[2], NV > 3 ? q[3] : z) : z;
    const Reg v = sgn ? _mm256_min_epi8(_mm256_max_epi8(_mm256_packs_epi16(a, b), lo8), hi8)
                      : _mm256_min_epu8(_mm256_packus_epi16(a, b), hi8);
    return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  }
  static void store_bytes(uint8_t* p, int32_t n, Reg v) {
    if (n >= 32) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
    } else if (n == 16) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(v));
    } else {
      alignas(32) uint8_t tmp[32];
      _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), v);
      std::memcpy(p, tmp, static_cast<size_t>(n));
    }
  }
};

}  // namespace
}  // namespace f8net::rt::kernels::avx2

#include "kernels/epilogue-body.h"
