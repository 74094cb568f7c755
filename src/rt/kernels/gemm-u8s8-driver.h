// The u8 x s8 implicit-GEMM driver for the ISAs without AVX-512 VNNI: on avx2 and avx512 for a
// conv or FC whose every weight pair the prepare step proved cannot saturate int16
// (safe_weight_pairs() in ops/fused-stages.cc), on avxvnni (vpdpbusd on ymm) for every one. Patches
// are bytes in [0, 255]: u8 codes, or signed codes flipped to x + 128 whose 128 * sum(w) is
// subtracted in `init`, as for vpdpbusd. One K quad of 4 codes is broadcast per pixel; vpmaddubsw
// multiplies it with 4 weights of each channel and adds adjacent products into two s16 pair sums,
// vpmaddwd by ones adds the pairs into int32 and vpaddd accumulates. A pair sum is at most 255 *
// (sum of the pair's positive weights) <= 255 * 128 = 32640 and at least -255 * 128 = -32640, so
// vpmaddubsw never saturates and every int32 sum equals the reference's (mod 2^32 like vpdpbusd;
// the loader proved the true sum fits int32). Three instructions per 32 MACs instead of the s16
// driver's two per 16: in isolation 87.5 vs 67 GMAC/s per core on ymm (Xeon, family 6 model 207).
//
// Per work item (m tile, n split) the tile's patches are gathered once into per-thread byte rows
// (K padding zero), then per nr-channel block MR x NR microkernel calls and the ISA's shift
// epilogue (the item loop of gemm-items.h, shared with the s16 driver). Weights are
// GemmPacking::kU8S8Quads with the ISA's nr. Included only from files compiled with that ISA's
// flags; every function is a template on the ISA's ops V (a type local to that file), as in
// gemm-s16-driver.h.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/fused-args.h"
#include "kernels/gemm-items.h"
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

// V, the ISA's vector ops: Reg, kMr, kNr, kLanes (int32 per Reg); load(const void*),
// set1(int32_t), dot4_add(acc, quads, w) = acc + vpmaddwd(vpmaddubsw(quads, w), ones) (or
// vpdpbusd with AVX-VNNI), store(int32_t*, Reg); Regs = regs(ep, o, lanes) and
// pick_epilogue(ep, regs, nv) as in gemm-s16-driver.h.
template <class V>
void gemm_conv(const GemmConvArgs& a, int64_t begin, int64_t end, int thread) {
  gemm_items::run<V, true, uint8_t>(
      a, begin, end, thread, a.packed,
      [&](int64_t m0, int64_t m1, uint8_t* rows) { im2col<V>(a, m0, m1, rows); });
}

}  // namespace f8net::rt::kernels::u8s8gemm
