// How a fused GEMM stage's work is cut into items (m tile x n split) for T threads. The pool starts
// thread k on the contiguous items [I*k/T, I*(k+1)/T) (a thread that finishes early takes the
// others' remaining items, in grains), so the split still decides the balance: 9 m tiles
// over 2 threads leave one thread idle for a third of the op. plan_gemm() searches tile counts
// and n splits with a cost model (microkernel rows padded to MR, the im2col gather repeated per
// n split, the weights streamed once per m tile) and returns the split whose slowest thread
// finishes first. Any split gives the same bytes (each output is one exact integer sum).
#pragma once

#include <cstdint>

namespace f8net::rt::ops {

struct GemmShape {
  int64_t m = 0;            // output pixels
  int64_t n_blocks = 1;     // blocks of nr output channels
  int64_t nr = 64;          // channels per block
  int64_t mr = 6;           // pixels per microkernel call
  int64_t kp = 0;           // padded K
  int64_t patch_bytes = 0;  // scratch bytes per pixel (0 when the kernel reads patches in place)
  double macs_per_cycle = 128;  // of the microkernel (vpdpbusd zmm x 2 ports: 128)
};

struct GemmPlan {
  int64_t m_tile = 0;  // pixels per item, a multiple of mr (or m when m < mr)
  int32_t n_split = 1;
  int64_t items = 0;  // m tiles x n_split
};

GemmPlan plan_gemm(const GemmShape& s, int threads);

// The plan's modelled cost of the slowest thread (arbitrary units; for tests and logs).
double gemm_plan_cost(const GemmShape& s, const GemmPlan& p, int threads);

}  // namespace f8net::rt::ops
