// The arena plan: every value gets an offset in one buffer; a value's bytes are reused once its
// last reader has run. A value is never placed over a value live at the same step (an op's
// output never aliases its inputs). The graph input and output are live for the whole run.
#pragma once

#include <cstdint>
#include <vector>

namespace f8net::rt {

struct MemoryPlan {
  std::vector<uint64_t> offsets;  // per value, 64-byte aligned
  uint64_t arena_bytes = 0;
};

// sizes[v]: bytes of value v; written_at[v]: the step that writes it (-1: before the first, the
// graph input), non-decreasing in v; last_use[v]: the last step that reads it (the step count for
// values that must survive the run). IR ops: value 0 = input, op i writes value i + 1 at step i; a
// fused stage may write two values at one step (int32 and its codes).
MemoryPlan plan_memory(const std::vector<uint64_t>& sizes, const std::vector<int32_t>& written_at,
                       const std::vector<int32_t>& last_use);

}  // namespace f8net::rt
