// Runtime kernel benchmarks: every entry of the kernel table on real layer shapes (ResNet/
// MobileNet-style 3x3, 1x1 and depthwise convs, an FC head, requantize, add, pools), plus a whole
// small model through the interpreter at 1 thread and all threads. Reported in items/s (MACs
// for conv/FC, elements otherwise); optimized kernels compare against __ref in the same run.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "f8net/rt/interpreter.h"
#include "kernels/kernel-table.h"

namespace rt = f8net::rt;
namespace k = f8net::rt::kernels;

namespace {

struct Layer {
  const char* name;
  rt::OpType op;
  int c, h, w, oc, kh, sh, ph, groups;
};

const Layer kLayers[] = {
    {"conv3x3_64x56x56", rt::OpType::kConv2d, 64, 56, 56, 64, 3, 1, 1, 1},
    {"conv1x1_128x28x28_to256", rt::OpType::kConv2d, 128, 28, 28, 256, 1, 1, 0, 1},
    {"conv7x7s2_3x224x224", rt::OpType::kConv2d, 3, 224, 224, 64, 7, 2, 3, 1},
    {"dw3x3_144x56x56", rt::OpType::kConv2d, 144, 56, 56, 144, 3, 1, 1, 144},
    {"fc_1280_to_1000", rt::OpType::kFullyConnected, 1280, 1, 1, 1000, 1, 1, 0, 1},
    {"requant_64x56x56", rt::OpType::kRequantize, 64, 56, 56, 64, 1, 1, 0, 1},
    {"relu_64x56x56", rt::OpType::kRelu, 64, 56, 56, 64, 1, 1, 0, 1},
    {"add_64x56x56", rt::OpType::kAdd, 64, 56, 56, 64, 1, 1, 0, 1},
    {"maxpool3x3s2_64x112x112", rt::OpType::kMaxPool, 64, 112, 112, 64, 3, 2, 1, 1},
    {"gsp_512x7x7", rt::OpType::kGlobalSumPool, 512, 7, 7, 512, 1, 1, 0, 1},
};

struct Buffers {
  std::vector<uint8_t> src, src2, dst;
  std::vector<int8_t> weights;
  std::vector<int32_t> bias, fl, shift;
};

void bench_kernel(benchmark::State& state, const k::KernelEntry* e, Layer l) {
  std::mt19937 rng(1);
  Buffers b;
  k::KernelArgs a;
  a.c = l.c;
  a.h = l.h;
  a.w = l.w;
  a.oc = l.oc;
  a.kh = a.kw = l.kh;
  a.sh = a.sw = l.sh;
  a.ph = a.pw = l.ph;
  a.groups = l.groups;
  const bool conv = l.op == rt::OpType::kConv2d, pool = l.op == rt::OpType::kMaxPool;
  a.oh =
      conv || pool
          ? (l.h + 2 * l.ph - l.kh) / l.sh + 1
          : (l.op == rt::OpType::kFullyConnected || l.op == rt::OpType::kGlobalSumPool ? 1 : l.h);
  a.ow =
      conv || pool
          ? (l.w + 2 * l.ph - l.kh) / l.sh + 1
          : (l.op == rt::OpType::kFullyConnected || l.op == rt::OpType::kGlobalSumPool ? 1 : l.w);
  const size_t in = static_cast<size_t>(l.c) * l.h * l.w;
  const size_t out = static_cast<size_t>(a.oc) * a.oh * a.ow;
  b.src.resize(in * rt::dtype_size(e->src_dtype));
  b.src2.resize(in * 4);
  b.dst.resize(out * rt::dtype_size(e->dst_dtype));
  for (uint8_t& x : b.src)
    x = static_cast<uint8_t>(rng() % (e->src_dtype == rt::DType::kInt8 ? 127 : 256));
  const size_t per =
      l.op == rt::OpType::kFullyConnected ? in : static_cast<size_t>(l.c / l.groups) * l.kh * l.kh;
  b.weights.resize(static_cast<size_t>(l.oc) * per);
  for (int8_t& x : b.weights) x = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  b.bias.assign(static_cast<size_t>(l.oc), 1000);
  b.fl.assign(static_cast<size_t>(l.c), 12);
  b.shift.assign(static_cast<size_t>(l.c), 1);
  a.src = b.src.data();
  a.src2 = b.src2.data();
  a.dst = b.dst.data();
  a.weights = b.weights.data();
  a.bias = b.bias.data();
  a.src_fl = b.fl.data();
  a.out_fl = 5;
  a.out_signed = e->dst_dtype == rt::DType::kInt8;
  a.shift = a.shift2 = b.shift.data();
  if (!k::isa_available(e->isa) || (e->supports && !e->supports(a))) {
    state.SkipWithError("kernel does not support this shape or CPU");
    return;
  }
  const int64_t items = k::work_items(e->op, a);
  for (auto _ : state) {
    e->fn(a, 0, items);
    benchmark::DoNotOptimize(b.dst.data());
    benchmark::ClobberMemory();
  }
  const int64_t work = conv || l.op == rt::OpType::kFullyConnected ? static_cast<int64_t>(out * per)
                                                                   : static_cast<int64_t>(in);
  state.SetItemsProcessed(state.iterations() * work);
}

void bench_model(benchmark::State& state) {
  std::mt19937 rng(2);
  rt::ModelDef m;
  m.metadata.preprocessing.mode = rt::Preprocess::kRaw01;
  m.input = {rt::Shape{1, 28, 28}, rt::DType::kUint8, 8};
  auto weights = [&](size_t n) {
    std::vector<int8_t> w(n);
    for (int8_t& x : w) x = static_cast<int8_t>(static_cast<int>(rng() % 31) - 15);
    return w;
  };
  rt::Conv2dParams p;
  p.out_channels = 32;
  p.kernel_h = p.kernel_w = 3;
  p.pad_h = p.pad_w = 1;
  int32_t v = rt::add_conv2d(&m, 0, p, weights(32 * 9), std::vector<int32_t>(32, 0), {6});
  v = rt::add_max_pool(&m, rt::add_relu(&m, v), 2, 2, 0);
  v = rt::add_requantize(&m, v, 4, false);
  p.out_channels = 64;
  v = rt::add_conv2d(&m, v, p, weights(64 * 32 * 9), std::vector<int32_t>(64, 0), {6});
  v = rt::add_global_sum_pool(&m, v, 8);
  v = rt::add_requantize(&m, v, 4, false);
  rt::add_fully_connected(&m, v, 10, weights(640), std::vector<int32_t>(10, 0), {6});
  rt::Interpreter it;
  if (!it.load(m).is_ok() || !it.prepare({static_cast<int>(state.range(0)), false}).is_ok()) {
    state.SkipWithError("model failed to load");
    return;
  }
  for (auto _ : state) {
    if (!it.run().is_ok()) state.SkipWithError("run failed");
  }
  state.SetItemsProcessed(state.iterations());  // images
}

int register_all() {
  size_t n = 0;
  const k::KernelEntry* table = k::kernel_table(&n);
  for (size_t i = 0; i < n; ++i) {
    for (const Layer& l : kLayers) {
      if (l.op != table[i].op) continue;
      benchmark::RegisterBenchmark((std::string(table[i].name) + "/" + l.name).c_str(),
                                   bench_kernel, &table[i], l);
    }
  }
  benchmark::RegisterBenchmark("interpreter/small_cnn_28x28", bench_model)->Arg(1)->Arg(0);
  return 0;
}
const int kRegistered = register_all();

}  // namespace

BENCHMARK_MAIN();
