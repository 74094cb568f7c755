// The in-range part of one max-pool window, shared by the fused engine's pool kernels of every ISA:
// padding never wins a max pool, so a kernel visits only taps [ky0, ky1) x [kx0, kx1) at input
// pixel (y0 + ky, x0 + kx). The validator's padding <= kernel/2 keeps every window non-empty.
#pragma once

#include <cstdint>

#include "kernels/fused-args.h"

namespace f8net::rt::kernels {

struct PoolWindow {
  int32_t y0, x0;    // input coordinates of tap (0, 0), possibly negative
  int32_t ky0, ky1;  // rows in range
  int32_t kx0, kx1;  // columns in range
};

// The window of output pixel m (row-major over a.oh x a.ow). Static: each ISA's file keeps its
// own copy (an inline function with external linkage could be merged across ISA flags).
static inline PoolWindow pool_window(const EltArgs& a, int64_t m) {
  const int32_t oy = static_cast<int32_t>(m / a.ow), ox = static_cast<int32_t>(m % a.ow);
  PoolWindow w;
  w.y0 = oy * a.sh - a.ph;
  w.x0 = ox * a.sw - a.pw;
  w.ky0 = w.y0 < 0 ? -w.y0 : 0;
  w.ky1 = a.h - w.y0 < a.kh ? a.h - w.y0 : a.kh;
  w.kx0 = w.x0 < 0 ? -w.x0 : 0;
  w.kx1 = a.w - w.x0 < a.kw ? a.w - w.x0 : a.kw;
  return w;
}

}  // namespace f8net::rt::kernels
