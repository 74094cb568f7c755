// Depthwise convolution channels-last for the avx512vnni row: the shared AVX-512 body
// (kernels/avx512/depthwise-body.h) with one vpdpwssd per tap (s16 x s16 pairs into int32,
// wrapping like vpaddd; exact because the loader proved every sum fits).
#include "kernels/avx512/depthwise-body.h"
#include "kernels/avx512vnni/vnni-kernels.h"

namespace f8net::rt::kernels::avx512vnni {

void depthwise_conv(const DepthwiseArgs& a, int64_t begin, int64_t end, int /*thread*/) {
  avx512::dw_conv<true>(a, begin, end);
}

}  // namespace f8net::rt::kernels::avx512vnni
