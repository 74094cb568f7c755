// Implicit-GEMM convolution with AVX-VNNI: the u8 x s8 driver (gemm-u8s8-driver.h) on avx2's ymm
// ops with one vpdpbusd per 4 weights x 8 channels instead of vpmaddubsw + vpmaddwd + vpaddd, so
// no int16 pair sum exists and any weights are exact (mod 2^32, inside the loader's bound). 190
// GMAC/s per core in a register loop on the Xeon (family 6 model 207), against 87.5 for the
// vpmaddubsw form.
#include <immintrin.h>

#include "kernels/avx2/gemm-ops.h"
#include "kernels/avxvnni/avxvnni-kernels.h"
#include "kernels/gemm-u8s8-driver.h"

namespace f8net::rt::kernels::avxvnni {
namespace {

struct Ymm : avx2::YmmGemmOps {
  static Reg dot4_add(Reg acc, Reg quads, Reg w) { return _mm256_dpbusd_avx_epi32(acc, quads, w); }
};

}  // namespace

void gemm_conv(const GemmConvArgs& a, int64_t begin, int64_t end, int thread) {
  u8s8gemm::gemm_conv<Ymm>(a, begin, end, thread);
}

}  // namespace f8net::rt::kernels::avxvnni
