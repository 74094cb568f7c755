// `f8net bench --model M.f8 [--threads T] [--batch N] [--isa I] [--runs R] [--json]`: runtime
// speed of one model on random input codes: warm-up, R timed runs of a batch of N images,
// median/min latency, images/s, GMAC/s, % of the machine's int8 peak (vpdpbusd, measured here),
// packed weight bytes, and the five slowest stages with their kernels (profiled separately).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <random>
#include <thread>

#include "cli-util.h"
#include "commands.h"
#include "f8net/rt/model-file.h"

namespace f8net::cli {
namespace {

struct BenchArgs {
  std::string model, isa;
  int threads = 0, batch = 1, runs = 30;
  bool json = false;
};

void run_bench(const BenchArgs& a) {
  if (a.batch < 1 || a.runs < 1) throw UsageError("bench: --batch and --runs must be >= 1");
  rt::Interpreter it;
  rt::Status s = it.load_file(a.model);
  rt::InterpreterOptions o;
  o.num_threads = a.threads;
  o.isa = a.isa;
  if (s.is_ok()) s = it.prepare(o);
  if (!s.is_ok()) throw Error("bench: " + a.model + ": " + s.message());
  const rt::ModelDef& m = it.model();
  const size_t in_bytes = it.input().bytes();
  std::vector<uint8_t> inputs(in_bytes * static_cast<size_t>(a.batch));
  std::mt19937_64 rng(1);
  const bool sgn = m.input.dtype == rt::DType::kInt8;
  std::uniform_int_distribution<int> d(sgn ? -127 : 0, sgn ? 127 : 255);
  for (uint8_t& v : inputs) v = static_cast<uint8_t>(d(rng));
  int64_t macs = 0;
  for (const rt::OpInfo& op : it.graph_info().ops) macs += op.macs;

  using Clock = std::chrono::steady_clock;
  std::vector<int32_t> outputs(static_cast<size_t>(it.output().shape.elements()) *
                               static_cast<size_t>(a.batch));
  auto batch = [&] {
    const rt::Status st = it.run_batch(inputs.data(), static_cast<size_t>(a.batch), outputs.data());
    if (!st.is_ok()) throw Error("bench: " + st.message());
  };
  for (int w = 0; w < 3; ++w) batch();
  std::vector<double> times;
  for (int r = 0; r < a.runs; ++r) {
    const Clock::time_point t0 = Clock::now();
    batch();
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2], best = times.front();
  // Per-stage profile in separate runs (the timer reads would perturb the latency above).
  it.set_profiling(true);
  const int prof_runs = std::max(5, a.runs / 3);
  for (int r = 0; r < prof_runs; ++r) batch();
  std::vector<rt::StageInfo> stages = it.stages();
  it.set_profiling(false);
  std::sort(stages.begin(), stages.end(),
            [](const rt::StageInfo& x, const rt::StageInfo& y) { return x.seconds > y.seconds; });

  const double peak_core = rt::measure_int8_peak_gmacs_per_core();
  const double peak = peak_core * it.num_threads();
  const double images_s = a.batch / median;
  const double gmacs = static_cast<double>(macs) * a.batch / median * 1e-9;
  char line[512];
  std::snprintf(line, sizeof(line),
                "%s: isa %s, %d threads, batch %d, %d runs\n  latency median %.3f ms, min %.3f ms "
                "(per batch)\n  %.1f images/s, %.1f GMAC/s (%.2f GMAC per image), peak %.1f GMAC/s "
                "(%d x %.1f vpdpbusd) -> %.1f %% of peak\n  arena %zu bytes, packed weights %zu "
                "bytes\n",
                m.metadata.name.c_str(), it.isa(), it.num_threads(), a.batch, a.runs, median * 1e3,
                best * 1e3, images_s, gmacs, static_cast<double>(macs) * 1e-9, peak,
                it.num_threads(), peak_core, peak > 0 ? 100.0 * gmacs / peak : 0.0,
                it.arena_bytes(), it.packed_bytes());
  std::cout << line << "  slowest stages (ms per image, GMAC/s):\n";
  nlohmann::json slowest = nlohmann::json::array();
  const double per = 1.0 / (prof_runs * a.batch);
  for (size_t i = 0; i < stages.size() && i < 5; ++i) {
    const rt::StageInfo& st = stages[i];
    const double ms = st.seconds * per * 1e3;
    const double g = st.seconds > 0 ? static_cast<double>(st.macs) / (st.seconds * per) * 1e-9 : 0;
    const int op = st.ops.empty() ? -1 : st.ops[0];
    std::snprintf(line, sizeof(line), "    op %-5d %-36s %8.3f ms %8.1f GMAC/s\n", op,
                  st.kernel.c_str(), ms, g);
    std::cout << line;
    slowest.push_back({{"op", op}, {"kernel", st.kernel}, {"ms", ms}, {"gmacs", g}});
  }
  if (a.json) {
    const nlohmann::json j = {{"model", a.model},
                              {"isa", it.isa()},
                              {"threads", it.num_threads()},
                              {"batch", a.batch},
                              {"runs", a.runs},
                              {"median_ms", median * 1e3},
                              {"min_ms", best * 1e3},
                              {"images_per_s", images_s},
                              {"gmacs", gmacs},
                              {"peak_gmacs", peak},
                              {"percent_of_peak", peak > 0 ? 100.0 * gmacs / peak : 0.0},
                              {"packed_bytes", it.packed_bytes()},
                              {"slowest", slowest}};
    std::cout << json_text(j) << "\n";
  }
}

void add_bench(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd =
      app.add_subcommand("bench", "Time an .f8 model on this machine (integer runtime)");
  cmd->add_option("--model", args->model, "Exported .f8 model")->required();
  cmd->add_option("--threads", args->threads, "Threads (0 = all cores)")
      ->check(CLI::Range(0, kMaxThreads));
  cmd->add_option("--batch", args->batch, "Images per timed run (default 1)");
  cmd->add_option("--runs", args->runs, "Timed runs after 3 warm-up runs (default 30)");
  cmd->add_option("--isa", args->isa,
                  "ref, avx2, avx512, avx512vnni, avxvnni (default: F8NET_ISA or best)");
  cmd->add_flag("--json", args->json, "Also print the results as one JSON object (last line)");
  cmd->callback([args] { run_bench(*args); });
}

}  // namespace

F8NET_REGISTER_COMMAND(70, add_bench);

}  // namespace f8net::cli
