// Training-step cost of F8Net (F8NET.md §8.1, decision 5): fixed vs float mode for resnet20 at
// 1x28x28 and resnet18 at 3x32x32 (batch 64, same thread count), grid-search vs metric FL rule,
// and the quantizer/FL machinery alone on resnet20's layer-input shapes. Compare ratios only.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <vector>

#include "f8net/qat/allocator.h"
#include "f8net/qat/models.h"
#include "f8net/qat/quantize.h"

namespace {

using f8net::qat::Mode;

// As in `f8net train`: without it, page faults of freshly mapped tensors dominate the noise.
const bool kAllocatorTuned = f8net::qat::keep_freed_memory_for_reuse();

int threads() {
  const char* t = std::getenv("F8NET_BENCH_THREADS");
  return t ? std::atoi(t) : 2;
}

// One model and its optimizer, stepping on a fixed batch of 64.
struct Trainer {
  f8net::qat::Net net;
  std::unique_ptr<torch::optim::SGD> opt;
  torch::Tensor x, y;
  Trainer(const char* arch, int64_t channels, int64_t size, Mode mode, bool grid) {
    torch::manual_seed(1);
    f8net::qat::ModelOptions o;
    o.arch = arch;
    o.in_channels = channels;
    o.input_size = size;
    o.quant.mode = mode;
    o.quant.grid_search = grid;
    net = f8net::qat::make_model(o);
    net->train();
    opt = std::make_unique<torch::optim::SGD>(net->parameters(),
                                              torch::optim::SGDOptions(0.01).momentum(0.9));
    x = torch::rand({64, channels, size, size});
    y = torch::randint(0, 10, {64}, torch::kLong);
  }
  double step() {
    const auto t0 = std::chrono::steady_clock::now();
    opt->zero_grad();
    torch::nn::functional::cross_entropy(net->forward(x), y).backward();
    opt->step();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
};

// One configuration's training step, timed by the benchmark library.
void train_step(benchmark::State& state, const char* arch, int64_t channels, int64_t size,
                Mode mode, bool grid) {
  torch::set_num_threads(threads());
  Trainer t(arch, channels, size, mode, grid);
  for (int i = 0; i < 2; ++i) t.step();  // warm-up (allocator, FL EMAs)
  for (auto _ : state) benchmark::DoNotOptimize(t.step());
  state.counters["threads"] = threads();
  state.counters["allocator_tuned"] = kAllocatorTuned;
}

// Two configurations stepped alternately in one loop, so both see the same machine load (this
// machine is shared); counters report each one's fastest step and the ratio of fastest steps.
void paired(benchmark::State& state, const char* arch, int64_t channels, int64_t size, Mode mode_a,
            bool grid_a, Mode mode_b, bool grid_b) {
  torch::set_num_threads(threads());
  Trainer a(arch, channels, size, mode_a, grid_a), b(arch, channels, size, mode_b, grid_b);
  for (int i = 0; i < 2; ++i) {
    a.step();
    b.step();
  }
  std::vector<double> ta, tb;
  for (auto _ : state) {
    ta.push_back(a.step());
    tb.push_back(b.step());
  }
  const double ma = *std::min_element(ta.begin(), ta.end());
  const double mb = *std::min_element(tb.begin(), tb.end());
  state.counters["a_min_ms"] = ma;
  state.counters["b_min_ms"] = mb;
  state.counters["b_over_a"] = mb / ma;
  state.counters["threads"] = threads();
}

// The per-step activation machinery of fixed-mode resnet20 at 1x28x28, batch 64: per layer input,
// the batch FL (metric or grid search), the fused quantize+mask forward and grad*mask backward.
// `stages`: 1 = batch FL only, 2 = + quantize forward, 3 = + backward (the whole machinery).
void machinery(benchmark::State& state, bool grid, int stages) {
  torch::set_num_threads(threads());
  struct Shape {
    int64_t c, hw, count;
  };
  const std::vector<Shape> shapes = {{16, 28, 8}, {32, 14, 7}, {64, 7, 5}};
  std::vector<torch::Tensor> xs;
  for (const Shape& s : shapes) {
    for (int64_t i = 0; i < s.count; ++i) xs.push_back(torch::randn({64, s.c, s.hw, s.hw}));
  }
  for (auto _ : state) {
    for (const torch::Tensor& x : xs) {
      const torch::Tensor xg = x.detach().requires_grad_(true);
      const int32_t fl = f8net::qat::activation_fl(x, false, f8net::fixed::Metric::kStd, grid);
      benchmark::DoNotOptimize(fl);
      if (stages < 2) continue;
      const torch::Tensor q = f8net::qat::quantize_ste(xg, {fl}, false, 1);
      if (stages < 3) continue;
      q.backward(torch::ones_like(q));
      benchmark::DoNotOptimize(xg.grad().data_ptr());
    }
  }
}

BENCHMARK_CAPTURE(train_step, resnet20_28_float, "resnet20", 1, 28, Mode::kFloat, false)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3.0);
BENCHMARK_CAPTURE(train_step, resnet20_28_fixed_metric, "resnet20", 1, 28, Mode::kFixed, false)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3.0);
BENCHMARK_CAPTURE(train_step, resnet20_28_fixed_grid, "resnet20", 1, 28, Mode::kFixed, true)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3.0);
BENCHMARK_CAPTURE(train_step, resnet18_32_float, "resnet18", 3, 32, Mode::kFloat, false)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(5.0);
BENCHMARK_CAPTURE(train_step, resnet18_32_fixed_metric, "resnet18", 3, 32, Mode::kFixed, false)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(5.0);
BENCHMARK_CAPTURE(train_step, resnet18_32_fixed_grid, "resnet18", 3, 32, Mode::kFixed, true)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(5.0);
// a = float, b = fixed (metric); a = fixed metric, b = fixed grid search.
BENCHMARK_CAPTURE(paired, resnet20_28_float_vs_fixed, "resnet20", 1, 28, Mode::kFloat, false,
                  Mode::kFixed, false)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(12);
BENCHMARK_CAPTURE(paired, resnet20_28_metric_vs_grid, "resnet20", 1, 28, Mode::kFixed, false,
                  Mode::kFixed, true)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(12);
BENCHMARK_CAPTURE(paired, resnet18_32_float_vs_fixed, "resnet18", 3, 32, Mode::kFloat, false,
                  Mode::kFixed, false)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(6);
BENCHMARK_CAPTURE(paired, resnet18_32_metric_vs_grid, "resnet18", 3, 32, Mode::kFixed, false,
                  Mode::kFixed, true)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(6);
BENCHMARK_CAPTURE(machinery, resnet20_28_metric_fl, false, 1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(machinery, resnet20_28_grid_fl, true, 1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(machinery, resnet20_28_metric_fl_forward, false, 2)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(machinery, resnet20_28_metric, false, 3)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(machinery, resnet20_28_grid, true, 3)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
