// Depthwise convolution channels-last (any kernel, stride, padding, dilation): 16 channels per
// vector; taps go in pairs: the two taps' codes interleaved and widened to int16, vpmaddwd with
// the (w[t], w[t+1]) pairs packed at prepare (|x w| + |x w| <= 2 * 255 * 127: exact), taps
// outside the input read as zero codes; then the shared shift epilogue. Interior pixels (every
// tap inside) read their taps at fixed offsets with unmasked loads; borders check each tap.
// int32 sums are exact in any order: the loader proved every partial sum fits.
#include <immintrin.h>

#include <algorithm>

#include "kernels/avx512/avx512-kernels.h"
#include "kernels/avx512/epilogue.h"

namespace f8net::rt::kernels::avx512 {
namespace {

constexpr int32_t kMaxTaps = 64;

// 16 channels [c0, c0 + lanes) of one output pixel whose tap t reads ptr[t] (null: outside the
// input); ptr[taps] is a valid dummy or null (its weight is 0).
template <bool kSigned, bool kFull>
inline void pixel16(const DepthwiseArgs& a, const uint8_t* const* ptr, int32_t pairs, int32_t cpad,
                    int64_t m, int32_t c0, int32_t lanes) {
  const __mmask16 k = lane_mask(lanes);
  __m512i acc = _mm512_loadu_si512(a.bias + c0);
  for (int32_t p = 0; p < pairs; ++p) {
    const uint8_t* p0 = ptr[2 * p];
    const uint8_t* p1 = ptr[2 * p + 1];
    __m128i x0, x1;
    if (kFull) {  // interior pixel, whole vector: every pointer valid, no masks
      x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p0 + c0));
      x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p1 + c0));
    } else {
      if (p0 == nullptr && p1 == nullptr) continue;
      x0 = p0 ? _mm_maskz_loadu_epi8(k, p0 + c0) : _mm_setzero_si128();
      x1 = p1 ? _mm_maskz_loadu_epi8(k, p1 + c0) : _mm_setzero_si128();
    }
    const __m256i xy = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi8(x0, x1)),
                                               _mm_unpackhi_epi8(x0, x1), 1);
    const __m512i xv = kSigned ? _mm512_cvtepi8_epi16(xy) : _mm512_cvtepu8_epi16(xy);
    const __m512i wv = _mm512_loadu_si512(a.weights + int64_t{p} * cpad + c0);
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(xv, wv));
  }
  epilogue16(a.ep, m, c0, acc, lanes);
}

template <bool kSigned>
void depthwise_rows(const DepthwiseArgs& a, int64_t begin, int64_t end) {
  const int32_t c = a.c;
  const int32_t cpad = (c + 15) / 16 * 16;
  const int32_t taps = a.kh * a.kw, pairs = (taps + 1) / 2;
  const int32_t full = c / 16 * 16;  // channels in whole vectors
  // Interior columns [ox_lo, ox_hi): every kx tap inside the row (a pixel there whose rows are
  // all inside reads its taps at fixed offsets from one base, with no checks).
  const int32_t ox_lo = std::min(a.ow, (a.pw + a.sw - 1) / a.sw);
  const int32_t last = a.w - 1 - (a.kw - 1) * a.dw + a.pw;  // ox * sw <= last (may be < 0)
  const int32_t ox_hi = last < 0 ? ox_lo : std::max(ox_lo, std::min(a.ow, last / a.sw + 1));
  int64_t off[kMaxTaps + 1];
  for (int32_t ky = 0; ky < a.kh; ++ky) {
    for (int32_t kx = 0; kx < a.kw; ++kx) {
      off[ky * a.kw + kx] = (int64_t{ky} * a.dh * a.w + int64_t{kx} * a.dw) * c;
    }
  }
  off[taps] = 0;  // the odd last pair's second tap: any valid address, its weight is 0
  const uint8_t* ptr[kMaxTaps + 1];
  for (int64_t oy = begin; oy < end; ++oy) {
    const int32_t iy0 = static_cast<int32_t>(oy) * a.sh - a.ph;
    const bool rows_inside = iy0 >= 0 && iy0 + (a.kh - 1) * a.dh < a.h;
    for (int32_t ox = 0; ox < a.ow; ++ox) {
      const int64_t m = oy * a.ow + ox;
      const bool interior = rows_inside && ox >= ox_lo && ox < ox_hi;
      if (interior) {
        const uint8_t* base = a.src + (int64_t{iy0} * a.w + (ox * a.sw - a.pw)) * c;
        for (int32_t t = 0; t <= taps; ++t) ptr[t] = base + off[t];
        for (int32_t c0 = 0; c0 < full; c0 += 16) {
          pixel16<kSigned, true>(a, ptr, pairs, cpad, m, c0, 16);
        }
        if (full < c) pixel16<kSigned, false>(a, ptr, pairs, cpad, m, full, c - full);
        continue;
      }
      for (int32_t ky = 0; ky < a.kh; ++ky) {
        const int32_t iy = iy0 + ky * a.dh;
        for (int32_t kx = 0; kx < a.kw; ++kx) {
          const int32_t ix = ox * a.sw - a.pw + kx * a.dw;
          const bool in = iy >= 0 && iy < a.h && ix >= 0 && ix < a.w;
          ptr[ky * a.kw + kx] = in ? a.src + (int64_t{iy} * a.w + ix) * c : nullptr;
        }
      }
      ptr[taps] = nullptr;
      for (int32_t c0 = 0; c0 < c; c0 += 16) {
        pixel16<kSigned, false>(a, ptr, pairs, cpad, m, c0, c - c0 < 16 ? c - c0 : 16);
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
