// Depthwise convolution channels-last on AVX-512 (any kernel, stride, padding, dilation), shared
// by the avx512 row (vpmaddwd + vpaddd) and the avx512vnni row (vpdpwssd): 16 channels per
// vector, one tap at a time: the tap's 16 codes widened to int32 (x in the low int16, the high
// int16 0 or -1) times the per-tap table of uint16(w) (high int16 0), so each int32 lane gains
// exactly x * w. Per chunk of pixels the loop runs channel group outer, pixels inner (the
// group's weights, 3x3 and 5x5: in registers) into an int32 tile, then the tile epilogue
// (epilogue-tile.h) writes up to 64 channels per pixel in one store. Interior pixels (every tap
// inside) read taps at fixed offsets with unmasked loads; borders skip the taps outside (code
// 0 adds 0). int32 sums are exact in any order: the loader proved every partial sum fits.
// Include from one .cc per ISA row only; everything here has internal linkage.
#pragma once

#include <immintrin.h>

#include <algorithm>

#include "kernels/avx512/epilogue.h"
#include "kernels/epilogue-tile.h"

namespace f8net::rt::kernels::avx512 {
namespace {

constexpr int32_t kDwMaxTaps = 64;

template <bool kSigned>
inline __m512i dw_widen(__m128i v) {
  return kSigned ? _mm512_cvtepi8_epi32(v) : _mm512_cvtepu8_epi32(v);
}

template <bool kVnni>
inline __m512i dw_mac(__m512i acc, __m512i x, __m512i w) {
  if constexpr (kVnni) {
    return _mm512_dpwssd_epi32(acc, x, w);
  } else {
    return _mm512_add_epi32(acc, _mm512_madd_epi16(x, w));
  }
}

// Output pixels [x0, x1) of row oy for channels [c0, c0 + 16) (lanes valid): their int32 sums
// into tile rows kDwTileLd int32 apart (pixel x0 first). kTaps > 0 fixes the tap count at
// compile time (the weights then stay in registers).
constexpr int32_t kDwTileLd = 64;
constexpr int32_t kDwChunk = 32;  // pixels per tile: 32 x 64 int32 = 8 KB, in L1

template <bool kSigned, bool kVnni, int kTaps>
void dw_accumulate(const DepthwiseArgs& a, const int64_t* off, int32_t ox_lo, int32_t ox_hi,
                   int64_t oy, int32_t c0, int32_t lanes, int32_t x0, int32_t x1, int32_t* tile) {
  const int32_t taps = kTaps > 0 ? kTaps : a.kh * a.kw;
  const int32_t cpad = (a.c + 15) / 16 * 16;
  const __mmask16 k = lane_mask(lanes);
  const __m512i bias = _mm512_loadu_si512(a.bias + c0);
  const int32_t* wt = a.tap_weights + c0;
  constexpr int kRegs = kTaps > 0 ? kTaps : 1;
  __m512i wreg[kRegs];
  if constexpr (kTaps > 0) {
#pragma GCC unroll 32
    for (int t = 0; t < kTaps; ++t) wreg[t] = _mm512_loadu_si512(wt + int64_t{t} * cpad);
  }
  const auto weight = [&](int32_t t) {
    if constexpr (kTaps > 0) {
      return wreg[t];
    } else {
      return _mm512_loadu_si512(wt + int64_t{t} * cpad);
    }
  };
  const int32_t iy0 = static_cast<int32_t>(oy) * a.sh - a.ph;
  const bool rows_inside = iy0 >= 0 && iy0 + (a.kh - 1) * a.dh < a.h;
  const auto store = [&](int32_t x, __m512i acc) {
    _mm512_store_si512(tile + int64_t{x - x0} * kDwTileLd, acc);
  };
  // Borders: any tap may lie outside; skip those (their codes read as 0).
  const auto border = [&](int32_t x) {
    __m512i acc = bias;
    for (int32_t ky = 0; ky < a.kh; ++ky) {
      const int32_t iy = iy0 + ky * a.dh;
      if (iy < 0 || iy >= a.h) continue;
      for (int32_t kx = 0; kx < a.kw; ++kx) {
        const int32_t ix = x * a.sw - a.pw + kx * a.dw;
        if (ix < 0 || ix >= a.w) continue;
        const uint8_t* p = a.src + (int64_t{iy} * a.w + ix) * a.c + c0;
        const __m512i xv = dw_widen<kSigned>(_mm_maskz_loadu_epi8(k, p));
        acc = dw_mac<kVnni>(acc, xv, weight(ky * a.kw + kx));
      }
    }
    store(x, acc);
  };
  int32_t x = x0;
  if (!rows_inside || lanes != 16) {
    for (; x < x1; ++x) border(x);
    return;
  }
  for (; x < std::min(x1, ox_lo); ++x) border(x);
  const uint8_t* row = a.src + int64_t{iy0} * a.w * a.c + c0;
  for (const int32_t end = std::min(x1, ox_hi); x < end; ++x) {
    const uint8_t* base = row + int64_t{x * a.sw - a.pw} * a.c;
    // Two chains, so the vpdpwssd latency of one tap overlaps the next.
    __m512i acc0 = bias, acc1 = _mm512_setzero_si512();
    int32_t t = 0;
#pragma GCC unroll 32
    for (; t + 1 < taps; t += 2) {
      const __m128i v0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + off[t]));
      const __m128i v1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + off[t + 1]));
      acc0 = dw_mac<kVnni>(acc0, dw_widen<kSigned>(v0), weight(t));
      acc1 = dw_mac<kVnni>(acc1, dw_widen<kSigned>(v1), weight(t + 1));
    }
    if (t < taps) {
      const __m128i v0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + off[t]));
      acc0 = dw_mac<kVnni>(acc0, dw_widen<kSigned>(v0), weight(t));
    }
    store(x, _mm512_add_epi32(acc0, acc1));
  }
  for (; x < x1; ++x) border(x);
}

