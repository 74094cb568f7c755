// AVX2 Conv2d over output rows. For each output row (o, oy), every input row (ci, iy) the window
// touches is widened once into zero-padded int16 phase buffers: padded position j = pad_w + ix
// goes to phase j % stride_w at index j / stride_w, so output column ox at tap kx (position
// stride_w*ox + kx*dw) is phase[(kx*dw) % sw][ox + (kx*dw) / sw]: 8 consecutive columns are one
// unaligned load, for any stride, with no bounds checks. Taps go in pairs: vpmaddwd of the two
// taps' columns interleaved with (w[kx], w[kx+1]) adds both products to 8 int32 accumulators.
// Integer sums are exact and the loader proved every partial sum < 2^31, so the different order
// of summation gives the reference's result exactly. No heap allocation.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/avx2/avx2-kernels.h"

namespace f8net::rt::kernels::avx2 {
namespace {

constexpr int kRowCap = 4096;  // int16 entries shared by the stride_w phase buffers
constexpr int kMaxBlocks = 256;

int64_t round_up8(int64_t v) { return (v + 7) / 8 * 8; }

template <typename T>
void conv2d_rows(const KernelArgs& a, int64_t begin, int64_t end) {
  const T* x = static_cast<const T*>(a.src);
  int32_t* y = static_cast<int32_t*>(a.dst);
  const int cin_per_group = a.c / a.groups;
  const int cout_per_group = a.oc / a.groups;
  const int blocks = (a.ow + 7) / 8;
  const int phase_len = kRowCap / a.sw;
  alignas(32) int16_t row[kRowCap];
  alignas(32) int32_t lanes[8];
  __m256i acc[kMaxBlocks];
  // Positions outside the input stay zero: only the same [pad_w, pad_w + w) is rewritten.
  std::memset(row, 0, sizeof(row));
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
        if (a.sw == 1) {
          for (int i = 0; i < a.w; ++i) row[a.pw + i] = static_cast<int16_t>(src[i]);
        } else {
          for (int i = 0; i < a.w; ++i) {
            const int j = a.pw + i;
            row[(j % a.sw) * phase_len + j / a.sw] = static_cast<int16_t>(src[i]);
          }
        }
        const int8_t* wk = wo + (int64_t{ci} * a.kh + ky) * a.kw;
        for (int kx = 0; kx < a.kw; kx += 2) {
          const bool pair = kx + 1 < a.kw;
          const uint16_t w0 = static_cast<uint16_t>(int16_t{wk[kx]});
          const uint16_t w1 = pair ? static_cast<uint16_t>(int16_t{wk[kx + 1]}) : 0;
          const __m256i wpair =
              _mm256_set1_epi32(static_cast<int32_t>(static_cast<uint32_t>(w1) << 16 | w0));
          const int t0 = kx * a.dw;
          const int t1 = pair ? (kx + 1) * a.dw : t0;
          const int16_t* p0 = row + (t0 % a.sw) * phase_len + t0 / a.sw;
          const int16_t* p1 = row + (t1 % a.sw) * phase_len + t1 / a.sw;
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

bool conv2d_rows_supports(const KernelArgs& a) {
  if (a.sw < 1 || a.groups < 1 || a.ow < 1) return false;
  const int64_t phase_len = kRowCap / a.sw;
  // Highest phase index read: round_up8(ow) - 1 + (kw-1)*dw / sw; highest written:
  // (pw + w - 1) / sw. Both must stay inside one phase; the accumulators must fit kMaxBlocks.
  const int64_t reads = round_up8(a.ow) + int64_t{a.kw - 1} * a.dw / a.sw;
  const int64_t writes = (int64_t{a.pw} + a.w - 1) / a.sw + 1;
  return reads <= phase_len && writes <= phase_len && (a.ow + 7) / 8 <= kMaxBlocks;
}

void u8_conv2d_rows(const KernelArgs& a, int64_t begin, int64_t end) {
  conv2d_rows<uint8_t>(a, begin, end);
}
void s8_conv2d_rows(const KernelArgs& a, int64_t begin, int64_t end) {
  conv2d_rows<int8_t>(a, begin, end);
}

}  // namespace f8net::rt::kernels::avx2
