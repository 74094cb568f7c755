// Depthwise convolution channels-last for the avx512 row: the shared AVX-512 body
// (kernels/avx512/depthwise-body.h) with vpmaddwd + vpaddd per tap.
#include "kernels/avx512/avx512-kernels.h"
#include "kernels/avx512/depthwise-body.h"

namespace f8net::rt::kernels::avx512 {

void depthwise_conv(const DepthwiseArgs& a, int64_t begin, int64_t end, int /*thread*/) {
  dw_conv<false>(a, begin, end);
}

}  // namespace f8net::rt::kernels::avx512
