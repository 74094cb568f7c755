// FL rules: metric rule (TV4), grid search (TV5) and its one-pass implementation against the
// per-FL oracle, and the activation-FL moving average (TV6).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "f8net/fixed.h"
#include "support/random.h"

namespace fx = f8net::fixed;
using fx::Metric;

TEST(MetricRule, TV4) {
  EXPECT_EQ(fx::fl_from_metric(0.3125, Metric::kStd, true), 7);
  EXPECT_EQ(fx::fl_from_metric(0.05, Metric::kStd, true), 7);
  EXPECT_EQ(fx::fl_from_metric(1.0, Metric::kStd, true), 5);
  EXPECT_EQ(fx::fl_from_metric(2.5, Metric::kStd, true), 4);
  EXPECT_EQ(fx::fl_from_metric(50.0, Metric::kStd, true), 0);
  EXPECT_EQ(fx::fl_from_metric(0.0, Metric::kStd, true), 7);
  EXPECT_EQ(fx::fl_from_metric(1.0, Metric::kStd, false), 6);
  EXPECT_EQ(fx::fl_from_metric(0.2, Metric::kStd, false), 8);
  EXPECT_EQ(fx::fl_from_metric(0.1, Metric::kStd, false), 8);
  EXPECT_EQ(fx::fl_from_metric(0.5, Metric::kMae, true), 5);
  EXPECT_EQ(fx::fl_from_metric(0.5, Metric::kMae, false), 5);
  EXPECT_EQ(fx::fl_from_metric(0.5, Metric::kRms, false), 6);
  EXPECT_EQ(fx::fl_from_metric(0.5, Metric::kRms, true), 6);
}

TEST(MetricRule, ExactAtPowerOfTwoBoundaries) {
  // C/m = 2^k exactly: floor(log2) = k, and just above m the FL drops by one.
  for (int k = 0; k <= 7; ++k) {
    const double m = 40.0 / std::ldexp(1.0, k);
    EXPECT_EQ(fx::fl_from_metric(m, Metric::kStd, true), k);
    EXPECT_EQ(fx::fl_from_metric(std::nextafter(m, 1e9), Metric::kStd, true), std::max(k - 1, 0));
  }
}

TEST(MetricRule, TV4WeightVector) {
  const float w[] = {0.12f, -0.31f, 0.05f, 0.22f, -0.07f, 0.40f, -0.18f, 0.01f, 0.09f};
  const double sd = fx::compute_metric(w, 9, Metric::kStd);
  EXPECT_NEAR(sd, 0.210594, 1e-6);
  const int fl = fx::fl_from_metric(sd, Metric::kStd, true);
  EXPECT_EQ(fl, 7);
  const int want[] = {15, -40, 6, 28, -9, 51, -23, 1, 12};
  for (int i = 0; i < 9; ++i) EXPECT_EQ(fx::quantize(w[i], fx::weight_format(fl)), want[i]);
}

TEST(MetricRule, Metrics) {
  const double x[] = {1.0, -3.0, 2.0, 0.0};
  EXPECT_DOUBLE_EQ(fx::compute_metric(x, 4, Metric::kMae), 1.5);
  EXPECT_DOUBLE_EQ(fx::compute_metric(x, 4, Metric::kRms), std::sqrt(14.0 / 4));
  EXPECT_DOUBLE_EQ(fx::compute_metric(x, 4, Metric::kStd), std::sqrt(14.0 / 3));  // mean 0, N-1
  EXPECT_EQ(fx::compute_metric(x, 1, Metric::kStd), 0.0);
  EXPECT_EQ(fx::compute_metric(x, 0, Metric::kMae), 0.0);
}

