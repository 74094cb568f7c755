// Depthwise convolution channels-last for AVX2 (any kernel, stride, padding, dilation): 8
// channels per vector; taps go in pairs: the two taps' codes interleaved and widened to int16,
// vpmaddwd with the (w[t], w[t+1]) pairs packed at prepare (|x w| + |x w| <= 2 * 255 * 127:
// exact), taps outside the input read as zero codes; then the shared AVX2 shift epilogue.
#include <immintrin.h>

#include <cstring>

#include "kernels/avx2/avx2-kernels.h"
#include "kernels/avx2/epilogue.h"

namespace f8net::rt::kernels::avx2 {
namespace {

constexpr int32_t kMaxTaps = 64;

// 8 codes of p (fewer when lanes < 8: the rest read as 0), or zeros for a tap outside the input.
inline __m128i load8_codes(const uint8_t* p, int32_t lanes) {
  if (p == nullptr) return _mm_setzero_si128();
  if (lanes >= 8) return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  alignas(16) uint8_t tmp[16] = {};
  std::memcpy(tmp, p, static_cast<size_t>(lanes));
  return _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
}

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
      for (int32_t c0 = 0; c0 < c; c0 += 8) {
        const int32_t lanes = c - c0 < 8 ? c - c0 : 8;
        __m256i acc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bias + c0));
        for (int32_t p = 0; p < pairs; ++p) {
          const uint8_t* p0 = ptr[2 * p];
          const uint8_t* p1 = ptr[2 * p + 1];
          if (p0 == nullptr && p1 == nullptr) continue;
          const __m128i x0 = load8_codes(p0 ? p0 + c0 : nullptr, lanes);
          const __m128i x1 = load8_codes(p1 ? p1 + c0 : nullptr, lanes);
          const __m128i xy = _mm_unpacklo_epi8(x0, x1);
          const __m256i xv = kSigned ? _mm256_cvtepi8_epi16(xy) : _mm256_cvtepu8_epi16(xy);
          const __m256i wv = _mm256_loadu_si256(
              reinterpret_cast<const __m256i*>(a.weights + int64_t{p} * cpad + c0));
          acc = _mm256_add_epi32(acc, _mm256_madd_epi16(xv, wv));
        }
        epilogue8(a.ep, m, c0, acc, lanes);
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

}  // namespace f8net::rt::kernels::avx2
