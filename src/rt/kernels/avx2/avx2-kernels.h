// AVX2 kernels (x86-64 only; this directory's .cc files alone are compiled with -mavx2 -mfma and
// run only when the CPU has AVX2). Each equals its reference kernel bit for bit; kernels-test
// checks every one against the same oracle as the reference.
#pragma once

#include <cstdint>

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

}  // namespace f8net::rt::kernels::avx2
