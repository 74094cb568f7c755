// The scalar reference kernels: plain loops that ARE the specification of each op's arithmetic
// (int8 x 8-bit products, int32 accumulation proven safe at load, int64 only where the format
// says, every shift and clamp through f8net::fixed). Never tuned; optimized kernels must match.
#pragma once

#include <cstdint>

#include "kernels/kernel-args.h"

namespace f8net::rt::kernels::ref {

// Conv2d (groups 1 or depthwise), zero padding of codes; dst int32 [oc, oh, ow].
void u8_conv2d(const KernelArgs& a, int64_t begin, int64_t end);
void s8_conv2d(const KernelArgs& a, int64_t begin, int64_t end);
// FullyConnected over the flattened src (K = c*h*w); dst int32 [oc].
void u8_fc(const KernelArgs& a, int64_t begin, int64_t end);
void s8_fc(const KernelArgs& a, int64_t begin, int64_t end);
// fixed::requantize(src, src_fl[c], Format{8, out_fl, signed}).
void s32u8_requantize(const KernelArgs& a, int64_t begin, int64_t end);
void s32s8_requantize(const KernelArgs& a, int64_t begin, int64_t end);
// max(x, 0).
void s32_relu(const KernelArgs& a, int64_t begin, int64_t end);
// Window maximum over in-range positions only.
void s32_maxpool(const KernelArgs& a, int64_t begin, int64_t end);
// (src << shift[c]) + (src2 << shift2[c]) in int64, saturated to +-(2^31-1).
void s32_add(const KernelArgs& a, int64_t begin, int64_t end);
// Sum over H*W in int64, saturated to +-(2^31-1).
void s32_global_sum_pool(const KernelArgs& a, int64_t begin, int64_t end);

}  // namespace f8net::rt::kernels::ref
