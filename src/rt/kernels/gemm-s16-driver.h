// The s16 implicit-GEMM driver shared by the fused GEMMs without VNNI (avx2, avx512): per work
// item (m tile, n split) the tile's patches are gathered once into per-thread int16 rows (codes
// sign- or zero-extended, padding and K..kp zero), then per nr-channel block an MR x NR vpmaddwd
// microkernel and the ISA's shift epilogue. A pair sum |x w| + |x w| <= 2 * 255 * 127 fits int32
// and the loader proved every partial sum does, so results equal the reference exactly (no
// vpmaddubsw saturation). Included only from files compiled with that ISA's flags; every
// function is a template on the ISA's vector ops V (a type local to that file), so each ISA gets
// its own instantiation (no inline function is shared across ISA flags).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/fused-args.h"
#include "kernels/gemm-items.h"
#include "kernels/patch-walk.h"

namespace f8net::rt::kernels::s16gemm {

template <class V>
void widen(int16_t* dst, const uint8_t* src, int32_t n, bool sgn) {
  if (sgn) {
    for (int32_t i = 0; i < n; ++i) dst[i] = static_cast<int8_t>(src[i]);
  } else {
    for (int32_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}

template <class V>
void zero(int16_t* dst, int32_t n) {
  std::memset(dst, 0, static_cast<size_t>(n) * sizeof(int16_t));
}

// The patches of pixels [m0, m1) as rows of kp int16 in (ky, kx, c) order, K padding zero.
template <class V>
void im2col(const GemmConvArgs& a, int64_t m0, int64_t m1, int16_t* rows) {
  for (int64_t m = m0; m < m1; ++m) {
    const int32_t oy = static_cast<int32_t>(m / a.ow), ox = static_cast<int32_t>(m % a.ow);
    int16_t* row = rows + (m - m0) * a.kp;
    walk_patch(
        a, oy, ox, [&](int64_t at, int32_t n) { zero<V>(row + at, n); },
        [&](int64_t at, const uint8_t* src, int32_t n) {
          widen<V>(row + at, src, n, a.src_signed);
        });
    zero<V>(row + a.k, a.kp - a.k);
  }
}

// V, the ISA's vector ops: Reg, kMr (pixels per call), kNr (channels per packed block), kLanes
// (int32 per Reg); load(const int32_t* / const int16_t*), set1(int32_t), madd_add(acc, a, b) =
// acc + vpmaddwd(a, b), store(int32_t*, Reg); Regs = regs(ep, o, lanes), the epilogue's vectors
// for channels [o, o + lanes), and pick_epilogue(ep, regs, nv), the tile epilogue
// (epilogue-tile.h) of a block of nv vectors with those tables.
template <class V>
void gemm_conv(const GemmConvArgs& a, int64_t begin, int64_t end, int thread) {
  gemm_items::run<V, false, int16_t>(
      a, begin, end, thread, a.packed16,
      [&](int64_t m0, int64_t m1, int16_t* rows) { im2col<V>(a, m0, m1, rows); });
}

}  // namespace f8net::rt::kernels::s16gemm
