// The arena planner: a value never shares bytes with a value live at the same step, including two
// values written by one step (a fused stage's int32 value and its codes), and bytes are reused
// once a value's last reader has run.
#include "graph/memory-plan.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace rt = f8net::rt;

namespace {

bool overlap(const rt::MemoryPlan& p, const std::vector<uint64_t>& sizes, int a, int b) {
  const uint64_t a0 = p.offsets[a], a1 = a0 + sizes[a];
  const uint64_t b0 = p.offsets[b], b1 = b0 + sizes[b];
  return a0 < b1 && b0 < a1;
}

}  // namespace

TEST(MemoryPlan, TwoOutputsOfOneStepNeverAliasEachOtherOrTheirInputs) {
  // Step 0 reads value 0 and writes values 1 (int32) and 2 (codes); step 1 reads 2 and writes 3;
  // step 2 reads 1 and 3 and writes 4.
  const std::vector<uint64_t> sizes = {1000, 4000, 1000, 4000, 500};
  const std::vector<int32_t> written_at = {-1, 0, 0, 1, 2};
  const std::vector<int32_t> last_use = {0, 2, 1, 2, 3};
  const rt::MemoryPlan p = rt::plan_memory(sizes, written_at, last_use);
  EXPECT_FALSE(overlap(p, sizes, 1, 2));
  EXPECT_FALSE(overlap(p, sizes, 0, 1));
  EXPECT_FALSE(overlap(p, sizes, 0, 2));
  EXPECT_FALSE(overlap(p, sizes, 1, 3));  // 1 is live until step 2
  EXPECT_FALSE(overlap(p, sizes, 2, 3));
  EXPECT_FALSE(overlap(p, sizes, 3, 4));
  EXPECT_TRUE(overlap(p, sizes, 0, 3) || overlap(p, sizes, 2, 4) || overlap(p, sizes, 0, 4))
      << "dead values' bytes are reused";
  for (size_t v = 0; v < sizes.size(); ++v) {
    EXPECT_EQ(p.offsets[v] % 64, 0u);
    EXPECT_LE(p.offsets[v] + sizes[v], p.arena_bytes);
  }
}

TEST(MemoryPlan, OneValuePerStepReusesDeadValues) {
  // A chain: op i reads value i only, so at most two values are live at once.
  const std::vector<uint64_t> sizes(6, 4096);
  std::vector<int32_t> written_at, last_use;
  for (int32_t v = 0; v < 6; ++v) {
    written_at.push_back(v - 1);
    last_use.push_back(v);
  }
  last_use[5] = 5;
  const rt::MemoryPlan p = rt::plan_memory(sizes, written_at, last_use);
  EXPECT_EQ(p.arena_bytes, 2u * 4096);
  for (int32_t v = 0; v + 1 < 6; ++v) EXPECT_FALSE(overlap(p, sizes, v, v + 1)) << v;
}
