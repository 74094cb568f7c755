// Per-op glue between the graph and the kernels: prepare_op() turns an OpDef plus the validated
// shapes/FLs and arena addresses into a KernelArgs block, the per-channel shift tables it points
// to, the chosen kernel and the work-item count. run_op() then only calls the kernel.
#pragma once

#include <cstdint>
#include <vector>

#include "f8net/rt/model.h"
#include "kernels/kernel-table.h"
#include "threads/thread-pool.h"

namespace f8net::rt::ops {

struct PreparedOp {
  OpType op = OpType::kRelu;
  const kernels::KernelEntry* kernel = nullptr;
  kernels::KernelArgs args;
  int64_t items = 0;
  int64_t cost_per_item = 0;  // rough inner-loop steps per item, to decide threading
  // Storage the args point into (never resized after prepare_op).
  std::vector<int32_t> src_fl, shift, shift2;
};

// `values[v]` is the arena address of value v. `out` must already sit at its final address.
Status prepare_op(const OpDef& op, size_t index, const GraphInfo& info,
                  const std::vector<uint8_t*>& values, bool force_reference, PreparedOp* out);

// Runs the kernel over all items, on the pool when the op is big enough. Allocates nothing.
void run_op(const PreparedOp& p, ThreadPool* pool);

}  // namespace f8net::rt::ops
