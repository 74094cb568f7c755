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

// sizes[v]: bytes of value v (value 0 = input, op i produces value i+1);
// last_use[v]: the last op index that reads v (n_ops for values that must survive the run).
MemoryPlan plan_memory(const std::vector<uint64_t>& sizes, const std::vector<int32_t>& last_use);

}  // namespace f8net::rt
