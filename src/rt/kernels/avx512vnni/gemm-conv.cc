// Implicit-GEMM convolution with vpdpbusd (u8 x s8 -> int32): M = output pixels, N = output
// channels in packed blocks of 64, K = taps x input channels. Each m tile's input patches are
// gathered once (im2col into per-thread scratch, signed codes flipped to x + 128 whose
// 128 * sum(w) is pre-subtracted in `init`), then a 6 x 64 register-blocked microkernel runs per
// n block and the shift epilogue (epilogue-tile.h) writes codes or int32 from its tile. With
// tap_rows (dilation_w 1, c % 4 == 0: every 3x3 conv after the stem) only the patches that touch
// the padding are gathered; the others are read in place as kh runs of kw * c bytes, since in
// NHWC a kernel row is contiguous and the pixels of one output row are sw * c bytes apart. vpdpbusd
// wraps mod 2^32, and the loader proved the true sum fits int32, so every result equals the
// reference exactly.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/avx512/epilogue.h"
#include "kernels/avx512vnni/vnni-kernels.h"
#include "kernels/epilogue-tile.h"
#include "kernels/patch-walk.h"

namespace f8net::rt::kernels::avx512vnni {
namespace {

using avx512::ZmmOps;

// Fully unrolled so the MR x NB accumulators live in zmm registers (24 + 4 weights + 1 input);
// they are then stored to a tile on the stack (L1) for the block's tile epilogue (pixels
// pix[0..MR), channels o0 .. o0 + lanes), a function per variant (epilogue-tile.h).
// Row m's K bytes are `segs` runs of seg_k4 quads at a + m * lda + s * seg_stride (one run for
// gathered patches; kh kernel rows for patches read in place), matching b's K order.
// Each k-step also prefetches pf into L2, then advances it by pf_step bytes (the next stage's
// weights, GemmConvArgs::prefetch; pf_step 0 when the item's share is done).
struct Rows {
  const uint8_t* a;
  int64_t lda;
  int32_t segs;
  int64_t seg_stride;
  int32_t seg_k4;
  const uint8_t* pf;
  int64_t pf_step;
};

// The next stage's weight lines this work item still has to prefetch.
struct PrefetchShare {
  const uint8_t* at;
  int64_t lines;
};

// Spreads the next call's part of `share` over its k-steps: as many lines as it has k-steps, or
// all that remain, at a stride of ceil(lines * 64 / k-steps) bytes. With nothing left it keeps
// prefetching `idle` (an address the call reads anyway).
inline void take_prefetch(PrefetchShare* share, int64_t k_steps, const void* idle, Rows* r) {
  if (share->lines <= 0 || k_steps <= 0) {
    r->pf = static_cast<const uint8_t*>(idle);
    r->pf_step = 0;
    return;
  }
  const int64_t lines = std::min(share->lines, k_steps);
  r->pf = share->at;
  r->pf_step = (lines * 64 + k_steps - 1) / k_steps;
  share->at += lines * 64;
  share->lines -= lines;
}

// The tile epilogue of a channel block with its tables and lane count. An int32 output with no
// Add and no Requantize (the stem's rows before its max pool, a conv whose output only an Add
// reads) is stored straight from the accumulators instead: `out32` is then non-null and `relu`
// says whether max(x, 0) applies; the stack tile and its reload were a tenth of the stem's GEMM.
struct BlockEpilogue {
  TileEpilogue<ZmmOps> fn;
  const EpilogueRegs<ZmmOps>* regs;
  int32_t o0, lanes;
  int32_t* out32;
  bool relu;
};

BlockEpilogue block_epilogue(const Epilogue& ep, const EpilogueRegs<ZmmOps>* regs, int32_t nv,
                             int32_t o0, int32_t lanes) {
  BlockEpilogue be;
  be.fn = pick_tile_epilogue<ZmmOps, kGemmNr / 16>(ep, regs, nv);
  be.regs = regs;
  be.o0 = o0;
  be.lanes = lanes;
  const bool direct = !ep.requant && ep.other == nullptr;
  be.out32 = direct ? static_cast<int32_t*>(ep.out) : nullptr;
  be.relu = ep.relu;
  return be;
}

// The weights of a 64-channel block stream from L2 once per call (K x 64 bytes: 295 KB for a
// 3 x 3 x 512 conv), four lines per K quad; the hardware prefetchers bring them to L2 but not
// early enough into L1. Prefetching four quads ahead made ResNet-18's layer-4 convs 15 % and
// layer-3 6 % faster on a Sapphire Rapids-class Xeon (1 thread), 1 x 1 convs unchanged.
// Prefetches past the block's end are harmless (no fault, the next block's bytes).
constexpr int64_t kWeightPrefetchBytes = 1024;

template <int MR, int NB, bool kFlip>
void microkernel(const Rows& r, const int8_t* b, const int32_t* init, const Epilogue& ep,
                 const BlockEpilogue& be, const int64_t* pix) {
  __m512i acc[MR][NB];
#pragma GCC unroll 8
  for (int j = 0; j < NB; ++j) {
    const __m512i v = _mm512_loadu_si512(init + 16 * j);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) acc[m][j] = v;
  }
  const __m512i flip = _mm512_set1_epi32(static_cast<int32_t>(0x80808080u));
  const int64_t lda = r.lda;
  const int32_t seg_k4 = r.seg_k4;
  const uint8_t* seg = r.a;
  const uint8_t* pf = r.pf;
  const int64_t pf_step = r.pf_step;
  for (int32_t s = 0; s < r.segs; ++s, seg += r.seg_stride) {
    for (int32_t k4 = 0; k4 < seg_k4; ++k4, b += 256, pf += pf_step) {
      _mm_prefetch(reinterpret_cast<const char*>(pf), _MM_HINT_T1);
      __m512i wv[NB];
#pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) wv[j] = _mm512_loadu_si512(b + 64 * j);
#pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) {
        _mm_prefetch(reinterpret_cast<const char*>(b + kWeightPrefetchBytes + 64 * j), _MM_HINT_T0);
      }
#pragma GCC unroll 8
      for (int m = 0; m < MR; ++m) {
        int32_t quad;
        std::memcpy(&quad, seg + m * lda + 4 * int64_t{k4}, 4);
        __m512i av = _mm512_set1_epi32(quad);
        if (kFlip) av = _mm512_xor_si512(av, flip);
#pragma GCC unroll 8
        for (int j = 0; j < NB; ++j) acc[m][j] = _mm512_dpbusd_epi32(acc[m][j], av, wv[j]);
      }
    }
  }
  if (be.out32 != nullptr) {
    const int64_t n = ep.n;
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      int32_t* o = be.out32 + pix[m] * n + be.o0;
#pragma GCC unroll 8
      for (int j = 0; j < NB; ++j) {
        const __m512i v = be.relu ? _mm512_max_epi32(acc[m][j], _mm512_setzero_si512()) : acc[m][j];
        _mm512_mask_storeu_epi32(o + 16 * j, be.regs[j].k, v);
      }
    }
    return;
  }
  alignas(64) int32_t tile[MR * kGemmNr];
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) {
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) _mm512_store_si512(tile + m * kGemmNr + 16 * j, acc[m][j]);
  }
  be.fn(ep, be.regs, tile, kGemmNr, MR, pix, be.o0, be.lanes);
}

