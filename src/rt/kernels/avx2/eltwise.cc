// Channels-last int32 kernels of the fused engine for AVX2: the epilogue on a tensor (standalone
// Add / ReLU / Requantize chains), max pool (window max over in-range positions), global sum pool
// (int64 sums saturated to +-(2^31-1)). 8 channels per vector, the same results as kernels/ref.
#include <immintrin.h>

#include <algorithm>
#include <climits>

#include "kernels/avx2/avx2-kernels.h"
#include "kernels/avx2/epilogue.h"
#include "kernels/pool-window.h"

namespace f8net::rt::kernels::avx2 {

void s32_pointwise(const EltArgs& a, int64_t begin, int64_t end, int /*thread*/) {
  for (int64_t m = begin; m < end; ++m) {
    for (int32_t c0 = 0; c0 < a.c; c0 += 8) {
      const int32_t lanes = a.c - c0 < 8 ? a.c - c0 : 8;
      apply_epilogue<YmmOps>(a.ep, m, c0, load8_s32(a.src + m * a.c + c0, lanes), lanes);
    }
  }
}

namespace {

// Pixels [begin, end) of one pass over channels [c0, c0 + 8 * V): V known at compile time, so
// the V running maxima stay in registers (with a run-time count they lived on the stack, and
// every tap was a store-to-load chain).
template <int V>
void maxpool_pass(const EltArgs& a, int32_t c0, const int32_t* lane_counts,
                  const EpilogueRegs<YmmOps>* epilogue_regs, int64_t begin, int64_t end) {
  int32_t* out = static_cast<int32_t*>(a.ep.out);
  // Local copies: the code stores may alias the args and the tables.
  const Epilogue ep = a.ep;
  int32_t lanes[V];
  EpilogueRegs<YmmOps> regs[V];
  for (int v = 0; v < V; ++v) {
    lanes[v] = lane_counts[v];
    regs[v] = epilogue_regs[v];
  }
  for (int64_t m = begin; m < end; ++m) {
    const PoolWindow win = pool_window(a, m);
    __m256i best[V];
    for (int v = 0; v < V; ++v) best[v] = _mm256_set1_epi32(INT_MIN);
    for (int32_t ky = win.ky0; ky < win.ky1; ++ky) {
      const int32_t* row = a.src + (int64_t{win.y0 + ky} * a.w + win.x0) * a.c + c0;
      for (int32_t kx = win.kx0; kx < win.kx1; ++kx) {
        const int32_t* p = row + int64_t{kx} * a.c;
        for (int v = 0; v < V; ++v) {
          best[v] = _mm256_max_epi32(best[v], load8_s32(p + 8 * v, lanes[v]));
        }
      }
    }
    for (int v = 0; v < V; ++v) {
      if (ep.requant) {
        apply_epilogue<YmmOps>(ep, regs[v], m, c0 + 8 * v, best[v]);
      } else {
        store8_s32(out + m * a.c + c0 + 8 * v, best[v], lanes[v]);
      }
    }
  }
}

}  // namespace

void s32_maxpool(const EltArgs& a, int64_t begin, int64_t end, int /*thread*/) {
  // 32 channels (4 ymm) per pass, so each tap's pixel is read as whole cache lines; the pass's
  // epilogue vectors (a fused Requantize) are loaded once for all its pixels.
  for (int32_t c0 = 0; c0 < a.c; c0 += 32) {
    const int32_t vecs = std::min(4, (a.c - c0 + 7) / 8);
    int32_t lanes[4];
    EpilogueRegs<YmmOps> regs[4]{};
    for (int v = 0; v < vecs; ++v) {
      lanes[v] = std::min(8, a.c - c0 - 8 * v);
      if (a.ep.requant) regs[v] = epilogue_regs<YmmOps>(a.ep, c0 + 8 * v, lanes[v]);
    }
    switch (vecs) {
      case 1:
        maxpool_pass<1>(a, c0, lanes, regs, begin, end);
        break;
      case 2:
        maxpool_pass<2>(a, c0, lanes, regs, begin, end);
        break;
      case 3:
        maxpool_pass<3>(a, c0, lanes, regs, begin, end);
        break;
      default:
        maxpool_pass<4>(a, c0, lanes, regs, begin, end);
    }
  }
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
