// AVX2 + AVX-VNNI kernels (x86-64 only; this directory's .cc files alone are compiled with
// -mavx2 -mfma -mavxvnni and run only when the CPU has both). The fused engine's avxvnni row
// (kernels/fused-table.cc) is the avx2 row with this GEMM: the VEX vpdpbusd on ymm, exact for any
// weights for the same reason as avx512vnni's (it wraps mod 2^32 and the loader proved every
// true sum fits int32).
#pragma once

#include <cstdint>

#include "kernels/fused-args.h"

namespace f8net::rt::kernels::avxvnni {

// The avx2 tile (6 x 16, 12 ymm accumulators) on u8 patches and s8 weight quads
// (GemmPacking::kU8S8Quads, nr 16) through the u8 x s8 driver (gemm-u8s8-driver.h).
void gemm_conv(const GemmConvArgs& a, int64_t begin, int64_t end, int thread);

}  // namespace f8net::rt::kernels::avxvnni