using MicroFn = void (*)(const Rows&, const int8_t*, const int32_t*, const Epilogue&,
                         const BlockEpilogue&, const int64_t*);

template <int MR, bool F>
constexpr MicroFn pick_nb(int nb) {
  return nb == 1   ? microkernel<MR, 1, F>
         : nb == 2 ? microkernel<MR, 2, F>
         : nb == 3 ? microkernel<MR, 3, F>
                   : microkernel<MR, 4, F>;
}
template <bool F>
MicroFn pick(int mr, int nb) {
  switch (mr) {
    case 1:
      return pick_nb<1, F>(nb);
    case 2:
      return pick_nb<2, F>(nb);
    case 3:
      return pick_nb<3, F>(nb);
    case 4:
      return pick_nb<4, F>(nb);
    case 5:
      return pick_nb<5, F>(nb);
    default:
      return pick_nb<6, F>(nb);
  }
}

// dst[i] = src[i] ^ flip for n bytes.
void copy_flip(uint8_t* dst, const uint8_t* src, int32_t n, bool flip) {
  if (!flip) {
    std::memcpy(dst, src, static_cast<size_t>(n));
    return;
  }
  const __m512i f = _mm512_set1_epi8(static_cast<char>(0x80));
  int32_t i = 0;
  for (; i + 64 <= n; i += 64) {
    _mm512_storeu_si512(dst + i, _mm512_xor_si512(_mm512_loadu_si512(src + i), f));
  }
  if (i < n) {
    const __mmask64 k = (~uint64_t{0}) >> (64 - (n - i));
    _mm512_mask_storeu_epi8(dst + i, k, _mm512_xor_si512(_mm512_maskz_loadu_epi8(k, src + i), f));
  }
}

