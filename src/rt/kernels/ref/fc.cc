// Reference FullyConnected: y[o] = bias[o] + sum_k w[o, k] * x[k] over the flattened source
// (K = C*H*W in CHW order). int32 accumulation, proven safe at load.
#include <cstdint>

#include "kernels/ref/ref-kernels.h"

namespace f8net::rt::kernels::ref {
namespace {

template <typename T>
void fc(const KernelArgs& a, int64_t begin, int64_t end) {
  const T* x = static_cast<const T*>(a.src);
  int32_t* y = static_cast<int32_t*>(a.dst);
  const int64_t k_count = int64_t{a.c} * a.h * a.w;
  for (int64_t o = begin; o < end; ++o) {
    const int8_t* w = a.weights + o * k_count;
    int32_t acc = a.bias[o];
    for (int64_t k = 0; k < k_count; ++k) acc += int32_t{w[k]} * int32_t{x[k]};
    y[o] = acc;
  }
}

}  // namespace

void u8_fc(const KernelArgs& a, int64_t begin, int64_t end) { fc<uint8_t>(a, begin, end); }
void s8_fc(const KernelArgs& a, int64_t begin, int64_t end) { fc<int8_t>(a, begin, end); }

}  // namespace f8net::rt::kernels::ref
