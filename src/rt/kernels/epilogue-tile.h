// The epilogue of a GEMM microkernel's tile: `rows` pixels of NV vectors of int32 accumulators in
// memory (the microkernel stores its registers there), each pixel's codes packed and written with
// one store. The variant (Add plain / aligned, ReLU, int32 output, int32 side output) is a
// template argument chosen once per channel block, so the per-pixel loop tests none of the
// Epilogue's fields; with the variant tests, per-vector table reloads and a masked vpmovdb per
// 16 codes, the epilogue inlined in the microkernel took 75 % of a 1x1 conv with K = 16 (perf).
//
// The result is apply_epilogue's, byte for byte: the same add, ReLU and RNE shift per lane; only
// the final clamp moves to the bytes. Saturating int32 -> int16 -> int8 / uint8 packs clamp to
// the 8-bit range, then a byte min / max to [lo, hi], which lies inside it: clamping in stages
// to nested ranges equals clamping once to the innermost.
//
// V (epilogue-body.h's ops) also provides pack_codes<NV>(q, sgn, lo8, hi8) (NV vectors of codes
// as bytes in channel order, saturated and clamped as above), store_bytes(p, n, v) (the first n
// bytes) and set1_bytes(v). Include only after V, like epilogue-body.h.
#pragma once

#include <cstdint>

#include "kernels/epilogue-body.h"

namespace f8net::rt::kernels {
namespace {

template <class V>
using TileEpilogue = void (*)(const Epilogue& ep, const EpilogueRegs<V>* regs, const int32_t* tile,
                              int32_t ld, int32_t rows, const int64_t* pix, int32_t o0,
                              int32_t lanes);

enum class TileAdd { kNone, kPlain, kAligned };

// Row r of the tile (ld int32 apart) is pixel pix[r]; its channels o0 .. o0 + lanes, lanes <=
// NV * V::kLanes, use regs[0 .. NV).
template <class V, int NV, TileAdd kAdd, bool kRelu, bool kRequant, bool kOut32>
void tile_epilogue(const Epilogue& ep, const EpilogueRegs<V>* regs, const int32_t* tile, int32_t ld,
                   int32_t rows, const int64_t* pix, int32_t o0, int32_t lanes) {
  using Reg = typename V::Reg;
  // Local copies: the code stores may alias anything reached through `ep`.
  const int64_t n = ep.n;
  const int32_t* const other = ep.other;
  uint8_t* const codes = static_cast<uint8_t*>(ep.out);
  int32_t* const out32 = kRequant ? ep.out32 : static_cast<int32_t*>(ep.out);
  const bool sgn = ep.out_signed, any_left = ep.any_left;
  const int32_t qmax = sgn ? (1 << (ep.out_bits - 1)) - 1 : (1 << ep.out_bits) - 1;
  const Reg lo8 = V::set1_bytes(sgn && !ep.relu ? -qmax : 0), hi8 = V::set1_bytes(qmax);
  for (int32_t r = 0; r < rows; ++r) {
    const int64_t at = pix[r] * n + o0;
    Reg q[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      Reg acc = V::load(tile + int64_t{r} * ld + V::kLanes * j);
      if constexpr (kAdd != TileAdd::kNone) {
        const Reg b = V::load_masked(other + at + V::kLanes * j, regs[j].k);
        acc = kAdd == TileAdd::kPlain ? V::add_plain(acc, b)
                                      : V::add_aligned(acc, b, regs[j].s1, regs[j].s2);
      }
      if constexpr (kRelu) acc = V::max(acc, V::zero());
      if constexpr (kOut32 || !kRequant) {
        V::store_masked(out32 + at + V::kLanes * j, regs[j].k, acc);
      }
      if constexpr (kRequant) {
        q[j] = any_left ? requantize_unclamped<V, true>(acc, regs[j])
                        : requantize_unclamped<V, false>(acc, regs[j]);
      }
    }
    if constexpr (kRequant)
      V::store_bytes(codes + at, lanes, V::template pack_codes<NV>(q, sgn, lo8, hi8));
  }
}

template <class V, int NV, TileAdd kAdd, bool kRelu>
TileEpilogue<V> pick_tile_output(const Epilogue& ep) {
  if (!ep.requant) return tile_epilogue<V, NV, kAdd, kRelu, false, false>;
  return ep.out32 != nullptr ? tile_epilogue<V, NV, kAdd, kRelu, true, true>
                             : tile_epilogue<V, NV, kAdd, kRelu, true, false>;
}

template <class V, int NV, TileAdd kAdd>
TileEpilogue<V> pick_tile_relu(const Epilogue& ep) {
  return ep.relu ? pick_tile_output<V, NV, kAdd, true>(ep)
                 : pick_tile_output<V, NV, kAdd, false>(ep);
}

template <class V, int NV>
TileEpilogue<V> pick_tile_add(const Epilogue& ep, const EpilogueRegs<V>* regs) {
  if (ep.other == nullptr) return pick_tile_relu<V, NV, TileAdd::kNone>(ep);
  bool plain = true;
  for (int j = 0; j < NV; ++j) plain = plain && regs[j].plain_add;
  return plain ? pick_tile_relu<V, NV, TileAdd::kPlain>(ep)
               : pick_tile_relu<V, NV, TileAdd::kAligned>(ep);
}

// The tile epilogue for a channel block of nv vectors (1 <= nv <= kMaxNv) with tables regs.
template <class V, int kMaxNv>
TileEpilogue<V> pick_tile_epilogue(const Epilogue& ep, const EpilogueRegs<V>* regs, int32_t nv) {
  static_assert(kMaxNv >= 1 && kMaxNv <= 4);
  if constexpr (kMaxNv >= 4) {
    if (nv >= 4) return pick_tile_add<V, 4>(ep, regs);
  }
  if constexpr (kMaxNv >= 3) {
    if (nv == 3) return pick_tile_add<V, 3>(ep, regs);
  }
  if constexpr (kMaxNv >= 2) {
    if (nv == 2) return pick_tile_add<V, 2>(ep, regs);
  }
  return pick_tile_add<V, 1>(ep, regs);
}

}  // namespace
}  // namespace f8net::rt::kernels
