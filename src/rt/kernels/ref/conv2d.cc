// Reference Conv2d: for each output row (o, oy) and column ox, acc = bias[o] + sum over the
// group's input channels and the kernel window of w * x, skipping padded positions (zero codes).
// int32 accumulation: the loader proved |acc| < 2^31 for every partial sum.
#include <cstdint>

#include "kernels/ref/ref-kernels.h"

namespace f8net::rt::kernels::ref {
namespace {

template <typename T>
void conv2d(const KernelArgs& a, int64_t begin, int64_t end) {
  const T* x = static_cast<const T*>(a.src);
  int32_t* y = static_cast<int32_t*>(a.dst);
  const int32_t cin_per_group = a.c / a.groups;
  const int32_t cout_per_group = a.oc / a.groups;
  for (int64_t item = begin; item < end; ++item) {
    const int32_t o = static_cast<int32_t>(item / a.oh);
    const int32_t oy = static_cast<int32_t>(item % a.oh);
    const int32_t first_ic = (o / cout_per_group) * cin_per_group;
    const int8_t* wo = a.weights + int64_t{o} * cin_per_group * a.kh * a.kw;
    for (int32_t ox = 0; ox < a.ow; ++ox) {
      int32_t acc = a.bias[o];
      for (int32_t ci = 0; ci < cin_per_group; ++ci) {
        const T* xc = x + int64_t{first_ic + ci} * a.h * a.w;
        const int8_t* wc = wo + int64_t{ci} * a.kh * a.kw;
        for (int32_t ky = 0; ky < a.kh; ++ky) {
          const int32_t iy = oy * a.sh - a.ph + ky * a.dh;
          if (iy < 0 || iy >= a.h) continue;
          for (int32_t kx = 0; kx < a.kw; ++kx) {
            const int32_t ix = ox * a.sw - a.pw + kx * a.dw;
            if (ix < 0 || ix >= a.w) continue;
            acc += int32_t{wc[ky * a.kw + kx]} * int32_t{xc[int64_t{iy} * a.w + ix]};
          }
        }
      }
      y[(int64_t{o} * a.oh + oy) * a.ow + ox] = acc;
    }
  }
}

}  // namespace

void u8_conv2d(const KernelArgs& a, int64_t begin, int64_t end) { conv2d<uint8_t>(a, begin, end); }
void s8_conv2d(const KernelArgs& a, int64_t begin, int64_t end) { conv2d<int8_t>(a, begin, end); }

}  // namespace f8net::rt::kernels::ref
