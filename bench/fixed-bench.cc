// Grid search: the one-pass search against the straightforward one-pass-per-FL computation, on an
// activation-sized tensor (64x16x28x28). Report the ratio of the two times from one run.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "f8net/fixed.h"

namespace {

std::vector<float> activations() {
  std::mt19937 rng(1);
  std::normal_distribution<float> g(0.0f, 1.5f);
  std::vector<float> x(64 * 16 * 28 * 28);
  for (float& v : x) v = g(rng);
  return x;
}

void BM_GridSearchOnePass(benchmark::State& state) {
  const auto x = activations();
  double err[f8net::fixed::kMaxGridCandidates];
  for (auto _ : state) {
    benchmark::DoNotOptimize(f8net::fixed::grid_search_errors(x.data(), x.size(), false, 8, err));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(x.size()));
}

void BM_GridSearchPerFl(benchmark::State& state) {
  const auto x = activations();
  double err[f8net::fixed::kMaxGridCandidates];
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        f8net::fixed::grid_search_errors_per_fl(x.data(), x.size(), false, 8, err));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(x.size()));
}

}  // namespace

BENCHMARK(BM_GridSearchOnePass)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GridSearchPerFl)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