TEST(GridSearch, TV5Unsigned) {
  const float x[] = {0.1f, 0.5f, 1.2f, 3.7f, 0.02f, 2.2f, -0.4f, 0.9f};
  double err[fx::kMaxGridCandidates];
  ASSERT_EQ(fx::grid_search_errors(x, 8, false, 8, err), 9);
  const double want[] = {0.27395, 0.19378, 0.15326, 0.14541, 0.14235,
                         0.14172, 0.14148, 0.62448, 1.05842};
  for (int f = 0; f < 9; ++f) EXPECT_NEAR(err[f], want[f], 5e-6) << "FL " << f;
  EXPECT_EQ(fx::fl_grid_search(x, 8, false), 6);
  EXPECT_EQ(fx::fl_from_metric(fx::compute_metric(x, 8, Metric::kStd), Metric::kStd, false), 5);
}

TEST(GridSearch, TV5Signed) {
  const float x[] = {0.1f, -0.5f, 1.2f, -3.7f, 0.02f, 2.2f, -0.4f, 0.9f};
  double err[fx::kMaxGridCandidates];
  ASSERT_EQ(fx::grid_search_errors(x, 8, true, 8, err), 8);
  const double want[] = {0.27395, 0.13711, 0.06883, 0.03496, 0.01852, 0.00944, 0.61135, 1.05085};
  for (int f = 0; f < 8; ++f) EXPECT_NEAR(err[f], want[f], 5e-6) << "FL " << f;
  EXPECT_EQ(fx::fl_grid_search(x, 8, true), 5);
  EXPECT_EQ(fx::fl_from_metric(fx::compute_metric(x, 8, Metric::kStd), Metric::kStd, true), 4);
}

TEST(GridSearch, TV5Special) {
  const std::vector<float> zeros(100, 0.0f);
  EXPECT_EQ(fx::fl_grid_search(zeros.data(), zeros.size(), false), 0);
  EXPECT_EQ(fx::fl_grid_search(zeros.data(), zeros.size(), true), 0);
  const float small[] = {0.03f, -0.01f, 0.02f, 0.05f};
  EXPECT_EQ(fx::fl_grid_search(small, 4, true), 7);
}

namespace {

// Runs the blocks in uneven slices on several threads: a result that depended on how the blocks
// are shared out would differ from the serial one.
struct ThreadedBlocks {
  int threads;
  template <typename Body>
  void operator()(size_t blocks, Body&& body) const {
    std::vector<std::thread> pool;
    size_t first = 0;
    for (int t = 0; t < threads && first < blocks; ++t) {
      const size_t end = t == threads - 1 ? blocks : std::min(blocks, first + 1 + t);
      pool.emplace_back([&body, first, end] { body(first, end); });
      first = end;
    }
    for (std::thread& th : pool) th.join();
  }
};

void expect_same_errors(const double* got, const double* want, int count, const std::string& what) {
  for (int f = 0; f < count; ++f) {
    if (std::isnan(want[f])) {
      EXPECT_TRUE(std::isnan(got[f])) << what << " FL " << f;
    } else {
      EXPECT_EQ(got[f], want[f]) << what << " FL " << f;
    }
  }
}

// The one-pass errors must be identical (==, not near) to the per-FL passes, and so must the FL,
// serially and with the blocks spread over threads; and every SIMD kernel must give the scalar
// kernel's block sums.
void expect_one_pass_equals_per_fl(const std::vector<float>& x, bool sg, int wl,
                                   const std::string& what) {
  double a[fx::kMaxGridCandidates], b[fx::kMaxGridCandidates], c[fx::kMaxGridCandidates];
  const int na = fx::grid_search_errors(x.data(), x.size(), sg, wl, a);
  const int nb = fx::grid_search_errors_per_fl(x.data(), x.size(), sg, wl, b);
  const int nc = fx::grid_search_errors(x.data(), x.size(), sg, wl, c, ThreadedBlocks{3});
  ASSERT_EQ(na, nb);
  ASSERT_EQ(nc, nb);
  expect_same_errors(a, b, na, what + " one pass, signed " + std::to_string(sg));
  expect_same_errors(c, b, nc, what + " threaded, signed " + std::to_string(sg));
  EXPECT_EQ(fx::first_minimum(a, na), fx::first_minimum(b, nb)) << what;

  // Each kernel on the first block alone, against the oracle on that block.
  const size_t n = std::min(x.size(), fx::kSumBlock);
  double want[fx::kMaxGridCandidates];
  fx::grid_search_errors_per_fl(x.data(), n, sg, wl, want);
  const double hi = static_cast<double>(fx::Format{wl, 0, sg}.qmax());
  const double lo = sg ? -hi : 0.0;
  const auto expect_kernel = [&](auto kernel, const std::string& name) {
    double sums[fx::kMaxGridCandidates];
    kernel(x.data(), n, na, lo, hi, sums);
    double rmse[fx::kMaxGridCandidates];
    for (int f = 0; f < na; ++f) rmse[f] = n ? std::sqrt(sums[f] / static_cast<double>(n)) : 0.0;
    expect_same_errors(rmse, want, na, what + " " + name + " kernel");
  };
  expect_kernel(fx::detail::grid_block_errors_scalar, "scalar");
#if F8NET_FIXED_HAVE_SIMD
  if (fx::detail::cpu_has_avx2()) expect_kernel(fx::detail::grid_block_errors_avx2, "avx2");
  if (fx::detail::cpu_has_avx512f()) expect_kernel(fx::detail::grid_block_errors_avx512, "avx512");
#endif
}

}  // namespace

