// The microkernel and work-item loop shared by the GEMM drivers without VNNI (gemm-s16-driver.h
// on s16 pairs, gemm-u8s8-driver.h on u8 x s8 quads): per item (m tile, n split) the tile's
// patches are gathered once into the running thread's scratch rows, then per nr-channel block the
// block's epilogue tables are loaded once, and MR-pixel microkernel calls of equal sizes
// (call_rows) each store an MR x NR int32 tile that the ISA's tile epilogue writes out. Both
// packings have one geometry in bytes: per K step 4 bytes of each patch row (an s16 pair or a u8
// quad) times 4 * nr bytes of weights (nr channels' pairs or quads), so one microkernel serves
// both; only the multiply-add differs. Included only from files compiled with one ISA's flags,
// through those drivers; V is the ISA's file-local ops type, so every instance is that file's own.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/fused-args.h"

namespace f8net::rt::kernels::gemm_items {

constexpr int64_t kWeightPrefetchBytes = 1024;

// The MR x NB-vector register tile from the bias in `init`: per K step one broadcast 4-byte group
// of each of the MR rows (lda bytes apart) times NB vectors of weights, through
// V::madd_add(acc, a, w) = acc + vpmaddwd(a, w) (s16 pairs) or, with kQuads, V::dot4_add(acc, a,
// w) = acc + the four u8 x s8 products of each lane (u8 x s8 quads); the tile's rows are V::kNr
// int32 apart in c. The weight lines kWeightPrefetchBytes ahead go to L1 (as in the VNNI
// microkernel: ResNet-18 under avx2 5 % faster).
template <class V, bool kQuads>
struct Microkernel {
  template <int MR, int NB>
  static void fn(const uint8_t* a, int64_t lda, const uint8_t* b, int32_t steps,
                 const int32_t* init, int32_t* c) {
    using Reg = typename V::Reg;
    Reg acc[MR][NB];
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) {
      const Reg v = V::load(init + V::kLanes * j);
#pragma GCC unroll 8
      for (int m = 0; m < MR; ++m) acc[m][j] = v;
    }
    constexpr int kLines = std::max<int>(1, static_cast<int>(NB * sizeof(Reg) / 64));
    for (int32_t k = 0; k < steps; ++k) {
      const uint8_t* bk = b + int64_t{k} * 4 * V::kNr;
      Reg wv[NB];
#pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) wv[j] = V::load(bk + 4 * V::kLanes * j);
#pragma GCC unroll 8
      for (int j = 0; j < kLines; ++j) __builtin_prefetch(bk + kWeightPrefetchBytes + 64 * j, 0, 3);
#pragma GCC unroll 8
      for (int m = 0; m < MR; ++m) {
        int32_t group;
        std::memcpy(&group, a + m * lda + 4 * int64_t{k}, 4);
        const Reg av = V::set1(group);
#pragma GCC unroll 8
        for (int j = 0; j < NB; ++j) {
          if constexpr (kQuads) {
            acc[m][j] = V::dot4_add(acc[m][j], av, wv[j]);
          } else {
            acc[m][j] = V::madd_add(acc[m][j], av, wv[j]);
          }
        }
      }
    }
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
#pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) V::store(c + m * V::kNr + V::kLanes * j, acc[m][j]);
    }
  }
};

// &K::fn<mr, nv> for 1 <= mr <= MR, 1 <= nv <= NB: K::fn is the driver's microkernel as a static
// member template over its rows and vectors (so the register tile is a compile-time shape).
template <class K, int MR, int NB>
auto pick(int32_t mr, int32_t nv) {
  if constexpr (MR > 1) {
    if (mr < MR) return pick<K, MR - 1, NB>(mr, nv);
  }
  if constexpr (NB > 1) {
    if (nv < NB) return pick<K, MR, NB - 1>(mr, nv);
  }
  return &K::template fn<MR, NB>;
}

// Row: the patch element type (int16_t or uint8_t); W: the packed weight element type;
// gather(m0, m1, rows) fills the item's rows (a.kp elements each); kQuads as in Microkernel.
template <class V, bool kQuads, class Row, class W, class Gather>
void run(const GemmConvArgs& a, int64_t begin, int64_t end, int thread, const W* packed,
         Gather gather) {
  using K = Microkernel<V, kQuads>;
  const int64_t row_bytes = int64_t{a.kp} * static_cast<int64_t>(sizeof(Row));
  const auto steps = static_cast<int32_t>(row_bytes / 4);
  const int64_t m_count = int64_t{a.oh} * a.ow;
  const int32_t n = a.ep.n;
  const int32_t n_blocks = (n + V::kNr - 1) / V::kNr;
  alignas(64) int32_t tile[V::kMr * V::kNr];
  Row* rows = reinterpret_cast<Row*>(a.scratch + thread * a.scratch_stride);
  for (int64_t item = begin; item < end; ++item) {
    const int64_t mt = item / a.n_split;
    const int32_t ns = static_cast<int32_t>(item % a.n_split);
    const int64_t m0 = mt * a.m_tile, m1 = std::min<int64_t>(m_count, m0 + a.m_tile);
    const int32_t nb0 = n_blocks * ns / a.n_split, nb1 = n_blocks * (ns + 1) / a.n_split;
    gather(m0, m1, rows);
    for (int32_t nb = nb0; nb < nb1; ++nb) {
      const int32_t o0 = nb * V::kNr;
      const int32_t lanes = std::min(V::kNr, n - o0);
      const int32_t nv = (lanes + V::kLanes - 1) / V::kLanes;
      const auto* b = reinterpret_cast<const uint8_t*>(packed + int64_t{nb} * a.kp * V::kNr);
      typename V::Regs regs[V::kNr / V::kLanes];
      for (int32_t j = 0; j < nv; ++j) {
        regs[j] = V::regs(a.ep, o0 + j * V::kLanes, std::min(V::kLanes, lanes - j * V::kLanes));
      }
      const auto epilogue = V::pick_epilogue(a.ep, regs, nv);
      int64_t pix[V::kMr];
      for (int64_t m = m0; m < m1;) {
        const int32_t mr = call_rows(V::kMr, m1 - m);
        pick<K, V::kMr, V::kNr / V::kLanes>(mr, nv)(
            reinterpret_cast<const uint8_t*>(rows + (m - m0) * a.kp), row_bytes, b, steps,
            a.init + o0, tile);
        for (int32_t r = 0; r < mr; ++r) pix[r] = m + r;
        epilogue(a.ep, regs, tile, V::kNr, mr, pix, o0, lanes);
        m += mr;
      }
    }
  }
}

}  // namespace f8net::rt::kernels::gemm_items
