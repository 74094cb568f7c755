// The ymm vector ops the fused GEMM drivers take (gemm-items.h), less the multiply-add: loads,
// the broadcast, the tile store, the 6 x 16 tile's sizes and the AVX2 tile epilogue. avx2's
// drivers (vpmaddwd, vpmaddubsw) and avxvnni's (vpdpbusd) each add their multiply-add. Include
// only from files compiled with AVX2 flags: like epilogue.h it lives in an unnamed namespace, one
// copy per file and ISA.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/avx2/avx2-kernels.h"
#include "kernels/avx2/epilogue.h"
#include "kernels/epilogue-tile.h"

namespace f8net::rt::kernels::avx2 {
namespace {

struct YmmGemmOps {
  using Reg = __m256i;
  static constexpr int32_t kMr = kGemmMr, kNr = kGemmNr, kLanes = 8;
  static Reg load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static Reg set1(int32_t v) { return _mm256_set1_epi32(v); }
  static void store(int32_t* p, Reg v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  using Regs = EpilogueRegs<YmmOps>;
  static Regs regs(const Epilogue& ep, int32_t o, int32_t lanes) {
    return epilogue_regs<YmmOps>(ep, o, lanes);
  }
  static TileEpilogue<YmmOps> pick_epilogue(const Epilogue& ep, const Regs* r, int32_t nv) {
    return pick_tile_epilogue<YmmOps, kNr / kLanes>(ep, r, nv);
  }
};

}  // namespace
}  // namespace f8net::rt::kernels::avx2
