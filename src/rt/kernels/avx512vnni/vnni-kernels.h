// The fused engine's AVX-512 VNNI microkernels (Zen 4, Ice Lake and later): the vpdpbusd GEMM
// (GemmPacking::kU8S8Quads), the vpdpbusd depthwise conv (DepthwisePacking::kTapQuads) and the int8
// peak measurement. The other families of the avx512vnni row of kernels/fused-table.h are the plain
// AVX-512 ones (kernels/avx512/).
#pragma once

#include <cstdint>

#include "kernels/fused-args.h"

namespace f8net::rt::kernels::avx512vnni {

constexpr int32_t kGemmMr = 6;   // pixels per microkernel call
constexpr int32_t kGemmNr = 64;  // output channels per packed block

// Items: (m tile, n split) pairs, m-tile-major; m tiles of a.m_tile output pixels.
void gemm_conv(const GemmConvArgs& a, int64_t begin, int64_t end, int thread);
// Items: output rows x c_split channel ranges (kernels/fused-args.h).
void depthwise_conv(const DepthwiseArgs& a, int64_t begin, int64_t end, int thread);

// Measured vpdpbusd zmm throughput of the calling core, in GMAC/s: the best of ~1 ms bursts
// (under 60 ms in all).
double vnni_peak_gmacs();

}  // namespace f8net::rt::kernels::avx512vnni
