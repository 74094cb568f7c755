// The fused channels-last engine's microkernels for AVX-512 F/BW/VL/DQ (Skylake-X and later, Zen
// 4): this directory's files are compiled with those flags alone (no VNNI), so they also serve
// the avx512vnni row of kernels/fused-table.h for everything but the GEMM. Each function runs work
// items [begin, end) of its family (kernels/fused-table.h); results equal the IR reference.
#pragma once

#include <cstdint>

#include "kernels/fused-args.h"

namespace f8net::rt::kernels::avx512 {

constexpr int32_t kGemmMr = 6;   // pixels per microkernel call
constexpr int32_t kGemmNr = 64;  // output channels per packed block (4 zmm)

// Implicit GEMM with vpmaddwd on s16 patches and s16 weight pairs (GemmPacking::kS16Pairs).
void gemm_conv_s16(const GemmConvArgs& a, int64_t begin, int64_t end, int thread);
// The same tile with vpmaddubsw on u8 patches and s8 weight quads (GemmPacking::kU8S8Quads), for
// weights whose pairs cannot saturate int16 (gemm-u8s8-driver.h).
void gemm_conv_u8s8(const GemmConvArgs& a, int64_t begin, int64_t end, int thread);
void depthwise_conv(const DepthwiseArgs& a, int64_t begin, int64_t end, int thread);
void s32_pointwise(const EltArgs& a, int64_t begin, int64_t end, int thread);
void s32_maxpool(const EltArgs& a, int64_t begin, int64_t end, int thread);
void s32_global_sum_pool(const EltArgs& a, int64_t begin, int64_t end, int thread);

}  // namespace f8net::rt::kernels::avx512
