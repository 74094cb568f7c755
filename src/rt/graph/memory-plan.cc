// First-fit planner over the live blocks kept sorted by offset. O(values x live) at prepare
// time only (at most kMaxOps values, so a hostile graph stays cheap to plan).
#include "graph/memory-plan.h"

#include <algorithm>

namespace f8net::rt {
namespace {

constexpr uint64_t kAlign = 64;
uint64_t align_up(uint64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

struct Block {
  uint64_t offset, size;
  int32_t value;
};

uint64_t first_fit(const std::vector<Block>& live, uint64_t size) {
  uint64_t cursor = 0;
  for (const Block& b : live) {  // sorted by offset
    if (b.offset >= cursor && b.offset - cursor >= size) return cursor;
    cursor = std::max(cursor, align_up(b.offset + b.size));
  }
  return cursor;
}

}  // namespace

MemoryPlan plan_memory(const std::vector<uint64_t>& sizes, const std::vector<int32_t>& written_at,
                       const std::vector<int32_t>& last_use) {
  MemoryPlan plan;
  plan.offsets.assign(sizes.size(), 0);
  std::vector<Block> live;
  auto place = [&](int32_t v) {
    const uint64_t size = std::max<uint64_t>(align_up(sizes[v]), kAlign);
    const uint64_t at = first_fit(live, size);
    plan.offsets[v] = at;
    plan.arena_bytes = std::max(plan.arena_bytes, at + size);
    const Block block{at, size, v};
    live.insert(
        std::upper_bound(live.begin(), live.end(), block,
                         [](const Block& a, const Block& b) { return a.offset < b.offset; }),
        block);
  };
  const int32_t n = static_cast<int32_t>(sizes.size());
  for (int32_t v = 0; v < n;) {
    const int32_t step = written_at[v];
    // This step's outputs, while its inputs are still live; then everything it read last.
    for (; v < n && written_at[v] == step; ++v) place(v);
    live.erase(std::remove_if(live.begin(), live.end(),
                              [&](const Block& b) { return last_use[b.value] <= step; }),
               live.end());
  }
  return plan;
}

}  // namespace f8net::rt
