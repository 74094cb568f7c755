// plan_gemm(): every plan covers the GEMM (tiles x splits = items, scratch within budget), and on
// the shapes of ResNet-18 / MobileNet-V2 at 224 the slowest of 2 or 3 threads carries at most 15 %
// more than an equal share of the modelled work (the old fixed tiling left 9 tiles to 2 threads).
#include "ops/gemm-plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace f8net::rt::ops {
namespace {

GemmShape shape(int64_t m, int64_t n, int64_t k, bool direct) {
  GemmShape s;
  s.m = m;
  s.n_blocks = (n + 63) / 64;
  s.kp = (k + 3) / 4 * 4;
  s.patch_bytes = direct ? 0 : s.kp;
  return s;
}

TEST(GemmPlan, CoversTheGemmWithinTheScratchBudget) {
  for (int64_t m : {1, 5, 6, 7, 49, 196, 784, 3136, 12544}) {
    for (int64_t n : {16, 64, 100, 512, 1000}) {
      for (int64_t k : {3, 147, 576, 4608}) {
        for (int threads : {1, 2, 3, 4}) {
          const GemmShape s = shape(m, n, k, false);
          const GemmPlan p = plan_gemm(s, threads);
          ASSERT_GE(p.m_tile, 1);
          ASSERT_LE(p.m_tile, m);
          ASSERT_GE(p.n_split, 1);
          ASSERT_LE(p.n_split, s.n_blocks);
          EXPECT_EQ(p.items, (m + p.m_tile - 1) / p.m_tile * p.n_split);
          EXPECT_TRUE(p.m_tile <= s.mr || p.m_tile * s.patch_bytes <= (256 << 10))
              << "m " << m << " k " << k << " tile " << p.m_tile;
          if (threads == 1) {
            EXPECT_EQ(p.n_split, 1);  // a split only repeats the gather
          }
        }
      }
    }
  }
}

TEST(GemmPlan, BalancesTheConvolutionsOfResNetAndMobileNet) {
  struct Case {
    int64_t m, n, k;
    bool direct;
  };
  const std::vector<Case> cases = {
      {12544, 64, 147, false}, {3136, 64, 576, false}, {784, 128, 576, false},
      {784, 128, 1152, false}, {784, 128, 64, false},  {196, 256, 1152, false},
      {196, 256, 2304, false}, {49, 512, 2304, false}, {49, 512, 4608, false},
      {1, 1000, 512, true},    {3136, 144, 24, true},  {784, 32, 144, true},
      {196, 384, 64, true},    {49, 1280, 320, true},  {12544, 16, 32, true}};
  for (const Case& c : cases) {
    for (int threads : {2, 3}) {
      const GemmShape s = shape(c.m, c.n, c.k, c.direct);
      const GemmPlan p = plan_gemm(s, threads);
      const GemmPlan one{p.m_tile, p.n_split, p.items};
      // The same items on one thread: the total; the slowest thread vs an equal share.
      const double total = gemm_plan_cost(s, one, 1);
      const double worst = gemm_plan_cost(s, p, threads);
      if (p.items < threads) continue;  // too little work to split (a single FC row block)
      EXPECT_LE(worst, 1.15 * total / threads)
          << "m " << c.m << " n " << c.n << " k " << c.k << " threads " << threads << ": tile "
          << p.m_tile << " split " << p.n_split << " items " << p.items;
    }
  }
}

}  // namespace
}  // namespace f8net::rt::ops