TEST(GridSearch, OnePassEqualsPerFlComputation) {
  const uint64_t seed = f8net::testing::test_seed(5150);
  std::mt19937_64 rng(seed);
  const std::string note = f8net::testing::seed_note(seed);
  for (int trial = 0; trial < 60; ++trial) {
    const double scale = std::ldexp(1.0, static_cast<int>(rng() % 40) - 20);  // 2^-20 .. 2^19
    std::normal_distribution<float> gauss(0.0f, static_cast<float>(scale));
    // Mostly within one block; every fifth tensor spans several, with a partial last block.
    const size_t n = trial % 5 == 0 ? 3 * fx::kSumBlock + 1 + rng() % 5000 : 1 + rng() % 3000;
    std::vector<float> x(n);
    for (float& v : x) v = gauss(rng);
    for (bool sg : {false, true}) {
      expect_one_pass_equals_per_fl(x, sg, 8, "gaussian " + note);
      expect_one_pass_equals_per_fl(x, sg, 4 + static_cast<int>(rng() % 12), "wl " + note);
    }
  }
}

TEST(GridSearch, OnePassEdgeCases) {
  std::vector<std::vector<float>> cases = {
      {},
      std::vector<float>(64, 0.0f),
      std::vector<float>(64, 0.75f),                   // constant
      std::vector<float>(64, -3.0f),                   // constant negative
      {1e30f, -1e30f, 3.4e38f, -3.4e38f},              // huge: every FL saturates
      {1e-30f, -1e-30f, 1e-40f, 1e-45f},               // tiny and denormal: every FL rounds to 0
      {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 0.25f, 0.75f},  // exact rounding ties
      {INFINITY, 1.0f, -INFINITY},
      {std::nanf(""), 1.0f},
  };
  // Ties between FLs: a tensor whose error is the same for several FLs (all values on the coarse
  // grid) must pick the first FL.
  cases.push_back({1.0f, 2.0f, 3.0f, -4.0f});
  for (size_t i = 0; i < cases.size(); ++i) {
    for (bool sg : {false, true}) {
      expect_one_pass_equals_per_fl(cases[i], sg, 8, "case " + std::to_string(i));
    }
  }
  const float grid[] = {1.0f, 2.0f, 3.0f, 4.0f};  // exact at FL 0..5 unsigned: first minimum = 0
  EXPECT_EQ(fx::fl_grid_search(grid, 4, false), 0);
}

