// Reference element-wise int32 ops: Relu (max(x, 0)) and Add (operands aligned to the larger FL
// by exact left shifts in int64, summed in int64, saturated to +-(2^31-1); F8NET.md §15.3).
#include <cstdint>

#include "f8net/fixed/rounding.h"
#include "kernels/ref/ref-kernels.h"

namespace f8net::rt::kernels::ref {

void s32_relu(const KernelArgs& a, int64_t begin, int64_t end) {
  const int32_t* x = static_cast<const int32_t*>(a.src);
  int32_t* y = static_cast<int32_t*>(a.dst);
  for (int64_t i = begin * a.w; i < end * a.w; ++i) y[i] = x[i] > 0 ? x[i] : 0;
}

void s32_add(const KernelArgs& a, int64_t begin, int64_t end) {
  const int32_t* x = static_cast<const int32_t*>(a.src);
  const int32_t* x2 = static_cast<const int32_t*>(a.src2);
  int32_t* y = static_cast<int32_t*>(a.dst);
  const fixed::Format acc = fixed::Format::signed_int(32, 0);
  for (int64_t row = begin; row < end; ++row) {
    const int32_t c = static_cast<int32_t>(row / a.h);
    const int32_t s1 = a.shift[c], s2 = a.shift2[c];
    for (int64_t i = row * a.w; i < (row + 1) * a.w; ++i) {
      // Left shifts of at most 31 bits: each term stays below 2^62, the sum below 2^63.
      const int64_t sum =
          fixed::shift_round_half_even(x[i], -s1) + fixed::shift_round_half_even(x2[i], -s2);
      y[i] = static_cast<int32_t>(fixed::saturate(sum, acc));
    }
  }
}

}  // namespace f8net::rt::kernels::ref