// Short copies (the 3-channel stem's 21-byte kernel rows, border taps): one 32-byte load and
// store. The store is unmasked: it may run past n, but patches are written in increasing address
// order (the overrun is overwritten next) and the scratch has kScratchSlack bytes after each
// thread's tile. The load is unmasked only when all 32 bytes lie inside the source image.
template <bool kFlip>
inline void copy_short(uint8_t* dst, const uint8_t* src, int32_t n, const uint8_t* src_end) {
  __m256i v;
  if (src + 32 <= src_end) {
    v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
  } else {
    v = _mm256_maskz_loadu_epi8(static_cast<__mmask32>((uint64_t{1} << n) - 1), src);
  }
  if (kFlip) v = _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), v);
}

template <bool kFlip>
inline void copy_run(uint8_t* dst, const uint8_t* src, int32_t n, const uint8_t* src_end) {
  if (n < 32) {
    copy_short<kFlip>(dst, src, n, src_end);
  } else {
    copy_flip(dst, src, n, kFlip);
  }
}

// Padding taps: code 0 (0x80 when flipped), 32 bytes at a time under the same overrun rule.
inline void fill_short(uint8_t* dst, uint8_t pad, int32_t n) {
  const __m256i v = _mm256_set1_epi8(static_cast<char>(pad));
  for (int32_t i = 0; i < n; i += 32) _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), v);
}

// One patch of kh * kw * c bytes at output pixel (oy, ox) that touches the padding or dilates.
template <bool kFlip>
__attribute__((noinline)) void border_patch(const GemmConvArgs& a, int32_t oy, int32_t ox,
                                            uint8_t* row) {
  const uint8_t pad = kFlip ? 0x80 : 0;
  const uint8_t* src_end = a.src + int64_t{a.h} * a.w * a.c;
  walk_patch(
      a, oy, ox, [&](int64_t at, int32_t n) { fill_short(row + at, pad, n); },
      [&](int64_t at, const uint8_t* src, int32_t n) {
        copy_run<kFlip>(row + at, src, n, src_end);
      });
}

// The patches of pixels [m0, m1) as rows of kp bytes (padding = code 0, i.e. 0x80 if flipped).
// With dilation 1 a kernel row inside the input is one contiguous run of kw * c bytes (NHWC), so
// an interior patch is kh copies; border patches take the general path. The shape lives in
// locals because the byte stores may alias anything (fields read through `a` would be reloaded
// after every store), and the function stays out of gemm_conv so its state stays in registers.
template <bool kFlip>
__attribute__((noinline)) void im2col(const GemmConvArgs& a, int64_t m0, int64_t m1,
                                      uint8_t* rows) {
  const uint8_t* const src = a.src;
  const int32_t h = a.h, w = a.w, ow = a.ow, kh = a.kh, kw = a.kw;
  const int32_t sh = a.sh, sw = a.sw, ph = a.ph, pw = a.pw;
  const int64_t kp = a.kp, k = a.k, src_row_bytes = int64_t{w} * a.c;
  const int64_t tap_row_step = int64_t{a.dh} * src_row_bytes;
  const int32_t run = kw * a.c, iy_span = (kh - 1) * a.dh;
  const bool dense = a.dw == 1;
  const uint8_t* const src_end = src + int64_t{h} * src_row_bytes;
  int32_t oy = static_cast<int32_t>(m0 / ow), ox = static_cast<int32_t>(m0 % ow);
  for (int64_t m = m0; m < m1; ++m) {
    uint8_t* row = rows + (m - m0) * kp;
    const int32_t ix0 = ox * sw - pw, iy0 = oy * sh - ph;
    if (dense && ix0 >= 0 && ix0 + kw <= w && iy0 >= 0 && iy0 + iy_span < h) {
      const uint8_t* s = src + iy0 * src_row_bytes + int64_t{ix0} * a.c;
      for (int32_t ky = 0; ky < kh; ++ky, s += tap_row_step) {
        copy_run<kFlip>(row + int64_t{ky} * run, s, run, src_end);
      }
    } else {
      border_patch<kFlip>(a, oy, ox, row);
    }
    // The K padding (zero weights, kp - k < 4 bytes) after the last tap's overrun.
    const uint32_t zero = 0;
    std::memcpy(row + k, &zero, 4);
    if (++ox == ow) {
      ox = 0;
      ++oy;
    }
  }
}

