// The F8Net training pipeline (F8NET.md §20) behind `f8net train`:
// runs the config's stages in order (pretrain: float/fp_pact; train: normally fixed, initialized
// from the pretrain stage's best checkpoint by key intersection), SGD with momentum/Nesterov,
// weight-decay schemes (§19 item 16), warm-up + per-iteration cosine LR, label smoothing,
// per-epoch top-1/top-5/loss, best and last checkpoints, exact resume. No LibTorch types here.
//
// Run directory: config.yaml (effective config), metrics.jsonl (one JSON line per epoch),
// <stage>-last.pt (resume point) and <stage>-best.pt (best validation top-1) per stage.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "f8net/qat/config.h"
#include "f8net/qat/dist.h"
#include "f8net/qat/evaluation.h"
#include "f8net/qat/progress.h"

namespace f8net::qat {

struct StageResult {
  std::string name, mode;
  bool ran = false;    // false when disabled
  int64_t epochs = 0;  // epochs completed
  int64_t iterations = 0;
  // Iterations that an earlier process had completed when this one resumed the stage: their
  // metrics (and possibly the best/final figures) come from the checkpoint's record, not from
  // this run's measurements (0: all measured now).
  int64_t resumed_iterations = 0;
  double best_top1 = 0, best_top5 = 0, best_loss = 0;
  int64_t best_epoch = 0;
  double final_top1 = 0, final_top5 = 0;
  std::string best_checkpoint, last_checkpoint;
};

struct TrainResult {
  bool interrupted = false;  // stopped by a signal: state saved in the last checkpoint
  std::vector<StageResult> stages;
  std::vector<LayerFormat> layers;  // of the final stage's best model (fixed mode only)
  double seconds = 0;
};

struct RunOptions {
  std::string out_dir;
  bool resume = false;  // continue the run in out_dir from its config.yaml and checkpoints
  int64_t threads = 0;  // > 0 overrides config.threads
  TrainObserver* observer = nullptr;
  // Polled between iterations: non-zero stops training, saving the resume state first.
  const std::atomic<int>* stop = nullptr;
  // This process's place in a data-parallel job (read_dist_env(); default: a single process).
  // Every rank trains; only rank 0 creates out_dir, holds its lock and writes to it (the others
  // read it on --resume: a shared file system, or the same files, on every machine).
  DistEnv dist;
};

// Runs the pipeline. Without `resume`, out_dir must be absent or empty (created if absent); with
// it, `config` is ignored and out_dir/config.yaml is used. Throws std::runtime_error (ConfigError,
// DataError, ...) with a one-line message; nothing in out_dir is left half-written.
TrainResult run_training(const TrainConfig& config, const RunOptions& options);

// Reads a run directory's config.yaml (for --resume).
TrainConfig load_run_config(const std::string& out_dir);

// The thread count to use: `requested` when > 0, else the machine's cores.
int64_t resolve_threads(int64_t requested);

}  // namespace f8net::qat
