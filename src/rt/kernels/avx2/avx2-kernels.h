// AVX2 kernels (x86-64 only; this directory's .cc files alone are compiled with -mavx2 -mfma and
// run only when the CPU has AVX2). Each equals its reference kernel bit for bit; kernels-test
// checks every one against the same oracle as the reference.
#pragma once

#include <cstdint>

#include "kernels/fused-args.h"
#include "kernels/kernel-args.h"

namespace f8net::rt::kernels::avx2 {

// Conv2d (any kernel, stride, padding, dilation; groups 1 or depthwise): 8 output columns per
// vector; pairs of kernel taps multiplied with vpmaddwd on int16-widened codes (exact:
// |w*x| <= 127*255 and a pair sum fits int32; no vpmaddubsw saturation).
void u8_conv2d_rows(const KernelArgs& a, int64_t begin, int64_t end);
void s8_conv2d_rows(const KernelArgs& a, int64_t begin, int64_t end);
// Whether a row fits the kernels' stack buffers (padded row <= 4096 int16 over stride_w phases,
// at most 2048 output columns).
bool conv2d_rows_supports(const KernelArgs& a);

// The fused channels-last engine's AVX2 row of kernels/fused-table.h (work items as listed there).
constexpr int32_t kGemmMr = 6;   // pixels per microkernel call
constexpr int32_t kGemmNr = 16;  // output channels per packed block (2 ymm)
// Implicit GEMM with vpmaddwd on s16 patches and s16 weight pairs (GemmPacking::kS16Pairs).
void gemm_conv(const GemmConvArgs& a, int64_t begin, int64_t end, int thread);
// The same tile with vpmaddubsw on u8 patches and s8 weight quads (GemmPacking::kU8S8Quads), for
// weights whose pairs cannot saturate int16 (gemm-u8s8-driver.h).
void gemm_conv_u8s8(const GemmConvArgs& a, int64_t begin, int64_t end, int thread);
void depthwise_conv(const DepthwiseArgs& a, int64_t begin, int64_t end, int thread);
void s32_pointwise(const EltArgs& a, int64_t begin, int64_t end, int thread);
void s32_maxpool(const EltArgs& a, int64_t begin, int64_t end, int thread);
void s32_global_sum_pool(const EltArgs& a, int64_t begin, int64_t end, int thread);

}  // namespace f8net::rt::kernels::avx2
