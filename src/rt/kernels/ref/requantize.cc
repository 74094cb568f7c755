// Reference Requantize: each int32 value at its channel's FL becomes an 8-bit code through
// fixed::requantize (rounding right shift half-to-even or exact left shift, then saturation;
// the unsigned saturation is the ReLU/PACT clip of F8NET.md §15.2).
#include <cstdint>

#include "f8net/fixed/rounding.h"
#include "kernels/ref/ref-kernels.h"

namespace f8net::rt::kernels::ref {
namespace {

template <typename T>
void requantize(const KernelArgs& a, int64_t begin, int64_t end) {
  const int32_t* x = static_cast<const int32_t*>(a.src);
  T* y = static_cast<T*>(a.dst);
  const fixed::Format out{a.out_bits, a.out_fl, a.out_signed};
  for (int64_t row = begin; row < end; ++row) {
    const int32_t c = static_cast<int32_t>(row / a.h);
    const int32_t fl = a.src_fl[c];
    const int64_t base = row * a.w;
    for (int32_t i = 0; i < a.w; ++i) {
      y[base + i] = static_cast<T>(fixed::requantize(x[base + i], fl, out));
    }
  }
}

}  // namespace

void s32u8_requantize(const KernelArgs& a, int64_t begin, int64_t end) {
  requantize<uint8_t>(a, begin, end);
}
void s32s8_requantize(const KernelArgs& a, int64_t begin, int64_t end) {
  requantize<int8_t>(a, begin, end);
}

}  // namespace f8net::rt::kernels::ref