template <bool kSigned, bool kVnni, int kTaps>
void dw_accumulate_block(const DepthwiseArgs& a, const int64_t* off, int32_t ox_lo, int32_t ox_hi,
                         int64_t oy, int32_t c0, int32_t lanes, int32_t nv, int32_t x0, int32_t x1,
                         int32_t* tile) {
  for (int32_t j = 0; j < nv; ++j) {
    dw_accumulate<kSigned, kVnni, kTaps>(a, off, ox_lo, ox_hi, oy, c0 + 16 * j,
                                         std::min(16, lanes - 16 * j), x0, x1, tile + 16 * j);
  }
}

// Interior output columns [lo, hi): every kx tap inside the row.
struct DwColumns {
  int32_t lo, hi;
};
inline DwColumns dw_interior_columns(const DepthwiseArgs& a) {
  const int32_t lo = std::min(a.ow, (a.pw + a.sw - 1) / a.sw);
  const int32_t last = a.w - 1 - (a.kw - 1) * a.dw + a.pw;  // ox * sw <= last (may be < 0)
  return {lo, last < 0 ? lo : std::max(lo, std::min(a.ow, last / a.sw + 1))};
}

// off[t]: tap t's byte offset from its pixel's first tap (ky-major, dilated, channels-last).
inline void dw_tap_offsets(const DepthwiseArgs& a, int64_t* off) {
  for (int32_t t = 0; t < a.kh * a.kw; ++t) {
    off[t] = (int64_t{t / a.kw} * a.dh * a.w + int64_t{t % a.kw} * a.dw) * a.c;
  }
}

// The tile epilogue of channels [c0, c0 + lanes) (at most 64): tables once per block, then per
// chunk of pixels of one output row.
struct DwBlockEpilogue {
  EpilogueRegs<ZmmOps> regs[4];
  TileEpilogue<ZmmOps> fn;
  int32_t c0, lanes;

  DwBlockEpilogue(const Epilogue& ep, int32_t first, int32_t count) : c0(first), lanes(count) {
    const int32_t nv = (lanes + 15) / 16;
    for (int32_t j = 0; j < nv; ++j) {
      regs[j] = epilogue_regs<ZmmOps>(ep, c0 + 16 * j, std::min(16, lanes - 16 * j));
    }
    fn = pick_tile_epilogue<ZmmOps, 4>(ep, regs, nv);
  }
  // Pixels [x0, x1) of row oy, their sums in tile rows kDwTileLd apart.
  void run(const DepthwiseArgs& a, int64_t oy, int32_t x0, int32_t x1, const int32_t* tile) const {
    int64_t pix[kDwChunk];
    for (int32_t x = x0; x < x1; ++x) pix[x - x0] = oy * a.ow + x;
    fn(a.ep, regs, tile, kDwTileLd, x1 - x0, pix, c0, lanes);
  }
};

// Items are (output row, channel range); each range runs in blocks of up to 4 groups (64
// channels) and chunks of kDwChunk pixels: the sums of a chunk go to a tile in L1, then the tile
// epilogue packs each pixel's block of codes into one store.
template <bool kSigned, bool kVnni>
void dw_items(const DepthwiseArgs& a, int64_t begin, int64_t end) {
  const int32_t taps = a.kh * a.kw;
  const int32_t groups = (a.c + 15) / 16;
  const DwColumns in = dw_interior_columns(a);
  const int32_t ox_lo = in.lo, ox_hi = in.hi;
  int64_t off[kDwMaxTaps];
  dw_tap_offsets(a, off);
  alignas(64) int32_t tile[kDwChunk * kDwTileLd];
  for (int64_t item = begin; item < end; ++item) {
    const int64_t oy = item / a.c_split;
    const int32_t cs = static_cast<int32_t>(item % a.c_split);
    const int32_t g0 = groups * cs / a.c_split, g1 = groups * (cs + 1) / a.c_split;
    for (int32_t g = g0; g < g1; g += 4) {
      const int32_t c0 = 16 * g, nv = std::min(4, g1 - g);
      const int32_t lanes = std::min(16 * nv, a.c - c0);
      const DwBlockEpilogue epilogue(a.ep, c0, lanes);
      for (int32_t x0 = 0; x0 < a.ow; x0 += kDwChunk) {
        const int32_t x1 = std::min(a.ow, x0 + kDwChunk);
        if (taps == 9) {
          dw_accumulate_block<kSigned, kVnni, 9>(a, off, ox_lo, ox_hi, oy, c0, lanes, nv, x0, x1,
                                                 tile);
        } else if (taps == 25) {
          dw_accumulate_block<kSigned, kVnni, 25>(a, off, ox_lo, ox_hi, oy, c0, lanes, nv, x0, x1,
                                                  tile);
        } else {
          dw_accumulate_block<kSigned, kVnni, 0>(a, off, ox_lo, ox_hi, oy, c0, lanes, nv, x0, x1,
                                                 tile);
        }
        epilogue.run(a, oy, x0, x1, tile);
      }
    }
  }
}

template <bool kVnni>
void dw_conv(const DepthwiseArgs& a, int64_t begin, int64_t end) {
  if (a.src_signed) {
    dw_items<true, kVnni>(a, begin, end);
  } else {
    dw_items<false, kVnni>(a, begin, end);
  }
}

}  // namespace
}  // namespace f8net::rt::kernels::avx512
