// Channels-last int32 kernels of the fused engine for AVX2: the epilogue on a tensor (standalone
// Add / ReLU / Requantize chains), max pool (window max over in-range positions), global sum pool
// (int64 sums saturated to +-(2^31-1)). 8 channels per vector, the same results as kernels/ref.
#include <immintrin.h>

#include <algorithm>
#include <climits>

#include "kernels/avx2/avx2-kernels.h"
#include "kernels/avx2/epilogue.h"
#include "kernels/maxpool-body.h"

namespace f8net::rt::kernels::avx2 {

void s32_pointwise(const EltArgs& a, int64_t begin, int64_t end, int /*thread*/) {
  for (int64_t m = begin; m < end; ++m) {
    for (int32_t c0 = 0; c0 < a.c; c0 += 8) {
      const int32_t lanes = a.c - c0 < 8 ? a.c - c0 : 8;
      apply_epilogue<YmmOps>(a.ep, m, c0, load8_s32(a.src + m * a.c + c0, lanes), lanes);
    }
  }
}

void s32_maxpool(const EltArgs& a, int64_t begin, int64_t end, int /*thread*/) {
  maxpool<YmmOps>(a, begin, end);
}

void s32_global_sum_pool(const EltArgs& a, int64_t begin, int64_t end, int /*thread*/) {
  int32_t* out = static_cast<int32_t*>(a.ep.out);
  const int64_t hw = int64_t{a.h} * a.w;
  const __m256i hi = _mm256_set1_epi64x(2147483647), lo = _mm256_set1_epi64x(-2147483647);
  const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
  for (int64_t blk = begin; blk < end; ++blk) {  // 16 channels per item, as 2 x 8
    for (int32_t c0 = static_cast<int32_t>(blk * 16); c0 < a.c && c0 < blk * 16 + 16; c0 += 8) {
      const int32_t lanes = a.c - c0 < 8 ? a.c - c0 : 8;
      __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
      for (int64_t p = 0; p < hw; ++p) {  // at most 2^28 terms below 2^31: no int64 overflow
        const __m256i x = load8_s32(a.src + p * a.c + c0, lanes);
        s0 = _mm256_add_epi64(s0, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(x)));
        s1 = _mm256_add_epi64(s1, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(x, 1)));
      }
      s0 = _mm256_permutevar8x32_epi32(clamp64(s0, lo, hi), even);
      s1 = _mm256_permutevar8x32_epi32(clamp64(s1, lo, hi), even);
      const __m256i r = _mm256_inserti128_si256(s0, _mm256_castsi256_si128(s1), 1);
      store8_s32(out + c0, r, lanes);
    }
  }
}

}  // namespace f8net::rt::kernels::avx2
