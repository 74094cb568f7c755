// Depthwise convolution channels-last (any kernel, stride, padding, dilation): 16 channels per
// vector, codes widened to int32 and multiplied exactly (|w x| <= 127 * 255) with vpmulld, taps
// outside the input skipped (zero codes contribute nothing), then the shared shift epilogue.
// int32 sums are exact in any order: the loader proved every partial sum fits.
#include <immintrin.h>

#include "kernels/avx512vnni/epilogue.h"
#include "kernels/avx512vnni/vnni-kernels.h"

namespace f8net::rt::kernels::avx512 {
namespace {

template <bool kSigned>
void depthwise_rows(const DepthwiseArgs& a, int64_t begin, int64_t end) {
  const int32_t c = a.c;
  const int32_t cpad = (c + 15) / 16 * 16;
  for (int64_t oy = begin; oy < end; ++oy) {
    for (int32_t ox = 0; ox < a.ow; ++ox) {
      const int64_t m = oy * a.ow + ox;
      for (int32_t c0 = 0; c0 < c; c0 += 16) {
        const int32_t lanes = c - c0 < 16 ? c - c0 : 16;
        const __mmask16 k = lane_mask(lanes);
        __m512i acc = _mm512_loadu_si512(a.bias + c0);
        for (int32_t ky = 0; ky < a.kh; ++ky) {
          const int32_t iy = static_cast<int32_t>(oy) * a.sh - a.ph + ky * a.dh;
          if (iy < 0 || iy >= a.h) continue;
          for (int32_t kx = 0; kx < a.kw; ++kx) {
            const int32_t ix = ox * a.sw - a.pw + kx * a.dw;
            if (ix < 0 || ix >= a.w) continue;
            const __m128i xb =
                _mm_maskz_loadu_epi8(k, a.src + (int64_t{iy} * a.w + ix) * c + c0);
            const __m512i xv = kSigned ? _mm512_cvtepi8_epi32(xb) : _mm512_cvtepu8_epi32(xb);
            const __m512i wv =
                _mm512_loadu_si512(a.weights + (int64_t{ky} * a.kw + kx) * cpad + c0);
            acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(xv, wv));
          }
        }
        epilogue16(a.ep, m, c0, acc, lanes);
      }
    }
  }
}

}  // namespace

void depthwise_conv(const DepthwiseArgs& a, int64_t begin, int64_t end, int /*thread*/) {
  if (a.src_signed) {
    depthwise_rows<true>(a, begin, end);
  } else {
    depthwise_rows<false>(a, begin, end);
  }
}

}  // namespace f8net::rt::kernels::avx512
