// Implicit-GEMM convolution for AVX-512 without VNNI on zmm, a 6 x 64 tile into 24 zmm
// accumulators: the shared s16 driver (gemm-s16-driver.h: 4 zmm of weight pairs times one
// broadcast patch pair per pixel, vpmaddwd) for any weights, and the u8 x s8 driver
// (gemm-u8s8-driver.h: weight quads, vpmaddubsw) for weights whose pairs cannot saturate int16.
#include <immintrin.h>

#include "kernels/avx512/avx512-kernels.h"
#include "kernels/avx512/epilogue.h"
#include "kernels/epilogue-tile.h"
#include "kernels/gemm-s16-driver.h"
#include "kernels/gemm-u8s8-driver.h"

namespace f8net::rt::kernels::avx512 {
namespace {

struct Zmm {
  using Reg = __m512i;
  static constexpr int32_t kMr = kGemmMr, kNr = kGemmNr, kLanes = 16;
  static Reg load(const void* p) { return _mm512_loadu_si512(p); }
  static Reg set1(int32_t v) { return _mm512_set1_epi32(v); }
  static Reg madd_add(Reg acc, Reg a, Reg b) {
    return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b));
  }
  static Reg dot4_add(Reg acc, Reg quads, Reg w) {
    const Reg pairs = _mm512_maddubs_epi16(quads, w);
    return _mm512_add_epi32(acc, _mm512_madd_epi16(pairs, _mm512_set1_epi16(1)));
  }
  static void store(int32_t* p, Reg v) { _mm512_storeu_si512(p, v); }
  using Regs = EpilogueRegs<ZmmOps>;
  static Regs regs(const Epilogue& ep, int32_t o, int32_t lanes) {
    return epilogue_regs<ZmmOps>(ep, o, lanes);
  }
  static TileEpilogue<ZmmOps> pick_epilogue(const Epilogue& ep, const Regs* r, int32_t nv) {
    return pick_tile_epilogue<ZmmOps, kNr / kLanes>(ep, r, nv);
  }
};

}  // namespace

void gemm_conv_s16(const GemmConvArgs& a, int64_t begin, int64_t end, int thread) {
  s16gemm::gemm_conv<Zmm>(a, begin, end, thread);
}

void gemm_conv_u8s8(const GemmConvArgs& a, int64_t begin, int64_t end, int thread) {
  u8s8gemm::gemm_conv<Zmm>(a, begin, end, thread);
}

}  // namespace f8net::rt::kernels::avx512
