// Grid search: the one-pass search against the straightforward one-pass-per-FL computation, on an
// activation-sized tensor (64x16x28x28), and each block kernel (scalar, AVX2, AVX-512) alone.
// Report the ratios of the times from one run.
#include <benchmark/benchmark.h>

#include <algorithm>
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

// One kernel over the whole tensor, block by block (what grid_search_errors runs on one thread).
template <typename Kernel>
void block_kernel(benchmark::State& state, Kernel kernel) {
  namespace fx = f8net::fixed;
  const auto x = activations();
  double sums[fx::kMaxGridCandidates];
  for (auto _ : state) {
    for (size_t b = 0; b < x.size(); b += fx::kSumBlock) {
      kernel(x.data() + b, std::min(fx::kSumBlock, x.size() - b), 9, 0.0, 255.0, sums);
    }
    benchmark::DoNotOptimize(sums);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(x.size()));
}

void BM_GridKernelScalar(benchmark::State& state) {
  block_kernel(state, f8net::fixed::detail::grid_block_errors_scalar);
}

#if F8NET_FIXED_HAVE_SIMD
void BM_GridKernelAvx2(benchmark::State& state) {
  if (!f8net::fixed::detail::cpu_has_avx2()) return state.SkipWithError("no AVX2");
  block_kernel(state, f8net::fixed::detail::grid_block_errors_avx2);
}

void BM_GridKernelAvx512(benchmark::State& state) {
  if (!f8net::fixed::detail::cpu_has_avx512f()) return state.SkipWithError("no AVX-512");
  block_kernel(state, f8net::fixed::detail::grid_block_errors_avx512);
}
BENCHMARK(BM_GridKernelAvx2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GridKernelAvx512)->Unit(benchmark::kMillisecond);
#endif
BENCHMARK(BM_GridKernelScalar)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK(BM_GridSearchOnePass)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GridSearchPerFl)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
