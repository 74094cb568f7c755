// The fused engine's int32 max pool, written once over an ISA's vector ops V (epilogue-body.h's
// YmmOps / ZmmOps; besides those it uses V::max and V::set1): window max over the in-range taps
// (pool-window.h), then either the int32 store or the fused epilogue (a Requantize, and the int32
// side output). Passes of 4 vectors of channels, so each tap's pixel is read as whole cache lines;
// each pass loads its epilogue vectors once for all its pixels. The fused epilogue runs on tiles
// of kPoolTileRows pixels' maxima (epilogue-tile.h: one packed store per pixel, the variant chosen
// once per pass); apply_epilogue per vector, with its masked stores per 16 codes, was a fifth of
// ResNet-18's stem stage (perf, 1 thread, Xeon family 6 model 207).
//
// Include only from files compiled with that ISA's flags, after epilogue-body.h and V: as there,
// everything is a template in an unnamed namespace (one copy per file and ISA).
#pragma once

#include <climits>
#include <cstdint>

#include "kernels/epilogue-body.h"
#include "kernels/epilogue-tile.h"
#include "kernels/pool-window.h"

namespace f8net::rt::kernels {
namespace {

constexpr int kPoolTileRows = 8;

// Pixels [begin, end) of the pass over channels [c0, c0 + NV * V::kLanes). NV is a template
// argument so the NV running maxima stay in registers (with a run-time count GCC kept them on
// the stack: a store-to-load chain per tap).
template <class V, int NV>
void maxpool_pass(const EltArgs& a, int32_t c0, const typename V::Mask* mask,
                  const EpilogueRegs<V>* epilogue_regs, int64_t begin, int64_t end) {
  using Reg = typename V::Reg;
  int32_t* out = static_cast<int32_t*>(a.ep.out);
  // Local copies: the code stores may alias the args and the tables.
  const Epilogue ep = a.ep;
  typename V::Mask k[NV];
  EpilogueRegs<V> regs[NV];
  for (int v = 0; v < NV; ++v) {
    k[v] = mask[v];
    regs[v] = epilogue_regs[v];
  }
  constexpr int32_t kLd = NV * V::kLanes;
  const int32_t lanes = a.c - c0 < kLd ? a.c - c0 : kLd;
  alignas(64) int32_t tile[kPoolTileRows * kLd];
  int64_t pix[kPoolTileRows];
  int32_t rows = 0;
  const TileEpilogue<V> tile_epilogue =
      ep.requant ? pick_tile_epilogue<V, 4>(ep, regs, NV) : nullptr;
  for (int64_t m = begin; m < end; ++m) {
    const PoolWindow win = pool_window(a, m);
    Reg best[NV];
    for (int v = 0; v < NV; ++v) best[v] = V::set1(INT_MIN);
    for (int32_t ky = win.ky0; ky < win.ky1; ++ky) {
      const int32_t* row = a.src + (int64_t{win.y0 + ky} * a.w + win.x0) * a.c + c0;
      for (int32_t kx = win.kx0; kx < win.kx1; ++kx) {
        const int32_t* p = row + int64_t{kx} * a.c;
        for (int v = 0; v < NV; ++v) {
          best[v] = V::max(best[v], V::load_masked(p + V::kLanes * v, k[v]));
        }
      }
    }
    if (!ep.requant) {
      for (int v = 0; v < NV; ++v)
        V::store_masked(out + m * a.c + c0 + V::kLanes * v, k[v], best[v]);
      continue;
    }
    for (int v = 0; v < NV; ++v) V::store(tile + rows * kLd + V::kLanes * v, best[v]);
    pix[rows] = m;
    if (++rows == kPoolTileRows) {
      tile_epilogue(ep, regs, tile, kLd, rows, pix, c0, lanes);
      rows = 0;
    }
  }
  if (rows > 0) tile_epilogue(ep, regs, tile, kLd, rows, pix, c0, lanes);
}

template <class V>
void maxpool(const EltArgs& a, int64_t begin, int64_t end) {
  for (int32_t c0 = 0; c0 < a.c; c0 += 4 * V::kLanes) {
    const int32_t left = a.c - c0;
    const int32_t vecs = left >= 4 * V::kLanes ? 4 : (left + V::kLanes - 1) / V::kLanes;
    typename V::Mask k[4]{};
    EpilogueRegs<V> regs[4]{};
    for (int v = 0; v < vecs; ++v) {
      const int32_t lanes = left - V::kLanes * v < V::kLanes ? left - V::kLanes * v : V::kLanes;
      k[v] = V::mask(lanes);
      if (a.ep.requant) regs[v] = epilogue_regs<V>(a.ep, c0 + V::kLanes * v, lanes);
    }
    switch (vecs) {
      case 1:
        maxpool_pass<V, 1>(a, c0, k, regs, begin, end);
        break;
      case 2:
        maxpool_pass<V, 2>(a, c0, k, regs, begin, end);
        break;
      case 3:
        maxpool_pass<V, 3>(a, c0, k, regs, begin, end);
        break;
      default:
        maxpool_pass<V, 4>(a, c0, k, regs, begin, end);
    }
  }
}

}  // namespace
}  // namespace f8net::rt::kernels