// The blocked summation order of blocked-sum.h, written out plainly: the statistics every FL rule
// computes must follow it exactly, serially or threaded.
double blocked_sum_oracle(const std::vector<double>& terms) {
  double sum = 0.0;
  for (size_t begin = 0; begin < terms.size(); begin += 4096) {
    double p[8] = {};
    for (size_t i = begin; i < terms.size() && i < begin + 4096; ++i)
      p[(i - begin) % 8] += terms[i];
    sum += ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]));
  }
  return sum;
}

TEST(BlockedSum, FollowsTheDefinedOrderSeriallyAndThreaded) {
  const uint64_t seed = f8net::testing::test_seed(77);
  std::mt19937_64 rng(seed);
  // Values of wildly different magnitudes make any change of order visible in the last bits.
  std::uniform_real_distribution<double> mant(-1.0, 1.0);
  for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, size_t{5}, fx::kSumBlock - 1,
                   fx::kSumBlock, fx::kSumBlock + 3, 5 * fx::kSumBlock + 2}) {
    std::vector<float> x(n);
    for (float& v : x)
      v = static_cast<float>(std::ldexp(mant(rng), static_cast<int>(rng() % 60) - 30));
    std::vector<double> squares(n);
    for (size_t i = 0; i < n; ++i) squares[i] = static_cast<double>(x[i]) * x[i];
    const auto square = [](float v) { return static_cast<double>(v) * v; };
    const double want = blocked_sum_oracle(squares);
    EXPECT_EQ(fx::blocked_sum(x.data(), n, square), want) << n << f8net::testing::seed_note(seed);
    EXPECT_EQ(fx::blocked_sum(x.data(), n, square, ThreadedBlocks{2}), want) << n;
    EXPECT_EQ(fx::blocked_sum(x.data(), n, square, ThreadedBlocks{4}), want) << n;
    // compute_metric is that sum, whichever way the blocks run.
    EXPECT_EQ(fx::compute_metric(x.data(), n, Metric::kRms, ThreadedBlocks{3}),
              n ? std::sqrt(want / static_cast<double>(n)) : 0.0)
        << n;
    EXPECT_EQ(fx::compute_metric(x.data(), n, Metric::kStd, ThreadedBlocks{3}),
              fx::compute_metric(x.data(), n, Metric::kStd))
        << n;
    EXPECT_EQ(fx::compute_metric(x.data(), n, Metric::kMae, ThreadedBlocks{2}),
              fx::compute_metric(x.data(), n, Metric::kMae))
        << n;
  }
}

TEST(Ema, TV6Sequence) {
  const int batch[] = {8, 8, 8, 8, 8, 8, 8, 5, 5, 5, 5};
  const double stored[] = {6.2,      6.38,     6.542,    6.6878,   6.81902, 6.937118,
                           7.043406, 6.839066, 6.655159, 6.489643, 6.340679};
  const int used[] = {6, 6, 7, 7, 7, 7, 7, 7, 7, 6, 6};
  float f = fx::kInitialActivationFl;
  for (int i = 0; i < 11; ++i) {
    f = fx::ema_update(f, batch[i]);
    EXPECT_NEAR(f, stored[i], 2e-6) << "step " << i;
    EXPECT_EQ(fx::ema_fl_used(f, /*is_signed=*/false), used[i]) << "step " << i;
  }
}

TEST(Ema, UsedFlRoundsHalfToEvenAndClamps) {
  EXPECT_EQ(fx::ema_fl_used(6.5f, false), 6);
  EXPECT_EQ(fx::ema_fl_used(7.5f, false), 8);
  EXPECT_EQ(fx::ema_fl_used(7.6f, true), 7);   // signed: at most 7
  EXPECT_EQ(fx::ema_fl_used(9.0f, false), 8);  // unsigned: at most 8
  EXPECT_EQ(fx::ema_fl_used(-0.7f, false), 0);
  EXPECT_EQ(fx::ema_fl_used(3.5085f, false), 4);
  EXPECT_EQ(fx::ema_fl_used(1.5085f, false), 2);
}
