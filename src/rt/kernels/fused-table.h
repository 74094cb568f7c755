// The one table of the fused channels-last engine's microkernels, keyed by ISA: each row names
// the functions of every family (implicit-GEMM conv/FC, depthwise, int32 pointwise, max pool,
// global sum pool, layout) and how the GEMM wants its weights packed. Every function of every row
// equals the IR reference (kernels/ref) bit for bit; ops/ picks a row, tests iterate them all.
#pragma once

#include <cstdint>

#include "kernels/fused-args.h"
#include "kernels/kernel-table.h"

namespace f8net::rt::kernels {

// How GemmConvArgs carries the weights and the patches:
// kU8S8Quads: `packed` s8 [n/nr][kp/4][nr][4], patches u8 (signed codes flipped by +128, whose
//             128 * sum(w) is subtracted in `init`), read in place when `direct` (vpdpbusd).
// kS16Pairs:  `packed16` s16 [n/nr][kp/2][nr][2], patches widened to s16 by the kernel's
//             im2col, init = bias (vpmaddwd: s16 x s16 pairs, exact for any codes).
enum class GemmPacking { kU8S8Quads, kS16Pairs };

// How a depthwise stage's weights are laid out for its kernel (DepthwiseArgs):
// kTaps:     int16 pairs and one uint16 per tap in int32 (`weights`, `tap_weights`), 16
//            channels per vector (vpmaddwd / vpdpwssd); c_split ranges are 16-channel groups.
// kTapQuads: also s8 quads of 4 taps per channel (`quad_weights`, `quad_init`) for vpdpbusd on
//            64 channels per pixel; c_split ranges are 64-channel blocks.
enum class DepthwisePacking { kTaps, kTapQuads };

template <class Args>
using FusedFn = void (*)(const Args& a, int64_t begin, int64_t end, int thread);

struct FusedKernels {
  Isa isa;
  GemmPacking packing;
  DepthwisePacking dw_packing;
  int32_t gemm_mr;                  // pixels per microkernel call (m tiles are multiples of it)
  int32_t gemm_nr;                  // output channels per packed block
  const char* gemm_tile;            // "6x64", for kernel names
  const char* vec;                  // depthwise / pointwise channels per vector, "16c" or "8c"
  FusedFn<GemmConvArgs> gemm_conv;  // items: (m tile, n split), m-tile-major
  FusedFn<DepthwiseArgs> depthwise_conv;  // items: output rows
  FusedFn<EltArgs> s32_pointwise;         // items: pixels
  FusedFn<EltArgs> s32_maxpool;           // items: output pixels
  FusedFn<EltArgs> s32_global_sum_pool;   // items: blocks of 16 channels
  FusedFn<LayoutArgs> u8_chw_to_hwc;      // items: rows y of the CHW source
  FusedFn<LayoutArgs> s32_hwc_to_chw;     // items: channels of the CHW destination
  // Optional (null where `packing` is already kU8S8Quads): the same tile on kU8S8Quads, which
  // prepare uses instead of gemm_conv for a conv or FC whose every weight pair it proves cannot
  // saturate int16 (vpmaddubsw), or for every conv and FC when u8s8_any_weights (vpdpbusd on
  // ymm). Its stages' names carry gemm_tile + "q".
  FusedFn<GemmConvArgs> gemm_conv_u8s8 = nullptr;
  bool u8s8_any_weights = false;
};

// The layout changes, plain C++ shared by every row (kernels/fused-layout.cc).
void u8_chw_to_hwc(const LayoutArgs& a, int64_t begin, int64_t end, int thread);
void s32_hwc_to_chw(const LayoutArgs& a, int64_t begin, int64_t end, int thread);

// All rows this build has (whether or not this CPU can run them), best ISA first.
const FusedKernels* fused_kernel_table(int* count);
// The row for `isa`, or null (ref, or an ISA this build has no fused kernels for).
const FusedKernels* fused_kernels(Isa isa);

}  // namespace f8net::rt::kernels
