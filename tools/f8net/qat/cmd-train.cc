// `f8net train --config FILE [--set k=v]... --out DIR [--resume] [--threads N] [--nproc N]
// [--json]`: runs a recipe's stages (qat/trainer.h) with a progress display; SIGINT/SIGTERM save
// the resume state and exit (a second signal exits at once, after any file write in progress).
// With --json the last stdout line is one JSON object. --nproc N runs N data-parallel ranks on
// this machine (qat/dist.h); under torchrun's variables (WORLD_SIZE, RANK, ...) this process is
// one rank of a job. Only rank 0 prints and writes.
#include <unistd.h>

#include <climits>
#include <csignal>
#include <iostream>
#include <thread>

#include "commands.h"
#include "f8net/qat/config.h"
#include "f8net/qat/dist.h"
#include "f8net/qat/trainer.h"
#include "f8net/rt/atomic-file.h"
#include "progress.h"
#include "report.h"

namespace f8net::cli {
namespace {

std::atomic<int> g_stop_signal{0};

// The first signal asks the trainer to save and stop; a second one exits at once, except while
// a file is being written atomically: then the exit waits until the write is complete, so no
// temporary file is left behind (async-signal-safe: atomics and _exit only).
extern "C" void on_stop_signal(int sig) {
  int none = 0;
  if (g_stop_signal.compare_exchange_strong(none, sig)) return;
  if (rt::atomic_write_in_progress()) {
    rt::request_exit_after_write(128 + sig);
    return;
  }
  _exit(128 + sig);
}

// Installs SIGINT/SIGTERM handlers for the object's lifetime.
class StopSignals {
 public:
  StopSignals() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {
  }, old_term_{};
};

struct TrainArgs {
  std::string config, out;
  std::vector<std::string> sets;
  bool resume = false, json = false;
  int threads = 0;
  int nproc = 1;
};

// This executable's path, for the ranks the launcher starts.
std::string self_executable() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw Error("train: --nproc: cannot find this executable (/proc/self/exe)");
  return std::string(buf, static_cast<size_t>(n));
}

// --nproc N: the same command N times as the ranks of one job on this machine. Each rank gets
// an equal share of the cores unless threads are set.
void launch_ranks(const TrainArgs& a, const qat::TrainConfig& config) {
  if (qat::read_dist_env().distributed()) {
    throw UsageError(
        "train: --nproc inside a job that WORLD_SIZE already describes (torchrun): "
        "use one or the other");
  }
  std::vector<std::string> argv = {self_executable(), "train", "--out", a.out};
  if (!a.config.empty()) argv.insert(argv.end(), {"--config", a.config});
  for (const auto& s : a.sets) argv.insert(argv.end(), {"--set", s});
  if (a.resume) argv.push_back("--resume");
  if (a.json) argv.push_back("--json");
  int threads = a.threads > 0 ? a.threads : static_cast<int>(config.threads);
  if (threads == 0) {
    threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / a.nproc);
  }
  argv.insert(argv.end(), {"--threads", std::to_string(threads)});
  qat::LaunchOptions lo;
  lo.nproc = a.nproc;
  lo.stop = &g_stop_signal;
  std::string failure;
  lo.report = [&](const std::string& line) { failure = line; };
  int rc = 0;
  {
    StopSignals signals;  // passed on to the ranks, which save and stop together
    rc = qat::launch_local_ranks(argv, lo);
  }
  if (rc == 0) return;
  if (g_stop_signal.load() != 0) {
    throw Error("train: interrupted; state saved: continue with 'f8net train --out " + a.out +
                " --resume --nproc N' (any N)");
  }
  throw Error("train: " + failure);
}

void run_train(const TrainArgs& a) {
  if (!a.resume && a.config.empty()) throw UsageError("train: --config is required (or --resume)");
  if (a.resume && (!a.config.empty() || !a.sets.empty())) {
    throw UsageError("train: --resume continues with DIR/config.yaml; drop --config and --set");
  }
  if (a.threads < 0) throw UsageError("train: --threads must be >= 0");
  if (a.nproc < 1) throw UsageError("train: --nproc must be >= 1");
  qat::TrainConfig config;
  if (a.resume) {
    config = qat::load_run_config(a.out);
  } else {
    config = qat::load_config(a.config, a.sets);
  }
  if (a.nproc > 1) return launch_ranks(a, config);
  const qat::DistEnv env = qat::read_dist_env();
  Progress progress(config.log_interval);
  qat::RunOptions options;
  options.dist = env;
  options.out_dir = a.out;
  options.resume = a.resume;
  options.threads = a.threads;
  options.observer = env.rank == 0 ? &progress : nullptr;
  options.stop = &g_stop_signal;
  qat::TrainResult result;
  {
    StopSignals signals;
    result = qat::run_training(config, options);
  }
  progress.clear();
  if (env.rank != 0) return;  // rank 0 reports for the job
  if (result.interrupted) {
    const int sig = g_stop_signal.load();
    throw Error(std::string("train: interrupted by ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") +
                "; state saved: continue with 'f8net train --out " + a.out + " --resume'");
  }
  print_train_summary(std::cout, result);
  const qat::StageResult& final_stage = result.stages.back();
  if (a.json) {
    nlohmann::json j = {{"top1", final_stage.best_top1},
                        {"top5", final_stage.best_top5},
                        {"final_top1", final_stage.final_top1},
                        {"epochs", final_stage.epochs},
                        {"iterations", final_stage.iterations},
                        {"resumed_iterations", final_stage.resumed_iterations},
                        {"mode", final_stage.mode},
                        {"checkpoint", final_stage.best_checkpoint},
                        {"out", a.out},
                        {"seconds", result.seconds},
                        {"layers", layers_json(result.layers)}};
    nlohmann::json stages = nlohmann::json::array();
    for (const auto& s : result.stages) {
      if (!s.ran) continue;
      stages.push_back({{"stage", s.name},
                        {"mode", s.mode},
                        {"epochs", s.epochs},
                        {"resumed_iterations", s.resumed_iterations},
                        {"top1", s.best_top1},
                        {"top5", s.best_top5},
                        {"final_top1", s.final_top1},
                        {"checkpoint", s.best_checkpoint}});
      if (s.name == "pretrain") j["pretrain_top1"] = s.best_top1;
    }
    j["stages"] = stages;
    std::cout << j.dump() << std::endl;
  }
}

void add_train(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand(
      "train", "Train a model from a YAML recipe (pretrain stage, then fixed-point stage)");
  cmd->add_option("--config", args->config, "YAML recipe (see configs/)")->check(CLI::ExistingFile);
  cmd->add_option("--set", args->sets, "Override a config key: --set train.epochs=3 (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--out", args->out, "Run directory (config.yaml, metrics.jsonl, checkpoints)")
      ->required();
  cmd->add_flag("--resume", args->resume, "Continue the run in --out where it stopped");
  cmd->add_option("--threads", args->threads, "LibTorch threads (default: config, 0 = all cores)")
      ->check(CLI::Range(0, kMaxThreads));
  cmd->add_option(
         "--nproc", args->nproc,
         "Data-parallel ranks on this machine (Gloo; train.batch_size is the global batch)")
      ->check(CLI::Range(1, 256));
  cmd->add_flag("--json", args->json, "Print the result as one JSON object on the last line");
  cmd->callback([args] { run_train(*args); });
}

}  // namespace

F8NET_REGISTER_COMMAND(10, add_train);

}  // namespace f8net::cli
