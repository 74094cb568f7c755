// Depthwise convolution channels-last (any kernel, stride, padding, dilation): 16 channels per
// vector; taps go in pairs: the two taps' codes interleaved and widened to int16, vpmaddwd with
// the (w[t], w[t+1]) pairs packed at prepare (|x w| + |x w| <= 2 * 255 * 127: exact), taps
// outside the input read as zero codes; then the shared shift epilogue.
// int32 sums are exact in any order: the loader proved every partial sum fits.
#include <immintrin.h>

#include "kernels/avx512/avx512-kernels.h"
#include "kernels/avx512/epilogue.h"

namespace f8net::rt::kernels::avx512 {
namespace {

constexpr int32_t kMaxTaps = 64;

template <bool kSigned>
void depthwise_rows(const DepthwiseArgs& a, int64_t begin, int64_t end) {
  const int32_t c = a.c;
  const int32_t cpad = (c + 15) / 16 * 16;
  const int32_t taps = a.kh * a.kw, pairs = (taps + 1) / 2;
  const uint8_t* ptr[kMaxTaps + 1];
  for (int64_t oy = begin; oy < end; ++oy) {
    for (int32_t ox = 0; ox < a.ow; ++ox) {
      const int64_t m = oy * a.ow + ox;
      for (int32_t ky = 0; ky < a.kh; ++ky) {
        const int32_t iy = static_cast<int32_t>(oy) * a.sh - a.ph + ky * a.dh;
        for (int32_t kx = 0; kx < a.kw; ++kx) {
          const int32_t ix = ox * a.sw - a.pw + kx * a.dw;
          const bool in = iy >= 0 && iy < a.h && ix >= 0 && ix < a.w;
          ptr[ky * a.kw + kx] = in ? a.src + (int64_t{iy} * a.w + ix) * c : nullptr;
        }
      }
      ptr[taps] = nullptr;
      for (int32_t c0 = 0; c0 < c; c0 += 16) {
        const int32_t lanes = c - c0 < 16 ? c - c0 : 16;
        const __mmask16 k = lane_mask(lanes);
        __m512i acc = _mm512_loadu_si512(a.bias + c0);
        for (int32_t p = 0; p < pairs; ++p) {
          const uint8_t* p0 = ptr[2 * p];
          const uint8_t* p1 = ptr[2 * p + 1];
          if (p0 == nullptr && p1 == nullptr) continue;
          const __m128i x0 = p0 ? _mm_maskz_loadu_epi8(k, p0 + c0) : _mm_setzero_si128();
          const __m128i x1 = p1 ? _mm_maskz_loadu_epi8(k, p1 + c0) : _mm_setzero_si128();
          const __m256i xy = _mm256_inserti128_si256(
              _mm256_castsi128_si256(_mm_unpacklo_epi8(x0, x1)), _mm_unpackhi_epi8(x0, x1), 1);
          const __m512i xv = kSigned ? _mm512_cvtepi8_epi16(xy) : _mm512_cvtepu8_epi16(xy);
          const __m512i wv = _mm512_loadu_si512(a.weights + int64_t{p} * cpad + c0);
          acc = _mm512_add_epi32(acc, _mm512_madd_epi16(xv, wv));
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
