// The s16 implicit-GEMM driver shared by the fused GEMMs without VNNI (avx2, avx512): per work
// item (m tile, n split) the tile's patches are gathered once into per-thread int16 rows (codes
// sign- or zero-extended, padding and K..kp zero), then per nr-channel block an MR x NR vpmaddwd
// microkernel (s16 x s16 pairs: exact for every code) and the ISA's shift epilogue. Included only
// from files compiled with that ISA's flags; every function is a template on the ISA's traits T,
// so each ISA gets its own instantiation (no inline function is shared across ISA flags).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/fused-args.h"

namespace f8net::rt::kernels::s16gemm {

template <class T>
void widen(int16_t* dst, const uint8_t* src, int32_t n, bool sgn) {
  if (sgn) {
    for (int32_t i = 0; i < n; ++i) dst[i] = static_cast<int8_t>(src[i]);
  } else {
    for (int32_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}

template <class T>
void zero(int16_t* dst, int32_t n) {
  std::memset(dst, 0, static_cast<size_t>(n) * sizeof(int16_t));
}

// The patches of pixels [m0, m1) as rows of kp int16 in (ky, kx, c) order. With dilation 1 a
// kernel row inside the input is one contiguous run of kw * c codes (NHWC).
template <class T>
void im2col(const GemmConvArgs& a, int64_t m0, int64_t m1, int16_t* rows) {
  const int32_t run = a.kw * a.c;
  for (int64_t m = m0; m < m1; ++m) {
    const int32_t oy = static_cast<int32_t>(m / a.ow), ox = static_cast<int32_t>(m % a.ow);
    int16_t* row = rows + (m - m0) * a.kp;
    const int32_t ix0 = ox * a.sw - a.pw;
    const bool row_inside = a.dw == 1 && ix0 >= 0 && ix0 + a.kw <= a.w;
    for (int32_t ky = 0; ky < a.kh; ++ky) {
      const int32_t iy = oy * a.sh - a.ph + ky * a.dh;
      int16_t* dst_row = row + int64_t{ky} * run;
      if (iy < 0 || iy >= a.h) {
        zero<T>(dst_row, run);
        continue;
      }
      const uint8_t* src_row = a.src + int64_t{iy} * a.w * a.c;
      if (row_inside) {
        widen<T>(dst_row, src_row + int64_t{ix0} * a.c, run, a.src_signed);
        continue;
      }
      for (int32_t kx = 0; kx < a.kw; ++kx) {
        const int32_t ix = ix0 + kx * a.dw;
        int16_t* dst = dst_row + int64_t{kx} * a.c;
        if (ix < 0 || ix >= a.w) {
          zero<T>(dst, a.c);
        } else {
          widen<T>(dst, src_row + int64_t{ix} * a.c, a.c, a.src_signed);
        }
      }
    }
    zero<T>(row + a.k, a.kp - a.k);
  }
}

// T provides kMr, kNr, kLanes (int32 per vector), micro(mr, nv, a, lda, b, kp2, init, tile) that
// writes nv vectors of each of mr rows into tile[r * kNr + ...], and epilogue(ep, m, o, acc,
// lanes) applying ep to `lanes` accumulators of pixel m from channel o.
template <class T>
void gemm_conv(const GemmConvArgs& a, int64_t begin, int64_t end, int thread) {
  const int64_t m_count = int64_t{a.oh} * a.ow;
  const int32_t n = a.ep.n;
  const int32_t n_blocks = (n + T::kNr - 1) / T::kNr;
  alignas(64) int32_t tile[T::kMr * T::kNr];
  int16_t* rows = reinterpret_cast<int16_t*>(a.scratch + thread * a.scratch_stride);
  for (int64_t item = begin; item < end; ++item) {
    const int64_t mt = item / a.n_split;
    const int32_t ns = static_cast<int32_t>(item % a.n_split);
    const int64_t m0 = mt * a.m_tile, m1 = std::min<int64_t>(m_count, m0 + a.m_tile);
    const int32_t nb0 = n_blocks * ns / a.n_split, nb1 = n_blocks * (ns + 1) / a.n_split;
    im2col<T>(a, m0, m1, rows);
    for (int32_t nb = nb0; nb < nb1; ++nb) {
      const int32_t o0 = nb * T::kNr;
      const int32_t lanes = std::min(T::kNr, n - o0);
      const int32_t nv = (lanes + T::kLanes - 1) / T::kLanes;
      const int16_t* b = a.packed16 + int64_t{nb} * a.kp * T::kNr;
      for (int64_t m = m0; m < m1; m += T::kMr) {
        const int32_t mr = static_cast<int32_t>(std::min<int64_t>(T::kMr, m1 - m));
        T::micro(mr, nv, rows + (m - m0) * a.kp, a.kp, b, a.kp / 2, a.init + o0, tile);
        for (int32_t r = 0; r < mr; ++r) {
          for (int32_t j = 0; j < lanes; j += T::kLanes) {
            T::epilogue(a.ep, m + r, o0 + j, tile + r * T::kNr + j, std::min(T::kLanes, lanes - j));
          }
        }
      }
    }
  }
}

}  // namespace f8net::rt::kernels::s16gemm
