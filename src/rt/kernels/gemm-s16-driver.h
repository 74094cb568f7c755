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

// The MR x NB-vector register tile: per pair of K steps, NB vectors of s16 weight pairs times
// one broadcast pair of patch codes per pixel (vpmaddwd, then add), from the bias in `init`.
// Weights are packed as kp / 2 groups of V::kNr channel pairs (GemmPacking::kS16Pairs); the
// tile's rows are V::kNr int32 apart in c.
constexpr int64_t kWeightPrefetchBytes = 1024;

template <class V, int MR, int NB>
void microkernel(const int16_t* a, int64_t lda, const int16_t* b, int32_t kp2, const int32_t* init,
                 int32_t* c) {
  using Reg = typename V::Reg;
  Reg acc[MR][NB];
#pragma GCC unroll 8
  for (int j = 0; j < NB; ++j) {
    const Reg v = V::load(init + V::kLanes * j);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) acc[m][j] = v;
  }
  constexpr int kLines = std::max<int>(1, static_cast<int>(NB * sizeof(Reg) / 64));
  for (int32_t k2 = 0; k2 < kp2; ++k2) {
    Reg wv[NB];
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) wv[j] = V::load(b + int64_t{k2} * 2 * V::kNr + 2 * V::kLanes * j);
    // The weight lines kWeightPrefetchBytes ahead into L1 (see the VNNI microkernel; ResNet-18
    // under avx2 5 % faster).
    const char* next = reinterpret_cast<const char*>(b + int64_t{k2} * 2 * V::kNr);
#pragma GCC unroll 8
    for (int j = 0; j < kLines; ++j) __builtin_prefetch(next + kWeightPrefetchBytes + 64 * j, 0, 3);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      int32_t pair;
      std::memcpy(&pair, a + m * lda + 2 * int64_t{k2}, 4);
      const Reg av = V::set1(pair);
#pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) acc[m][j] = V::madd_add(acc[m][j], av, wv[j]);
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) {
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) V::store(c + m * V::kNr + V::kLanes * j, acc[m][j]);
  }
}

using MicroFn = void (*)(const int16_t*, int64_t, const int16_t*, int32_t, const int32_t*,
                         int32_t*);

// microkernel<V, mr, nv> for 1 <= mr <= MR, 1 <= nv <= NB.
template <class V, int MR, int NB>
MicroFn pick_nb(int32_t nv) {
  if constexpr (NB == 1) {
    return microkernel<V, MR, 1>;
  } else {
    return nv >= NB ? microkernel<V, MR, NB> : pick_nb<V, MR, NB - 1>(nv);
  }
}

template <class V, int MR = V::kMr>
MicroFn pick(int32_t mr, int32_t nv) {
  if constexpr (MR == 1) {
    return pick_nb<V, 1, V::kNr / V::kLanes>(nv);
  } else {
    return mr >= MR ? pick_nb<V, MR, V::kNr / V::kLanes>(nv) : pick<V, MR - 1>(mr, nv);
  }
}

// V, the ISA's vector ops: Reg, kMr (pixels per call), kNr (channels per packed block), kLanes
// (int32 per Reg); load(const int32_t* / const int16_t*), set1(int32_t), madd_add(acc, a, b) =
// acc + vpmaddwd(a, b), store(int32_t*, Reg); Regs = regs(ep, o, lanes), the epilogue's vectors
// for channels [o, o + lanes), and pick_epilogue(ep, regs, nv), the tile epilogue
// (epilogue-tile.h) of a block of nv vectors with those tables.
template <class V>
void gemm_conv(const GemmConvArgs& a, int64_t begin, int64_t end, int thread) {
  const int64_t m_count = int64_t{a.oh} * a.ow;
  const int32_t n = a.ep.n;
  const int32_t n_blocks = (n + V::kNr - 1) / V::kNr;
  alignas(64) int32_t tile[V::kMr * V::kNr];
  int16_t* rows = reinterpret_cast<int16_t*>(a.scratch + thread * a.scratch_stride);
  for (int64_t item = begin; item < end; ++item) {
    const int64_t mt = item / a.n_split;
    const int32_t ns = static_cast<int32_t>(item % a.n_split);
    const int64_t m0 = mt * a.m_tile, m1 = std::min<int64_t>(m_count, m0 + a.m_tile);
    const int32_t nb0 = n_blocks * ns / a.n_split, nb1 = n_blocks * (ns + 1) / a.n_split;
    im2col<V>(a, m0, m1, rows);
    for (int32_t nb = nb0; nb < nb1; ++nb) {
      const int32_t o0 = nb * V::kNr;
      const int32_t lanes = std::min(V::kNr, n - o0);
      const int32_t nv = (lanes + V::kLanes - 1) / V::kLanes;
      const int16_t* b = a.packed16 + int64_t{nb} * a.kp * V::kNr;
      typename V::Regs regs[V::kNr / V::kLanes];
      for (int32_t j = 0; j < nv; ++j) {
        regs[j] = V::regs(a.ep, o0 + j * V::kLanes, std::min(V::kLanes, lanes - j * V::kLanes));
      }
      const auto epilogue = V::pick_epilogue(a.ep, regs, nv);
      int64_t pix[V::kMr];
      for (int64_t m = m0; m < m1;) {
        const int32_t mr = call_rows(V::kMr, m1 - m);
        pick<V>(mr, nv)(rows + (m - m0) * a.kp, a.kp, b, a.kp / 2, a.init + o0, tile);
        for (int32_t r = 0; r < mr; ++r) pix[r] = m + r;
        epilogue(a.ep, regs, tile, V::kNr, mr, pix, o0, lanes);
        m += mr;
      }
    }
  }
}

}  // namespace f8net::rt::kernels::s16gemm