// The output pixels whose patches lie inside the input (tap_rows): rows [oy_lo, oy_hi) times
// columns [ox_lo, ox_hi).
struct Interior {
  int32_t oy_lo, oy_hi, ox_lo, ox_hi;
};

Interior interior(const GemmConvArgs& a) {
  // ceil(p / s) for the first, floor((extent - span - 1 + p) / s) + 1 for the end.
  auto first = [](int32_t p, int32_t s) { return (p + s - 1) / s; };
  auto end = [](int32_t extent, int32_t span, int32_t p, int32_t s) {
    const int32_t last = extent - span - 1 + p;
    return last < 0 ? 0 : last / s + 1;
  };
  Interior r;
  r.oy_lo = std::min(a.oh, first(a.ph, a.sh));
  r.oy_hi = std::max(r.oy_lo, std::min(a.oh, end(a.h, (a.kh - 1) * a.dh, a.ph, a.sh)));
  r.ox_lo = std::min(a.ow, first(a.pw, a.sw));
  r.ox_hi = std::max(r.ox_lo, std::min(a.ow, end(a.w, a.kw - 1, a.pw, a.sw)));
  return r;
}

// Gathers the patches of [m0, m1) that touch the padding into `rows` and their pixel indices into
// `pix`; returns how many.
template <bool kFlip>
__attribute__((noinline)) int64_t gather_border(const GemmConvArgs& a, const Interior& in,
                                                int64_t m0, int64_t m1, uint8_t* rows,
                                                int64_t* pix) {
  const int32_t ow = a.ow;
  const int64_t kp = a.kp;
  int64_t count = 0;
  int32_t oy = static_cast<int32_t>(m0 / ow), ox = static_cast<int32_t>(m0 % ow);
  for (int64_t m = m0; m < m1; ++m) {
    const bool inside = oy >= in.oy_lo && oy < in.oy_hi && ox >= in.ox_lo && ox < in.ox_hi;
    if (!inside) {
      border_patch<kFlip>(a, oy, ox, rows + count * kp);  // k == kp: c % 4 == 0
      pix[count++] = m;
    }
    if (++ox == ow) {
      ox = 0;
      ++oy;
    }
  }
  return count;
}

// One n block of a tap_rows item: the interior pixels of each output row in calls of up to MR,
// reading the input in place, then the gathered border patches.
void tap_rows_block(const GemmConvArgs& a, const Interior& in, int64_t m0, int64_t m1,
                    const uint8_t* border_rows, const int64_t* border_pix, int64_t border_count,
                    const int8_t* b, const int32_t* init, const BlockEpilogue& be, int32_t nv,
                    PrefetchShare* share) {
  const int32_t ow = a.ow;
  const int64_t row_bytes = int64_t{a.w} * a.c;
  Rows r;
  r.lda = int64_t{a.sw} * a.c;
  r.segs = a.kh;
  r.seg_stride = int64_t{a.dh} * row_bytes;
  r.seg_k4 = a.kw * a.c / 4;
  int64_t pix[kGemmMr];
  const int32_t oy_first = static_cast<int32_t>(m0 / ow);
  const int32_t oy_last = static_cast<int32_t>((m1 - 1) / ow);
  for (int32_t oy = std::max(oy_first, in.oy_lo); oy <= oy_last && oy < in.oy_hi; ++oy) {
    const int64_t row_m = int64_t{oy} * ow;
    const int64_t s = std::max(m0, row_m + in.ox_lo), e = std::min(m1, row_m + in.ox_hi);
    const uint8_t* src_row = a.src + int64_t{oy * a.sh - a.ph} * row_bytes;
    for (int64_t m = s; m < e;) {
      const int32_t mr = call_rows(kGemmMr, e - m);
      for (int32_t i = 0; i < mr; ++i) pix[i] = m + i;
      r.a = src_row + int64_t{static_cast<int32_t>(m - row_m) * a.sw - a.pw} * a.c;
      take_prefetch(share, int64_t{r.segs} * r.seg_k4, b, &r);
      const MicroFn fn = a.src_signed ? pick<true>(mr, nv) : pick<false>(mr, nv);
      fn(r, b, init, a.ep, be, pix);
      m += mr;
    }
  }
  r.lda = a.kp;
  r.segs = 1;
  r.seg_stride = 0;
  r.seg_k4 = a.kp / 4;
  for (int64_t i = 0; i < border_count;) {
    const int32_t mr = call_rows(kGemmMr, border_count - i);
    r.a = border_rows + i * a.kp;
    take_prefetch(share, r.seg_k4, b, &r);
    pick<false>(mr, nv)(r, b, init, a.ep, be, border_pix + i);  // gathered: already flipped
    i += mr;
  }
}

}  // namespace

