// Depthwise convolution channels-last for the avx512vnni row: vpdpbusd on 64 channels x 4 taps
// per instruction. Per quad of taps the four 64-byte code vectors are interleaved in lane (bytes,
// then words), so operand q's lane 4l + i holds channel 16l + 4q + i's four taps, matching
// `quad_weights` (kernels/fused-args.h); taps past the last have zero weights. Signed codes are
// flipped to x + 128 (vpdpbusd's u8 operand) and 128 * sum(w) is pre-subtracted in `quad_init`;
// a tap in the padding then reads 0x80 (code 0). One 128-bit block transpose puts the four
// accumulators back in channel order into a tile of kChunk pixels, and the tile epilogue
// (epilogue-tile.h) packs each pixel's codes into one store. The widening kernel of the avx512
// row needed one vpmovzxbd per 16 channels and tap; this needs 2 interleaves per 64 channels and
// tap (blocks of at most 32 channels still take that kernel: a quad pass costs the same for 16
// channels as for 64). int32 sums wrap mod 2^32 and the loader proved the true sums fit: results
// are exact.
#include <immintrin.h>

#include <algorithm>

#include "kernels/avx512/depthwise-body.h"
#include "kernels/avx512/epilogue.h"
#include "kernels/avx512vnni/vnni-kernels.h"
#include "kernels/epilogue-tile.h"

