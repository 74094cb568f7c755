// AVX2 Conv2d, horizontal stride 1. For each output row (o, oy) every input row (ci, iy) the
// window touches is widened once into a zero-padded int16 row buffer P (P[j] = x[j - pad_w]), so
// output column ox at tap kx reads P[ox + kx*dw] with no bounds checks. Taps are taken in pairs:
// vpmaddwd of (P[ox + kx*dw], P[ox + (kx+1)*dw]) interleaved with (w[kx], w[kx+1]) adds both
// products to 8 int32 accumulators. Integer sums are exact and the loader proved |partial| < 2^31,
// so the different summation order gives the reference's result exactly. No heap allocation.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/avx2/avx2-kernels.h"

namespace f8net::rt::kernels::avx2 {
namespace {

constexpr int kRowCap = 2048;  // int16 entries in the padded row buffer
constexpr int kMaxBlocks = kRowCap / 8;

int round_up8(int v) { return (v + 7) / 8 * 8; }

template <typename T>
void conv2d_s1(const KernelArgs& a, int64_t begin, int64_t end) {
  const T* x = static_cast<const T*>(a.src);
  int32_t* y = static_cast<int32_t*>(a.dst);
  const int cin_per_group = a.c / a.groups;
  const int cout_per_group = a.oc / a.groups;
  const int blocks = (a.ow + 7) / 8;
  alignas(32) int16_t row[kRowCap];
  alignas(32) int32_t lanes[8];
  __m256i acc[kMaxBlocks];
  std::memset(row, 0, sizeof(row));  // the padding stays zero; only [pw, pw + w) is rewritten
  for (int64_t item = begin; item < end; ++item) {
    const int o = static_cast<int>(item / a.oh);
    const int oy = static_cast<int>(item % a.oh);
    const int first_ic = (o / cout_per_group) * cin_per_group;
    const int8_t* wo = a.weights + int64_t{o} * cin_per_group * a.kh * a.kw;
    for (int b = 0; b < blocks; ++b) acc[b] = _mm256_set1_epi32(a.bias[o]);
    for (int ci = 0; ci < cin_per_group; ++ci) {
      const T* xc = x + int64_t{first_ic + ci} * a.h * a.w;
      for (int ky = 0; ky < a.kh; ++ky) {
        const int iy = oy * a.sh - a.ph + ky * a.dh;
        if (iy < 0 || iy >= a.h) continue;
        const T* src = xc + int64_t{iy} * a.w;
        for (int i = 0; i < a.w; ++i) row[a.pw + i] = static_cast<int16_t>(src[i]);
        const int8_t* wk = wo + (int64_t{ci} * a.kh + ky) * a.kw;
        for (int kx = 0; kx < a.kw; kx += 2) {
          const int16_t w0 = wk[kx];
          const int16_t w1 = kx + 1 < a.kw ? wk[kx + 1] : 0;
          const __m256i wpair = _mm256_set1_epi32(
              static_cast<int32_t>((static_cast<uint32_t>(static_cast<uint16_t>(w1)) << 16) |
                                   static_cast<uint16_t>(w0)));
          const int16_t* p0 = row + kx * a.dw;
          const int16_t* p1 = kx + 1 < a.kw ? row + (kx + 1) * a.dw : p0;
          for (int b = 0; b < blocks; ++b) {
            const __m128i v0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p0 + 8 * b));
            const __m128i v1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p1 + 8 * b));
            const __m256i pairs =
                _mm256_set_m128i(_mm_unpackhi_epi16(v0, v1), _mm_unpacklo_epi16(v0, v1));
            acc[b] = _mm256_add_epi32(acc[b], _mm256_madd_epi16(pairs, wpair));
          }
        }
      }
    }
    int32_t* yo = y + (int64_t{o} * a.oh + oy) * a.ow;
    for (int b = 0; b < blocks; ++b) {
      if (8 * b + 8 <= a.ow) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(yo + 8 * b), acc[b]);
      } else {
        _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc[b]);
        for (int l = 0; 8 * b + l < a.ow; ++l) yo[8 * b + l] = lanes[l];
      }
    }
  }
}

}  // namespace

bool conv2d_s1_supports(const KernelArgs& a) {
  if (a.sw != 1 || a.groups < 1) return false;
  // Highest index read: round_up8(ow) - 1 + (kw - 1) * dw (the odd last tap re-reads p0), and
  // the copied row ends at pw + w.
  const int64_t reads = int64_t{round_up8(a.ow)} + int64_t{a.kw - 1} * a.dw;
  return reads <= kRowCap && int64_t{a.pw} + a.w <= kRowCap;
}

void u8_conv2d_s1(const KernelArgs& a, int64_t begin, int64_t end) {
  conv2d_s1<uint8_t>(a, begin, end);
}
void s8_conv2d_s1(const KernelArgs& a, int64_t begin, int64_t end) {
  conv2d_s1<int8_t>(a, begin, end);
}

}  // namespace f8net::rt::kernels::avx2
