// `f8net train --config FILE [--set k=v]... --out DIR [--resume] [--threads N] [--json]`: runs a
// recipe's stages (qat/trainer.h) with a progress display; SIGINT/SIGTERM save the resume state
// and exit (a second signal exits at once, after any file write in progress). With --json the last stdout line is one JSON object.
#include <unistd.h>

#include <csignal>
#include <iostream>

#include "commands.h"
#include "f8net/qat/config.h"
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
  struct sigaction old_int_ {}, old_term_ {};
};

struct TrainArgs {
  std::string config, out;
  std::vector<std::string> sets;
  bool resume = false, json = false;
  int threads = 0;
};

void run_train(const TrainArgs& a) {
  if (!a.resume && a.config.empty()) throw UsageError("train: --config is required (or --resume)");
  if (a.resume && (!a.config.empty() || !a.sets.empty())) {
    throw UsageError("train: --resume continues with DIR/config.yaml; drop --config and --set");
  }
  if (a.threads < 0) throw UsageError("train: --threads must be >= 0");
  qat::TrainConfig config;
  if (a.resume) {
    config = qat::load_run_config(a.out);
  } else {
    config = qat::load_config(a.config, a.sets);
  }
  Progress progress(config.log_interval);
  qat::RunOptions options;
  options.out_dir = a.out;
  options.resume = a.resume;
  options.threads = a.threads;
  options.observer = &progress;
  options.stop = &g_stop_signal;
  qat::TrainResult result;
  {
    StopSignals signals;
    result = qat::run_training(config, options);
  }
  progress.clear();
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
      stages.push_back({{"stage", s.name}, {"mode", s.mode}, {"epochs", s.epochs},
                        {"resumed_iterations", s.resumed_iterations},
                        {"top1", s.best_top1}, {"top5", s.best_top5},
                        {"final_top1", s.final_top1}, {"checkpoint", s.best_checkpoint}});
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
  cmd->add_flag("--json", args->json, "Print the result as one JSON object on the last line");
  cmd->callback([args] { run_train(*args); });
}

}  // namespace

F8NET_REGISTER_COMMAND(10, add_train);

}  // namespace f8net::cli
