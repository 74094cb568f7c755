// Channels-last int32 kernels of the fused engine: the epilogue on a tensor (standalone Add /
// ReLU / Requantize chains), max pool (window max over in-range positions), global sum pool
// (int64 sums saturated to +-(2^31-1)). AVX-512 F/BW/VL/DQ only (no VNNI).
#include <immintrin.h>

#include <algorithm>
#include <climits>

#include "kernels/avx512/avx512-kernels.h"
#include "kernels/avx512/epilogue.h"
#include "kernels/maxpool-body.h"

namespace f8net::rt::kernels::avx512 {

void s32_pointwise(const EltArgs& a, int64_t begin, int64_t end, int /*thread*/) {
  for (int64_t m = begin; m < end; ++m) {
    for (int32_t c0 = 0; c0 < a.c; c0 += 16) {
      const int32_t lanes = a.c - c0 < 16 ? a.c - c0 : 16;
      const __m512i x = _mm512_maskz_loadu_epi32(lane_mask(lanes), a.src + m * a.c + c0);
      apply_epilogue<ZmmOps>(a.ep, m, c0, x, lanes);
    }
  }
}

void s32_maxpool(const EltArgs& a, int64_t begin, int64_t end, int /*thread*/) {
  maxpool<ZmmOps>(a, begin, end);
}

void s32_global_sum_pool(const EltArgs& a, int64_t begin, int64_t end, int /*thread*/) {
  int32_t* out = static_cast<int32_t*>(a.ep.out);
  const int64_t hw = int64_t{a.h} * a.w;
  const __m512i hi = _mm512_set1_epi64(2147483647), lo = _mm512_set1_epi64(-2147483647);
  for (int64_t blk = begin; blk < end; ++blk) {
    const int32_t c0 = static_cast<int32_t>(blk * 16);
    const int32_t lanes = a.c - c0 < 16 ? a.c - c0 : 16;
    const __mmask16 k = lane_mask(lanes);
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
    for (int64_t p = 0; p < hw; ++p) {  // at most 2^28 terms below 2^31: no int64 overflow
      const __m512i x = _mm512_maskz_loadu_epi32(k, a.src + p * a.c + c0);
      s0 = _mm512_add_epi64(s0, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(x)));
      s1 = _mm512_add_epi64(s1, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(x, 1)));
    }
    s0 = _mm512_min_epi64(_mm512_max_epi64(s0, lo), hi);
    s1 = _mm512_min_epi64(_mm512_max_epi64(s1, lo), hi);
    const __m512i r = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(s0)),
                                         _mm512_cvtepi64_epi32(s1), 1);
    _mm512_mask_storeu_epi32(out + c0, k, r);
  }
}

}  // namespace f8net::rt::kernels::avx512
