// Depthwise convolution channels-last for AVX2 (any kernel, stride, padding, dilation): 8
// channels per vector; taps go in pairs: the two taps' codes interleaved and widened to int16,
// vpmaddwd with the (w[t], w[t+1]) pairs packed at prepare (|x w| + |x w| <= 2 * 255 * 127:
// exact), taps outside the input read as zero codes; then the shared AVX2 shift epilogue.
// Channel groups outer, pixels inner; interior pixels (every tap inside, 8 whole lanes) read
// their taps at fixed offsets with plain 8-byte loads, borders check each tap.
#include <immintrin.h>

#include <algorithm>
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
inline __m256i pair_mac(__m256i acc, __m128i x0, __m128i x1, const int32_t* w) {
  const __m128i xy = _mm_unpacklo_epi8(x0, x1);
  const __m256i xv = kSigned ? _mm256_cvtepi8_epi16(xy) : _mm256_cvtepu8_epi16(xy);
  const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
  return _mm256_add_epi32(acc, _mm256_madd_epi16(xv, wv));
}

struct RowGeometry {
  int32_t taps, pairs, cpad, ox_lo, ox_hi;
  int64_t off[kMaxTaps + 1];
};

// Output row oy, channels [c0, c0 + lanes), lanes <= 8.
template <bool kSigned>
void row_group8(const DepthwiseArgs& a, const RowGeometry& g, int64_t oy, int32_t c0,
                int32_t lanes) {
  const int32_t iy0 = static_cast<int32_t>(oy) * a.sh - a.ph;
  const bool rows_inside = iy0 >= 0 && iy0 + (a.kh - 1) * a.dh < a.h;
  const __m256i bias = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bias + c0));
  const EpilogueRegs<YmmOps> r = epilogue_regs<YmmOps>(a.ep, c0, lanes);
  const int32_t* w = a.weights + c0;
  const uint8_t* ptr[kMaxTaps + 1];
  for (int32_t ox = 0; ox < a.ow; ++ox) {
    const int64_t m = oy * a.ow + ox;
    __m256i acc = bias;
    if (rows_inside && lanes == 8 && ox >= g.ox_lo && ox < g.ox_hi) {
      const uint8_t* base = a.src + (int64_t{iy0} * a.w + (ox * a.sw - a.pw)) * a.c + c0;
      for (int32_t p = 0; p < g.pairs; ++p) {
        const __m128i x0 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(base + g.off[2 * p]));
        const __m128i x1 =
            2 * p + 1 < g.taps
                ? _mm_loadl_epi64(reinterpret_cast<const __m128i*>(base + g.off[2 * p + 1]))
                : _mm_setzero_si128();
        acc = pair_mac<kSigned>(acc, x0, x1, w + int64_t{p} * g.cpad);
      }
      apply_epilogue<YmmOps>(a.ep, r, m, c0, acc);
      continue;
    }
    for (int32_t ky = 0; ky < a.kh; ++ky) {
      const int32_t iy = iy0 + ky * a.dh;
      for (int32_t kx = 0; kx < a.kw; ++kx) {
        const int32_t ix = ox * a.sw - a.pw + kx * a.dw;
        const bool in = iy >= 0 && iy < a.h && ix >= 0 && ix < a.w;
        ptr[ky * a.kw + kx] = in ? a.src + (int64_t{iy} * a.w + ix) * a.c + c0 : nullptr;
      }
    }
    ptr[g.taps] = nullptr;
    for (int32_t p = 0; p < g.pairs; ++p) {
      const uint8_t* p0 = ptr[2 * p];
      const uint8_t* p1 = ptr[2 * p + 1];
      if (p0 == nullptr && p1 == nullptr) continue;
      acc = pair_mac<kSigned>(acc, load8_codes(p0, lanes), load8_codes(p1, lanes),
                              w + int64_t{p} * g.cpad);
    }
    apply_epilogue<YmmOps>(a.ep, r, m, c0, acc);
  }
}

template <bool kSigned>
void depthwise_items(const DepthwiseArgs& a, int64_t begin, int64_t end) {
  RowGeometry g;
  g.taps = a.kh * a.kw;
  g.pairs = (g.taps + 1) / 2;
  g.cpad = (a.c + 15) / 16 * 16;
  g.ox_lo = std::min(a.ow, (a.pw + a.sw - 1) / a.sw);
  const int32_t last = a.w - 1 - (a.kw - 1) * a.dw + a.pw;  // ox * sw <= last (may be < 0)
  g.ox_hi = last < 0 ? g.ox_lo : std::max(g.ox_lo, std::min(a.ow, last / a.sw + 1));
  for (int32_t ky = 0; ky < a.kh; ++ky) {
    for (int32_t kx = 0; kx < a.kw; ++kx) {
      g.off[ky * a.kw + kx] = (int64_t{ky} * a.dh * a.w + int64_t{kx} * a.dw) * a.c;
    }
  }
  g.off[g.taps] = 0;
  const int32_t groups = g.cpad / 16;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t oy = item / a.c_split;
    const int32_t cs = static_cast<int32_t>(item % a.c_split);
    const int32_t c_begin = 16 * (groups * cs / a.c_split);
    const int32_t c_end = std::min(a.c, 16 * (groups * (cs + 1) / a.c_split));
    for (int32_t c0 = c_begin; c0 < c_end; c0 += 8) {
      row_group8<kSigned>(a, g, oy, c0, std::min(8, c_end - c0));
    }
  }
}

}  // namespace

void depthwise_conv(const DepthwiseArgs& a, int64_t begin, int64_t end, int /*thread*/) {
  if (a.src_signed) {
    depthwise_items<true>(a, begin, end);
  } else {
    depthwise_items<false>(a, begin, end);
  }
}

}  // namespace f8net::rt::kernels::avx2
