// Reference pooling on int32: MaxPool takes the maximum over the in-range positions of each
// window (padding is ignored, and the loader guarantees every window has one); GlobalSumPool sums
// H*W values in int64 and saturates to +-(2^31-1) (F8NET.md §13.1: no division, FL grows).
#include <cstdint>
#include <limits>

#include "f8net/fixed/rounding.h"
#include "kernels/ref/ref-kernels.h"

namespace f8net::rt::kernels::ref {

void s32_maxpool(const KernelArgs& a, int64_t begin, int64_t end) {
  const int32_t* x = static_cast<const int32_t*>(a.src);
  int32_t* y = static_cast<int32_t*>(a.dst);
  for (int64_t item = begin; item < end; ++item) {
    const int32_t c = static_cast<int32_t>(item / a.oh);
    const int32_t oy = static_cast<int32_t>(item % a.oh);
    const int32_t* xc = x + int64_t{c} * a.h * a.w;
    for (int32_t ox = 0; ox < a.ow; ++ox) {
      int32_t best = std::numeric_limits<int32_t>::min();
      for (int32_t ky = 0; ky < a.kh; ++ky) {
        const int32_t iy = oy * a.sh - a.ph + ky;
        if (iy < 0 || iy >= a.h) continue;
        for (int32_t kx = 0; kx < a.kw; ++kx) {
          const int32_t ix = ox * a.sw - a.pw + kx;
          if (ix < 0 || ix >= a.w) continue;
          const int32_t v = xc[int64_t{iy} * a.w + ix];
          if (v > best) best = v;
        }
      }
      y[(int64_t{c} * a.oh + oy) * a.ow + ox] = best;
    }
  }
}

void s32_global_sum_pool(const KernelArgs& a, int64_t begin, int64_t end) {
  const int32_t* x = static_cast<const int32_t*>(a.src);
  int32_t* y = static_cast<int32_t*>(a.dst);
  const int64_t hw = int64_t{a.h} * a.w;
  const fixed::Format acc = fixed::Format::signed_int(32, 0);
  for (int64_t c = begin; c < end; ++c) {
    int64_t sum = 0;  // at most 2^28 terms of |v| <= 2^31: below 2^59
    for (int64_t i = 0; i < hw; ++i) sum += x[c * hw + i];
    y[c] = static_cast<int32_t>(fixed::saturate(sum, acc));
  }
}

}  // namespace f8net::rt::kernels::ref
