// Implicit-GEMM convolution for AVX-512 without VNNI: the shared s16 driver (gemm-s16-driver.h)
// with a 6 x 64 vpmaddwd microkernel: per pair of K steps, 4 zmm of weight pairs (s16) times one
// broadcast patch pair per pixel into 24 zmm accumulators. |x w| + |x w| <= 2 * 255 * 127 fits
// int32 and the loader proved every partial sum does, so results equal the reference exactly.
#include <immintrin.h>

#include <cstring>

#include "kernels/avx512/avx512-kernels.h"
#include "kernels/avx512/epilogue.h"
#include "kernels/gemm-s16-driver.h"

namespace f8net::rt::kernels::avx512 {
namespace {

template <int MR, int NB>
void microkernel(const int16_t* a, int64_t lda, const int16_t* b, int32_t kp2, const int32_t* init,
                 int32_t* c) {
  __m512i acc[MR][NB];
#pragma GCC unroll 8
  for (int j = 0; j < NB; ++j) {
    const __m512i v = _mm512_loadu_si512(init + 16 * j);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) acc[m][j] = v;
  }
  for (int32_t k2 = 0; k2 < kp2; ++k2) {
    __m512i wv[NB];
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) wv[j] = _mm512_loadu_si512(b + int64_t{k2} * 128 + 32 * j);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      int32_t pair;
      std::memcpy(&pair, a + m * lda + 2 * int64_t{k2}, 4);
      const __m512i av = _mm512_set1_epi32(pair);
#pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) {
        acc[m][j] = _mm512_add_epi32(acc[m][j], _mm512_madd_epi16(av, wv[j]));
      }
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) {
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) _mm512_storeu_si512(c + m * 64 + 16 * j, acc[m][j]);
  }
}

using MicroFn = void (*)(const int16_t*, int64_t, const int16_t*, int32_t, const int32_t*,
                         int32_t*);

template <int MR>
MicroFn pick_nb(int nb) {
  return nb == 1   ? microkernel<MR, 1>
         : nb == 2 ? microkernel<MR, 2>
         : nb == 3 ? microkernel<MR, 3>
                   : microkernel<MR, 4>;
}

struct Traits {
  static constexpr int32_t kMr = kGemmMr, kNr = kGemmNr, kLanes = 16;
  static void micro(int32_t mr, int32_t nv, const int16_t* a, int64_t lda, const int16_t* b,
                    int32_t kp2, const int32_t* init, int32_t* tile) {
    const MicroFn fn = mr == 1   ? pick_nb<1>(nv)
                       : mr == 2 ? pick_nb<2>(nv)
                       : mr == 3 ? pick_nb<3>(nv)
                       : mr == 4 ? pick_nb<4>(nv)
                       : mr == 5 ? pick_nb<5>(nv)
                                 : pick_nb<6>(nv);
    fn(a, lda, b, kp2, init, tile);
  }
  static void epilogue(const Epilogue& ep, int64_t m, int32_t o, const int32_t* acc,
                       int32_t lanes) {
    epilogue16(ep, m, o, _mm512_load_si512(acc), lanes);
  }
};

}  // namespace

void gemm_conv_s16(const GemmConvArgs& a, int64_t begin, int64_t end, int thread) {
  s16gemm::gemm_conv<Traits>(a, begin, end, thread);
}

}  // namespace f8net::rt::kernels::avx512