namespace f8net::rt::kernels::avx512vnni {
namespace {

using avx512::ZmmOps;

// The tile of the avx512 body (depthwise-body.h), which widening_chunk writes too.
constexpr int32_t kTileLd = avx512::kDwTileLd;
constexpr int32_t kChunk = avx512::kDwChunk;
constexpr int32_t kMaxQuads = 16;  // kh * kw <= 64

// The vpdpbusd operands of one quad of taps from its four 64-channel code vectors.
inline void interleave(__m512i a, __m512i b, __m512i c, __m512i d, __m512i* q) {
  const __m512i ab_lo = _mm512_unpacklo_epi8(a, b), ab_hi = _mm512_unpackhi_epi8(a, b);
  const __m512i cd_lo = _mm512_unpacklo_epi8(c, d), cd_hi = _mm512_unpackhi_epi8(c, d);
  q[0] = _mm512_unpacklo_epi16(ab_lo, cd_lo);
  q[1] = _mm512_unpackhi_epi16(ab_lo, cd_lo);
  q[2] = _mm512_unpacklo_epi16(ab_hi, cd_hi);
  q[3] = _mm512_unpackhi_epi16(ab_hi, cd_hi);
}

// vshufi32x4 (128-bit blocks: two from a, two from b). The all-lanes zero-masking form: GCC 12's
// unmasked _mm512_shuffle_i32x4 trips -Wuninitialized on its undefined pass-through.
template <int kImm>
inline __m512i shuffle_blocks(__m512i a, __m512i b) {
  return _mm512_maskz_shuffle_i32x4(static_cast<__mmask16>(0xFFFF), a, b, kImm);
}

// acc[q]'s 128-bit block l holds channels 16l + 4q .. + 3; stores them in channel order.
inline void store_channel_order(const __m512i* acc, int32_t* row) {
  const __m512i t0 = shuffle_blocks<0x44>(acc[0], acc[1]);  // a0 a1 b0 b1
  const __m512i t1 = shuffle_blocks<0xEE>(acc[0], acc[1]);  // a2 a3 b2 b3
  const __m512i t2 = shuffle_blocks<0x44>(acc[2], acc[3]);
  const __m512i t3 = shuffle_blocks<0xEE>(acc[2], acc[3]);
  _mm512_store_si512(row, shuffle_blocks<0x88>(t0, t2));
  _mm512_store_si512(row + 16, shuffle_blocks<0xDD>(t0, t2));
  _mm512_store_si512(row + 32, shuffle_blocks<0x88>(t1, t3));
  _mm512_store_si512(row + 48, shuffle_blocks<0xDD>(t1, t3));
}

// A block's shared state: channel mask, weights, init, tap offsets (quads * 4, past the last
// tap: offset 0 with zero weights).
struct Block {
  __mmask64 k;
  const int8_t* w;  // [quads][4] vectors of 64 bytes
  const int32_t* init;
  const int64_t* off;
  int32_t quads;
};

template <bool kSigned, bool kFull>
inline __m512i load_codes(const uint8_t* p, __mmask64 k) {
  __m512i v = kFull ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8(k, p);
  if (kSigned) v = _mm512_xor_si512(v, _mm512_set1_epi8(static_cast<char>(0x80)));
  return v;
}

// One pixel whose taps all lie inside the input: tap t at base + off[t]. kQuads > 0 fixes the
// quad count (3x3: 3, the weights then stay in registers).
template <bool kSigned, bool kFull, int kQuads>
inline void interior_pixel(const Block& bl, const __m512i* wreg, const uint8_t* base,
                           int32_t* row) {
  const int32_t quads = kQuads > 0 ? kQuads : bl.quads;
  __m512i acc[4];
  for (int q = 0; q < 4; ++q) acc[q] = _mm512_loadu_si512(bl.init + 16 * q);
#pragma GCC unroll 16
  for (int32_t g = 0; g < quads; ++g) {
    __m512i op[4];
    interleave(load_codes<kSigned, kFull>(base + bl.off[4 * g], bl.k),
               load_codes<kSigned, kFull>(base + bl.off[4 * g + 1], bl.k),
               load_codes<kSigned, kFull>(base + bl.off[4 * g + 2], bl.k),
               load_codes<kSigned, kFull>(base + bl.off[4 * g + 3], bl.k), op);
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {
      const __m512i w = kQuads > 0 ? wreg[4 * g + q] : _mm512_loadu_si512(bl.w + 64 * (4 * g + q));
      acc[q] = _mm512_dpbusd_epi32(acc[q], op[q], w);
    }
  }
  store_channel_order(acc, row);
}

// One pixel that may touch the padding: taps outside read code 0 (0x80 flipped).
template <bool kSigned>
void border_pixel(const DepthwiseArgs& a, const Block& bl, int32_t oy, int32_t ox, int32_t c0,
                  int32_t* row) {
  const int32_t taps = a.kh * a.kw;
  const __m512i pad = kSigned ? _mm512_set1_epi8(static_cast<char>(0x80)) : _mm512_setzero_si512();
  __m512i acc[4];
  for (int q = 0; q < 4; ++q) acc[q] = _mm512_loadu_si512(bl.init + 16 * q);
  // Tap t = ky * kw + kx, stepped rather than divided out (two divisions per tap took most of
  // this function's time).
  const int32_t iy0 = oy * a.sh - a.ph, ix0 = ox * a.sw - a.pw;
  int32_t iy = iy0, ix = ix0, kx = 0;
  for (int32_t g = 0; g < bl.quads; ++g) {
    __m512i v[4];
    for (int32_t i = 0; i < 4; ++i) {
      v[i] = _mm512_setzero_si512();  // past the last tap: zero weights
      if (4 * g + i >= taps) continue;
      v[i] = iy < 0 || iy >= a.h || ix < 0 || ix >= a.w
                 ? pad
                 : load_codes<kSigned, false>(a.src + (int64_t{iy} * a.w + ix) * a.c + c0, bl.k);
      ix += a.dw;
      if (++kx == a.kw) {
        kx = 0;
        ix = ix0;
        iy += a.dh;
      }
    }
    __m512i op[4];
    interleave(v[0], v[1], v[2], v[3], op);
    for (int q = 0; q < 4; ++q) {
      acc[q] = _mm512_dpbusd_epi32(acc[q], op[q], _mm512_loadu_si512(bl.w + 64 * (4 * g + q)));
    }
  }
  store_channel_order(acc, row);
}

// Pixels [x0, x1) of row oy into tile rows: the interior (every tap inside) in place, the rest
// through border_pixel.
template <bool kSigned, bool kFull, int kQuads>
void row_chunk(const DepthwiseArgs& a, const Block& bl, int32_t oy, int32_t ox_lo, int32_t ox_hi,
               int32_t c0, int32_t x0, int32_t x1, int32_t* tile) {
  __m512i wreg[kQuads > 0 ? 4 * kQuads : 1];
  if constexpr (kQuads > 0) {
    for (int i = 0; i < 4 * kQuads; ++i) wreg[i] = _mm512_loadu_si512(bl.w + 64 * i);
  }
  const int32_t iy0 = oy * a.sh - a.ph;
  const bool rows_inside = iy0 >= 0 && iy0 + (a.kh - 1) * a.dh < a.h;
  const int32_t lo = rows_inside ? std::clamp(ox_lo, x0, x1) : x1;
  const int32_t hi = rows_inside ? std::clamp(ox_hi, lo, x1) : x1;
  int32_t x = x0;
  for (; x < lo; ++x) border_pixel<kSigned>(a, bl, oy, x, c0, tile + (x - x0) * kTileLd);
  // Only rows inside the input form a row pointer (iy0 < 0 would point before the tensor).
  const uint8_t* src_row = rows_inside ? a.src + int64_t{iy0} * a.w * a.c + c0 : a.src;
  for (; x < hi; ++x) {
    interior_pixel<kSigned, kFull, kQuads>(bl, wreg, src_row + int64_t{x * a.sw - a.pw} * a.c,
                                           tile + (x - x0) * kTileLd);
  }
  for (; x < x1; ++x) border_pixel<kSigned>(a, bl, oy, x, c0, tile + (x - x0) * kTileLd);
}

// The avx512 row's kernel (vpdpwssd on codes widened to int32, 16 channels per vector) for
// the groups of a block, into the same tile.
template <bool kSigned>
void widening_chunk(const DepthwiseArgs& a, const int64_t* off, int32_t ox_lo, int32_t ox_hi,
                    int32_t oy, int32_t c0, int32_t lanes, int32_t nv, int32_t x0, int32_t x1,
                    int32_t* tile) {
  const int32_t taps = a.kh * a.kw;
  if (taps == 9) {
    avx512::dw_accumulate_block<kSigned, true, 9>(a, off, ox_lo, ox_hi, oy, c0, lanes, nv, x0, x1,
                                                  tile);
  } else if (taps == 25) {
    avx512::dw_accumulate_block<kSigned, true, 25>(a, off, ox_lo, ox_hi, oy, c0, lanes, nv, x0, x1,
                                                   tile);
  } else {
    avx512::dw_accumulate_block<kSigned, true, 0>(a, off, ox_lo, ox_hi, oy, c0, lanes, nv, x0, x1,
                                                  tile);
  }
}

template <bool kSigned>
void dw_items(const DepthwiseArgs& a, int64_t begin, int64_t end) {
  const int32_t taps = a.kh * a.kw, quads = (taps + 3) / 4;
  const int32_t blocks = (a.c + 63) / 64;
  const avx512::DwColumns in = avx512::dw_interior_columns(a);
  const int32_t ox_lo = in.lo, ox_hi = in.hi;
  int64_t off[4 * kMaxQuads] = {};  // taps past the last: offset 0 (zero weights)
  avx512::dw_tap_offsets(a, off);
  alignas(64) int32_t tile[kChunk * kTileLd];
  for (int64_t item = begin; item < end; ++item) {
    const int32_t oy = static_cast<int32_t>(item / a.c_split);
    const int32_t cs = static_cast<int32_t>(item % a.c_split);
    const int32_t b0 = blocks * cs / a.c_split, b1 = blocks * (cs + 1) / a.c_split;
    for (int32_t b = b0; b < b1; ++b) {
      const int32_t c0 = 64 * b, lanes = std::min(64, a.c - c0), nv = (lanes + 15) / 16;
      Block bl;
      bl.k = lanes >= 64 ? ~__mmask64{0} : (__mmask64{1} << lanes) - 1;
      bl.w = lanes > 32 ? a.quad_weights + int64_t{b} * quads * 256 : nullptr;  // (c <= 32: none)
      bl.init = lanes > 32 ? a.quad_init + c0 : nullptr;
      bl.off = off;
      bl.quads = quads;
      const avx512::DwBlockEpilogue epilogue(a.ep, c0, lanes);
      for (int32_t x0 = 0; x0 < a.ow; x0 += kChunk) {
        const int32_t x1 = std::min(a.ow, x0 + kChunk);
        if (lanes <= 32) {
          // A block of one or two 16-channel groups (MobileNet's 32-channel layer, the tails of
          // 96 and 144): the widening kernel costs a third of a quad pass per group.
          widening_chunk<kSigned>(a, off, ox_lo, ox_hi, oy, c0, lanes, nv, x0, x1, tile);
        } else if (lanes == 64 && quads == 3) {
          row_chunk<kSigned, true, 3>(a, bl, oy, ox_lo, ox_hi, c0, x0, x1, tile);
        } else if (lanes == 64) {
          row_chunk<kSigned, true, 0>(a, bl, oy, ox_lo, ox_hi, c0, x0, x1, tile);
        } else {
          row_chunk<kSigned, false, 0>(a, bl, oy, ox_lo, ox_hi, c0, x0, x1, tile);
        }
        epilogue.run(a, oy, x0, x1, tile);
      }
    }
  }
}

}  // namespace

void depthwise_conv(const DepthwiseArgs& a, int64_t begin, int64_t end, int /*thread*/) {
  if (a.src_signed) {
    dw_items<true>(a, begin, end);
  } else {
    dw_items<false>(a, begin, end);
  }
}

}  // namespace f8net::rt::kernels::avx512vnni
