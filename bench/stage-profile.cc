// stage-profile: every stage of one .f8 model on the fused engine with its kernel, work items,
// milliseconds per image and GMAC/s (profiled runs), sorted by time, plus the share of the total
// each takes; for finding what limits a model (`f8net bench` shows only the five slowest).
//   stage-profile MODEL.f8 [--threads T] [--isa I] [--runs R]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "f8net/rt/interpreter.h"

int main(int argc, char** argv) {
  using namespace f8net;
  if (argc < 2) {
    std::fprintf(stderr, "usage: stage-profile MODEL.f8 [--threads T] [--isa I] [--runs R]\n");
    return 2;
  }
  rt::InterpreterOptions o;
  o.num_threads = 1;
  int runs = 30;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--threads") o.num_threads = std::atoi(argv[i + 1]);
    if (k == "--isa") o.isa = argv[i + 1];
    if (k == "--runs") runs = std::atoi(argv[i + 1]);
  }
  rt::Interpreter it;
  rt::Status st = it.load_file(argv[1]);
  if (st) st = it.prepare(o);
  if (!st) {
    std::fprintf(stderr, "stage-profile: %s: %s\n", argv[1], st.message().c_str());
    return 1;
  }
  std::vector<uint8_t> codes(it.input().bytes());
  std::mt19937 rng(1);
  const bool sgn = it.input().dtype == rt::DType::kInt8;
  for (uint8_t& c : codes) {
    c = static_cast<uint8_t>(sgn ? static_cast<int>(rng() % 255) - 127
                                 : static_cast<int>(rng() % 256));
  }
  st = it.set_input(codes.data(), codes.size());
  for (int r = 0; st && r < 3; ++r) st = it.run();
  it.set_profiling(true);
  for (int r = 0; st && r < runs; ++r) st = it.run();
  if (!st) {
    std::fprintf(stderr, "stage-profile: %s\n", st.message().c_str());
    return 1;
  }
  std::vector<rt::StageInfo> stages = it.stages();
  double total = 0;
  for (const rt::StageInfo& s : stages) total += s.seconds;
  std::vector<size_t> order(stages.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return stages[a].seconds > stages[b].seconds; });
  std::printf("%s: isa %s, %d threads, %d profiled runs, %.3f ms per image in stages\n", argv[1],
              it.isa(), it.num_threads(), runs, total / runs * 1e3);
  std::printf("  stage  op    %-40s %9s %8s %6s\n", "kernel", "ms", "GMAC/s", "share");
  for (size_t i : order) {
    const rt::StageInfo& s = stages[i];
    const double sec = s.seconds / runs;
    std::printf("  %5zu  %-5d %-40s %9.4f %8.1f %5.1f%%\n", i, s.ops.empty() ? -1 : s.ops[0],
                s.kernel.c_str(), sec * 1e3, sec > 0 ? s.macs / sec * 1e-9 : 0.0,
                100.0 * s.seconds / total);
  }
  return 0;
}
