// Implicit-GEMM convolution for AVX2 on ymm, a 6 x 16 tile into 12 ymm accumulators: the shared
// s16 driver (gemm-s16-driver.h: 2 ymm of weight pairs times one broadcast patch pair per pixel,
// vpmaddwd) for any weights, and the u8 x s8 driver (gemm-u8s8-driver.h: 2 ymm of weight quads
// times one broadcast patch quad, vpmaddubsw) for weights whose pairs cannot saturate int16.
#include <immintrin.h>

#include "kernels/avx2/avx2-kernels.h"
#include "kernels/avx2/gemm-ops.h"
#include "kernels/gemm-s16-driver.h"
#include "kernels/gemm-u8s8-driver.h"

namespace f8net::rt::kernels::avx2 {
namespace {

struct Ymm : YmmGemmOps {
  static Reg madd_add(Reg acc, Reg a, Reg b) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
  }
  static Reg dot4_add(Reg acc, Reg quads, Reg w) {
    const Reg pairs = _mm256_maddubs_epi16(quads, w);
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
  }
};

}  // namespace

void gemm_conv(const GemmConvArgs& a, int64_t begin, int64_t end, int thread) {
  s16gemm::gemm_conv<Ymm>(a, begin, end, thread);
}

void gemm_conv_u8s8(const GemmConvArgs& a, int64_t begin, int64_t end, int thread) {
  u8s8gemm::gemm_conv<Ymm>(a, begin, end, thread);
}

}  // namespace f8net::rt::kernels::avx2
