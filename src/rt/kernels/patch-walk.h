// The one walk over an implicit-GEMM conv patch, shared by every GEMM's gather (the s16 im2col
// of avx2/avx512 and the avx512vnni border patches): the patch of output pixel (oy, ox) is
// kh x kw x c taps in (ky, kx, c) order; each run of taps is either padding (fill) or a run of
// NHWC input codes (copy). With dilation_w 1 a kernel row that lies inside the input is one
// contiguous run of kw * c codes. Include only from files compiled with one ISA's flags: the
// function has internal linkage and its callbacks are each file's own lambdas, so no instance
// is shared across flags.
#pragma once

#include <cstdint>

#include "kernels/fused-args.h"

namespace f8net::rt::kernels {

// Calls fill(at, n) for n padding taps and copy(at, src, n) for n input codes at src, where
// `at` is the taps' offset in the patch (ky * kw * c + kx * c); together the calls cover
// [0, kh * kw * c) once, in order.
template <class Fill, class Copy>
static inline void walk_patch(const GemmConvArgs& a, int32_t oy, int32_t ox, Fill fill, Copy copy) {
  const int32_t c = a.c, run = a.kw * a.c;
  const int32_t ix0 = ox * a.sw - a.pw;
  const bool row_inside = a.dw == 1 && ix0 >= 0 && ix0 + a.kw <= a.w;
  for (int32_t ky = 0; ky < a.kh; ++ky) {
    const int32_t iy = oy * a.sh - a.ph + ky * a.dh;
    const int64_t row_at = int64_t{ky} * run;
    if (iy < 0 || iy >= a.h) {
      fill(row_at, run);
      continue;
    }
    const uint8_t* src_row = a.src + int64_t{iy} * a.w * c;
    if (row_inside) {
      copy(row_at, src_row + int64_t{ix0} * c, run);
      continue;
    }
    for (int32_t kx = 0; kx < a.kw; ++kx) {
      const int32_t ix = ix0 + kx * a.dw;
      const int64_t at = row_at + int64_t{kx} * c;
      if (ix < 0 || ix >= a.w) {
        fill(at, c);
      } else {
        copy(at, src_row + int64_t{ix} * c, c);
      }
    }
  }
}

}  // namespace f8net::rt::kernels
