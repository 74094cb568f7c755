// The AVX-512 epilogue of the fused microkernels: kernels/epilogue-body.h on 16 int32 lanes in
// a zmm (masks for partial channel blocks). Include only from files compiled with -mavx512f
// -mavx512bw -mavx512vl -mavx512dq (with or without -mavx512vnni): everything has internal
// linkage, so each file keeps its own copy.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/fused-args.h"

namespace f8net::rt::kernels::avx512 {

static inline __mmask16 lane_mask(int32_t lanes) {
  return lanes >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << lanes) - 1);
}

namespace {

// The vector ops of epilogue-body.h on zmm.
struct ZmmOps {
  using Reg = __m512i;
  using Cmp = __mmask16;
  using Mask = __mmask16;
  static constexpr int32_t kLanes = 16;
  static Mask mask(int32_t lanes) { return lane_mask(lanes); }
  static Reg zero() { return _mm512_setzero_si512(); }
  static Reg set1(int32_t v) { return _mm512_set1_epi32(v); }
  static Reg load(const int32_t* p) { return _mm512_loadu_si512(p); }
  static void store(int32_t* p, Reg v) { _mm512_storeu_si512(p, v); }
  static Reg load_masked(const int32_t* p, Mask k) { return _mm512_maskz_loadu_epi32(k, p); }
  static void store_masked(int32_t* p, Mask k, Reg v) { _mm512_mask_storeu_epi32(p, k, v); }
  static Reg add(Reg a, Reg b) { return _mm512_add_epi32(a, b); }
  static Reg and_(Reg a, Reg b) { return _mm512_and_si512(a, b); }
  static Reg sub(Reg a, Reg b) { return _mm512_sub_epi32(a, b); }
  static Reg andnot(Reg a, Reg b) { return _mm512_andnot_si512(a, b); }
  static Reg or_(Reg a, Reg b) { return _mm512_or_si512(a, b); }
  static Reg min(Reg a, Reg b) { return _mm512_min_epi32(a, b); }
  static Reg max(Reg a, Reg b) { return _mm512_max_epi32(a, b); }
  static Reg srav(Reg a, Reg s) { return _mm512_srav_epi32(a, s); }
  static Reg sllv(Reg a, Reg s) { return _mm512_sllv_epi32(a, s); }
  static Cmp gt(Reg a, Reg b) { return _mm512_cmpgt_epi32_mask(a, b); }
  static Reg select(Cmp c, Reg t, Reg f) { return _mm512_mask_mov_epi32(f, c, t); }
  static Reg add1_where(Cmp c, Reg v) { return _mm512_mask_add_epi32(v, c, v, set1(1)); }
  static bool none(Reg v) { return _mm512_test_epi32_mask(v, v) == 0; }

  // sat32((a << s1) + (b << s2)), shifts in [0, 31]. When neither shift loses a bit (shifting
  // back gives the operand: every lane in any real model), the shifted operands are exact int32
  // and add_plain saturates their sum; otherwise the int64 path below. The int64 path alone (two
  // halves of sign extensions, 64-bit shifts and clamps) was 2 % of ResNet-18 in its layer-1
  // residual convs (perf, 2 threads, Zen 4), whose Add aligns the block input's FL.
  static Reg add_aligned(Reg a, Reg b, Reg s1, Reg s2) {
    const __m512i as = _mm512_sllv_epi32(a, s1), bs = _mm512_sllv_epi32(b, s2);
    const __mmask16 lost = _mm512_cmpneq_epi32_mask(_mm512_srav_epi32(as, s1), a) |
                           _mm512_cmpneq_epi32_mask(_mm512_srav_epi32(bs, s2), b);
    if (__builtin_expect(lost == 0, 1)) return add_plain(as, bs);
    return add_aligned_wide(a, b, s1, s2);
  }

  // sat32((a << s1) + (b << s2)) in int64.
  static Reg add_aligned_wide(Reg a, Reg b, Reg s1, Reg s2) {
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

  // add_aligned with both shifts 0, without widening. A sum overflows exactly when a and b share
  // a sign the wrapped sum lacks; it then saturates towards a's sign (0x7fffffff or 0x80000000,
  // which the final max, like a true -2^31, lifts to -(2^31-1)).
  static Reg add_plain(Reg a, Reg b) {
    const __m512i sum = _mm512_add_epi32(a, b);
    const __m512i wrapped = _mm512_and_si512(_mm512_xor_si512(a, sum), _mm512_xor_si512(b, sum));
    const __m512i sat = _mm512_xor_si512(_mm512_srai_epi32(a, 31), _mm512_set1_epi32(0x7fffffff));
    const __m512i r = _mm512_mask_mov_epi32(sum, _mm512_movepi32_mask(wrapped), sat);
    return _mm512_max_epi32(r, _mm512_set1_epi32(-2147483647));
  }

  static void store_codes(uint8_t* p, Mask k, Reg q, bool /*sgn: the low byte either way*/) {
    _mm512_mask_cvtepi32_storeu_epi8(p, k, q);
  }

  // epilogue-tile.h: NV vectors of codes -> bytes. The in-lane packs leave q[j]'s channels
  // 4l .. 4l + 3 in dword 4l + j; the permute puts them at dword 4j + l (channel order).
  static Reg set1_bytes(int32_t v) { return _mm512_set1_epi8(static_cast<char>(v)); }
  template <int NV>
  static Reg pack_codes(const Reg* q, bool sgn, Reg lo8, Reg hi8) {
    const Reg z = zero();
    const Reg a = _mm512_packs_epi32(q[0], NV > 1 ? q[1] : z);
    const Reg b = NV > 2 ? _mm512_packs_epi32(q[2], NV > 3 ? q[3] : z) : z;
    const Reg v = sgn ? _mm512_min_epi8(_mm512_max_epi8(_mm512_packs_epi16(a, b), lo8), hi8)
                      : _mm512_min_epu8(_mm512_packus_epi16(a, b), hi8);
    const Reg order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_epi32(order, v);
  }
  static void store_bytes(uint8_t* p, int32_t n, Reg v) {
    const __mmask64 k = n >= 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1;
    _mm512_mask_storeu_epi8(p, k, v);
  }
};

}  // namespace
}  // namespace f8net::rt::kernels::avx512

#include "kernels/epilogue-body.h"
