// plan_gemm(): exhaustive over n splits 1..min(n_blocks, 4T) and m tile counts within the scratch
// budget; each candidate's per-thread cost is summed exactly over the contiguous item ranges the
// pool gives each thread. The cost model (cycles, roughly, for a 2-vector-port core):
//   microkernel  rows * blocks * nr * kp / macs_per_cycle (vpdpbusd zmm: 64 MACs, 2 a cycle)
//                + calls * blocks * 24          (call setup, tile store, epilogue per 6 x 64)
//                + rows * blocks * nr / 4       (epilogue per channel)
//   im2col       rows * patch_bytes / 16 (/ 8 once a tile's patches leave L1)
//   weights      blocks * nr * kp / 32 per item (each item streams its weights from L2 / L3 once)
//   item         200 (pool chunk bookkeeping, scratch pointer set-up)
// Tiles need not be multiples of MR: the kernels run the remainder rows as a shorter call, whose
// cost is proportional to its rows.
#include "ops/gemm-plan.h"

#include <algorithm>

namespace f8net::rt::ops {
namespace {

constexpr int64_t kScratchBudget = 256 << 10;  // patch bytes per tile
constexpr int64_t kL1Patches = 32 << 10;

int64_t chunk_start(int64_t n, int64_t k, int64_t t) { return n / t * k + (n % t) * k / t; }

double item_cost(const GemmShape& s, const GemmPlan& p, int64_t item) {
  const int64_t mt = item / p.n_split;
  const int64_t ns = item % p.n_split;
  const int64_t rows = std::min(p.m_tile, s.m - mt * p.m_tile);
  const int64_t blocks = s.n_blocks * (ns + 1) / p.n_split - s.n_blocks * ns / p.n_split;
  const int64_t calls = (rows + s.mr - 1) / s.mr;
  double c =
      static_cast<double>(rows * blocks) * static_cast<double>(s.nr * s.kp) / s.macs_per_cycle;
  c += static_cast<double>(calls * blocks) * 24.0;
  c += static_cast<double>(rows * blocks * s.nr) / 4.0;
  const double per_byte = p.m_tile * s.patch_bytes > kL1Patches ? 1.0 / 8 : 1.0 / 16;
  c += static_cast<double>(rows * s.patch_bytes) * per_byte;
  c += static_cast<double>(blocks * s.nr * s.kp) / 32.0;
  return c + 200.0;
}

// Cost of the slowest thread, plus a thousandth of the total (ties go to less work overall).
double plan_cost(const GemmShape& s, const GemmPlan& p, int64_t threads) {
  double worst = 0, total = 0;
  for (int64_t k = 0; k < threads; ++k) {
    double mine = 0;
    for (int64_t i = chunk_start(p.items, k, threads); i < chunk_start(p.items, k + 1, threads);
         ++i) {
      mine += item_cost(s, p, i);
    }
    worst = std::max(worst, mine);
    total += mine;
  }
  return worst + total / 1000.0;
}

}  // namespace

double gemm_plan_cost(const GemmShape& s, const GemmPlan& p, int threads) {
  return plan_cost(s, p, std::max(threads, 1));
}

GemmPlan plan_gemm(const GemmShape& s, int threads) {
  const int64_t t = std::max(threads, 1);
  const int64_t m = std::max<int64_t>(s.m, 1);
  const int64_t max_rows =
      s.patch_bytes > 0 ? std::max<int64_t>(s.mr, kScratchBudget / s.patch_bytes) : 64 * s.mr;
  // Tile counts from the fewest the budget allows, and from the fewest whose patches stay in L1,
  // each followed by enough counts to find a balanced one.
  const int64_t l1_rows =
      s.patch_bytes > 0 ? std::max<int64_t>(s.mr, kL1Patches / s.patch_bytes) : max_rows;
  const int64_t starts[2] = {(m + max_rows - 1) / max_rows, (m + l1_rows - 1) / l1_rows};
  const int64_t span = 8 * t + 8;
  GemmPlan best;
  double best_cost = -1;
  const int64_t max_split = t == 1 ? 1 : std::min<int64_t>(s.n_blocks, 4 * t);
  for (int64_t split = 1; split <= max_split; ++split) {
    for (int64_t first : starts) {
      for (int64_t tiles = first; tiles < first + span && tiles <= m; ++tiles) {
        GemmPlan p;
        p.m_tile = (m + tiles - 1) / tiles;
        p.n_split = static_cast<int32_t>(split);
        p.items = (m + p.m_tile - 1) / p.m_tile * split;
        const double c = plan_cost(s, p, t);
        if (best_cost < 0 || c < best_cost) {
          best = p;
          best_cost = c;
        }
      }
    }
  }
  return best;
}

}  // namespace f8net::rt::ops
