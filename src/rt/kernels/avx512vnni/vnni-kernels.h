// The channels-last fused engine's microkernels for AVX-512 + VNNI (Zen 4, Ice Lake and later).
// Each is a pure function over work items [begin, end) of its family (see each file); `thread`
// selects the caller's scratch. All results equal the IR reference semantics bit for bit.
#pragma once

#include <cstdint>

#include "kernels/fused-args.h"

namespace f8net::rt::kernels::avx512 {

// Items: (m tile, n split) pairs, m-tile-major; m tiles of a.m_tile output pixels.
void gemm_conv(const GemmConvArgs& a, int64_t begin, int64_t end, int thread);
int64_t gemm_conv_items(const GemmConvArgs& a);
constexpr int32_t kGemmMr = 6;   // pixels per microkernel call
constexpr int32_t kGemmNr = 64;  // output channels per packed block

// Items: output rows.
void depthwise_conv(const DepthwiseArgs& a, int64_t begin, int64_t end, int thread);
// Items: pixels of src; applies a.ep (add / relu / requantize) to src.
void s32_pointwise(const EltArgs& a, int64_t begin, int64_t end, int thread);
// Items: output pixels (window max over in-range positions).
void s32_maxpool(const EltArgs& a, int64_t begin, int64_t end, int thread);
// Items: blocks of 16 channels (sum over H*W in int64, saturated); output [c] int32.
void s32_global_sum_pool(const EltArgs& a, int64_t begin, int64_t end, int thread);
// Items: rows y of the CHW source.
void u8_chw_to_hwc(const LayoutArgs& a, int64_t begin, int64_t end, int thread);
// Items: channels of the CHW destination.
void s32_hwc_to_chw(const LayoutArgs& a, int64_t begin, int64_t end, int thread);

}  // namespace f8net::rt::kernels::avx512

namespace f8net::rt::kernels::avx512 {
// Measured vpdpbusd zmm throughput of the calling core, in GMAC/s (~20 ms).
double vnni_peak_gmacs();
}  // namespace f8net::rt::kernels::avx512