void gemm_conv(const GemmConvArgs& a, int64_t begin, int64_t end, int thread) {
  const int64_t m_count = int64_t{a.oh} * a.ow;
  const int32_t n = a.ep.n;
  const int32_t n_blocks = (n + kGemmNr - 1) / kGemmNr;
  uint8_t* scratch = a.scratch + thread * a.scratch_stride;
  const Interior in = a.tap_rows ? interior(a) : Interior{};
  int64_t* border_pix =
      a.tap_rows ? reinterpret_cast<int64_t*>(scratch + a.pixel_list_offset) : nullptr;
  const int64_t all_items = (m_count + a.m_tile - 1) / a.m_tile * a.n_split;
  const int64_t prefetch_lines = a.prefetch != nullptr ? a.prefetch_bytes / 64 : 0;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t first_line = item * prefetch_lines / all_items;
    PrefetchShare share{a.prefetch + first_line * 64,
                        (item + 1) * prefetch_lines / all_items - first_line};
    const int64_t mt = item / a.n_split;
    const int32_t ns = static_cast<int32_t>(item % a.n_split);
    const int64_t m0 = mt * a.m_tile, m1 = std::min<int64_t>(m_count, m0 + a.m_tile);
    const int32_t nb0 = n_blocks * ns / a.n_split, nb1 = n_blocks * (ns + 1) / a.n_split;
    const uint8_t* rows = scratch;
    int64_t lda = a.kp;
    bool flip = false;
    int64_t border_count = 0;
    if (a.direct) {
      rows = a.src + m0 * a.c;
      lda = a.c;
      flip = a.src_signed;
    } else if (a.tap_rows) {
      border_count = a.src_signed ? gather_border<true>(a, in, m0, m1, scratch, border_pix)
                                  : gather_border<false>(a, in, m0, m1, scratch, border_pix);
    } else {
      if (a.src_signed) {
        im2col<true>(a, m0, m1, scratch);
      } else {
        im2col<false>(a, m0, m1, scratch);
      }
    }
    for (int32_t nb = nb0; nb < nb1; ++nb) {
      const int32_t o0 = nb * kGemmNr;
      const int32_t lanes = std::min(kGemmNr, n - o0);
      const int32_t nv = (lanes + 15) / 16;
      const int8_t* b = a.packed + int64_t{nb} * a.kp * kGemmNr;
      // The block's epilogue vectors once for all its pixels (small-K 1x1 convs are bound by
      // the epilogue, not by vpdpbusd).
      EpilogueRegs<ZmmOps> regs[kGemmNr / 16];
      for (int32_t j = 0; j < nv; ++j) {
        regs[j] = epilogue_regs<ZmmOps>(a.ep, o0 + 16 * j, std::min(16, lanes - 16 * j));
      }
      const BlockEpilogue be = block_epilogue(a.ep, regs, nv, o0, lanes);
      if (a.tap_rows) {
        tap_rows_block(a, in, m0, m1, scratch, border_pix, border_count, b, a.init + o0, be, nv,
                       &share);
        continue;
      }
      Rows r{rows, lda, 1, 0, a.kp / 4, nullptr, 0};
      int64_t pix[kGemmMr];
      for (int64_t m = m0; m < m1;) {
        const int32_t mr = call_rows(kGemmMr, m1 - m);
        for (int32_t i = 0; i < mr; ++i) pix[i] = m + i;
        r.a = rows + (m - m0) * lda;
        take_prefetch(&share, r.seg_k4, b, &r);
        const MicroFn fn = flip ? pick<true>(mr, nv) : pick<false>(mr, nv);
        fn(r, b, a.init + o0, a.ep, be, pix);
        m += mr;
      }
    }
  }
}

}  // namespace f8net::rt::kernels::avx512vnni
