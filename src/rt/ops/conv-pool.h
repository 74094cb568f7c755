// A GEMM conv and the max pool that alone reads its int32 output, as one stage (ResNet's stem:
// 7x7/2 conv, ReLU, 3x3/2 pool). Unfused, the conv streams its whole int32 tensor (3.2 MB for a
// 224x224 ResNet) out of the caches and the pool reads it back; here each item computes a band of
// conv rows into the running thread's scratch and pools it while it is still in L2. The pool's
// windows that span two bands are finished from two partial maxima in a second, small pass.
// Same bytes as the two stages: the conv writes the same int32 values, and the pool takes the
// max of the same values (max is exact in any grouping) before the same epilogue.
#pragma once

#include "ops/fused-program.h"

namespace f8net::rt::ops {

// Whether `conv` (a kGemm stage of a conv whose int32 output only `pool` reads) and `pool` (a
// kMaxPool stage) may become one stage.
bool can_fuse_conv_pool(const FusedStage& conv, const FusedStage& pool);

// Turns `conv` into the kConvPool stage computing both for `threads` threads; returns the bytes of
// its partials buffer (the caller plans it in the arena and binds conv_pool.partials).
int64_t fuse_conv_pool(FusedStage* conv, FusedStage&& pool, int threads);

// Runs a kConvPool stage: the bands, then the straddling pooled rows.
void run_conv_pool(const FusedStage& st, ThreadPool* pool, bool parallel);

}  // namespace f8net::rt::ops
