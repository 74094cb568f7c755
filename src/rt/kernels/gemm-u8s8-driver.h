// The u8 x s8 implicit-GEMM driver for the ISAs without VNNI (avx2, avx512), used for a conv or FC
// whose every weight pair the prepare step proved cannot saturate int16 (safe_weight_pairs() in
// ops/fused-stages.cc). Patches are bytes in [0, 255]: u8 codes, or signed codes flipped to
// x + 128 whose 128 * sum(w) is subtracted in `init`, as for vpdpbusd. One K quad of 4 codes is
// broadcast per pixel; vpmaddubsw multiplies it with 4 weights of each channel and adds adjacent
// products into two s16 pair sums, vpmaddwd by ones adds the pairs into int32 and vpaddd
// accumulates. A pair sum is at most 255 * (sum of the pair's positive weights) <= 255 * 128 =
// 32640 and at least -255 * 128 = -32640, so vpmaddubsw never saturates and every int32 sum equals
// the reference's (mod 2^32 like vpdpbusd; the loader proved the true sum fits int32). Three
// instructions per 32 MACs instead of the s16 driver's two per 16: in isolation 87.5 vs 67 GMAC/s
// per core on ymm (Xeon, family 6 model 207).
//
// Per work item (m tile, n split) the tile's patches are gathered once into per-thread byte rows
// (K padding zero), then per nr-channel block an MR x NR microkernel and the ISA's shift
// epilogue. Weights are GemmPacking::kU8S8Quads with the ISA's nr. Included only from files
// compiled with that ISA's flags; every function is a template on the ISA's ops V (a type local
// to that file), as in gemm-s16-driver.h.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/fused-args.h"
#include "kernels/patch-walk.h"

namespace f8net::rt::kernels::u8s8gemm {

// dst[i] = src[i] ^ 0x80 (signed code x -> x + 128 as a byte) for n bytes.
template <class V>
void copy_flipped(uint8_t* dst, const uint8_t* src, int32_t n) {
  for (int32_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(src[i] ^ 0x80);
}

// The patches of pixels [m0, m1) as rows of kp bytes in (ky, kx, c) order: padding taps code 0
// (0x80 when flipped), K padding 0 (its weights are 0).
template <class V>
void im2col(const GemmConvArgs& a, int64_t m0, int64_t m1, uint8_t* rows) {
  const bool flip = a.src_signed;
  const uint8_t pad = flip ? 0x80 : 0;
  for (int64_t m = m0; m < m1; ++m) {
    const int32_t oy = static_cast<int32_t>(m / a.ow), ox = static_cast<int32_t>(m % a.ow);
    uint8_t* row = rows + (m - m0) * a.kp;
    walk_patch(
        a, oy, ox,
        [&](int64_t at, int32_t n) { std::memset(row + at, pad, static_cast<size_t>(n)); },
        [&](int64_t at, const uint8_t* src, int32_t n) {
          if (flip) {
            copy_flipped<V>(row + at, src, n);
          } else {
            std::memcpy(row + at, src, static_cast<size_t>(n));
          }
        });
    std::memset(row + a.k, 0, static_cast<size_t>(a.kp - a.k));
  }
}

// The MR x NB-vector register tile over kp / 4 quads from the bias in `init`: rows lda bytes
// apart; weights V::kNr channels x 4 bytes per quad; the tile's rows V::kNr int32 apart in c.
template <class V, int MR, int NB>
void microkernel(const uint8_t* a, int64_t lda, const int8_t* b, int32_t kp4, const int32_t* init,
                 int32_t* c) {
  using Reg = typename V::Reg;
  Reg acc[MR][NB];
#pragma GCC unroll 8
  for (int j = 0; j < NB; ++j) {
    const Reg v = V::load(init + V::kLanes * j);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) acc[m][j] = v;
  }
  const Reg ones = V::ones16();
  for (int32_t k4 = 0; k4 < kp4; ++k4) {
    const int8_t* bk = b + int64_t{k4} * 4 * V::kNr;
    Reg wv[NB];
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) wv[j] = V::load(bk + 4 * V::kLanes * j);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      int32_t quad;
      std::memcpy(&quad, a + m * lda + 4 * int64_t{k4}, 4);
      const Reg av = V::set1(quad);
#pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) acc[m][j] = V::dot4_add(acc[m][j], av, wv[j], ones);
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) {
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) V::store(c + m * V::kNr + V::kLanes * j, acc[m][j]);
  }
}

using MicroFn = void (*)(const uint8_t*, int64_t, const int8_t*, int32_t, const int32_t*, int32_t*);

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

// V, the ISA's vector ops: Reg, kMr, kNr, kLanes (int32 per Reg); load(const void*),
// set1(int32_t), ones16() (int16 ones), dot4_add(acc, quads, w, ones) = acc +
// vpmaddwd(vpmaddubsw(quads, w), ones), store(int32_t*, Reg); Regs = regs(ep, o, lanes) and
// pick_epilogue(ep, regs, nv) as in gemm-s16-driver.h.
template <class V>
void gemm_conv(const GemmConvArgs& a, int64_t begin, int64_t end, int thread) {
  const int64_t m_count = int64_t{a.oh} * a.ow;
  const int32_t n = a.ep.n;
  const int32_t n_blocks = (n + V::kNr - 1) / V::kNr;
  alignas(64) int32_t tile[V::kMr * V::kNr];
  uint8_t* rows = a.scratch + thread * a.scratch_stride;
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
      const int8_t* b = a.packed + int64_t{nb} * a.kp * V::kNr;
      typename V::Regs regs[V::kNr / V::kLanes];
      for (int32_t j = 0; j < nv; ++j) {
        regs[j] = V::regs(a.ep, o0 + j * V::kLanes, std::min(V::kLanes, lanes - j * V::kLanes));
      }
      const auto epilogue = V::pick_epilogue(a.ep, regs, nv);
      int64_t pix[V::kMr];
      for (int64_t m = m0; m < m1;) {
        const int32_t mr = call_rows(V::kMr, m1 - m);
        pick<V>(mr, nv)(rows + (m - m0) * a.kp, a.kp, b, a.kp / 4, a.init + o0, tile);
        for (int32_t r = 0; r < mr; ++r) pix[r] = m + r;
        epilogue(a.ep, regs, tile, V::kNr, mr, pix, o0, lanes);
        m += mr;
      }
    }
  }
}

}  // namespace f8net::rt::kernels::u8s8gemm
