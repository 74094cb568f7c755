// The F8Net training pipeline (F8NET.md §20) behind `f8net train` and `f8net eval --checkpoint`:
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

namespace f8net::qat {

// Where a stage stands after an iteration (for progress displays).
struct IterationInfo {
  std::string stage;       // "pretrain" or "train"
  int64_t epoch = 0;       // 1-based
  int64_t epochs = 0;      // epochs the stage runs (the last may be partial with `iterations`)
  int64_t batch = 0;       // batches done in this epoch
  int64_t batches = 0;     // batches this epoch runs
  int64_t iteration = 0;   // iterations done in the stage
  int64_t iterations = 0;  // total iterations of the stage
  int64_t images = 0;      // images in the last batch
  double loss = 0;         // running mean training loss of the epoch
  double top1 = 0;         // running training top-1 of the epoch, percent
  double lr = 0;
};

// One epoch's results: one line of metrics.jsonl.
struct EpochRecord {
  std::string stage, mode;
  int64_t epoch = 0;
  int64_t iteration = 0;
  double lr = 0;
  double train_loss = 0, train_top1 = 0;
  double val_loss = 0, val_top1 = 0, val_top5 = 0;
  double seconds = 0;  // wall time of the epoch (training and validation)
};

// The formats one quantized layer uses at evaluation (fixed mode).
struct LayerFormat {
  std::string name;        // module path, e.g. "features.0.convs.0"
  std::string kind;        // "conv", "depthwise" or "fc"
  int input_fl = 0;        // FL of the layer's input codes
  bool input_signed = false;
  bool input_raw = false;  // the raw-image first layer (code = rne(255x), FL 8)
  int weight_fl_min = 0, weight_fl_max = 0;  // equal unless per-channel
};

struct StageResult {
  std::string name, mode;
  bool ran = false;          // false when disabled
  int64_t epochs = 0;        // epochs completed
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

// Receives progress; the default implementation ignores everything. Called on the training
// thread.
class TrainObserver {
 public:
  virtual ~TrainObserver() = default;
  virtual void stage_started(const std::string& /*stage*/, const std::string& /*mode*/,
                             const std::string& /*summary*/) {}
  virtual void iteration(const IterationInfo& /*info*/) {}
  virtual void evaluating(const std::string& /*stage*/, int64_t /*done*/, int64_t /*total*/) {}
  virtual void epoch_done(const EpochRecord& /*record*/) {}
  virtual void message(const std::string& /*text*/) {}
};

struct RunOptions {
  std::string out_dir;
  bool resume = false;      // continue the run in out_dir from its config.yaml and checkpoints
  int64_t threads = 0;      // > 0 overrides config.threads
  TrainObserver* observer = nullptr;
  // Polled between iterations: non-zero stops training, saving the resume state first.
  const std::atomic<int>* stop = nullptr;
};

// Runs the pipeline. Without `resume`, out_dir must be absent or empty (created if absent); with
// it, `config` is ignored and out_dir/config.yaml is used. Throws std::runtime_error (ConfigError,
// DataError, ...) with a one-line message; nothing in out_dir is left half-written.
TrainResult run_training(const TrainConfig& config, const RunOptions& options);

// Reads a run directory's config.yaml (for --resume).
TrainConfig load_run_config(const std::string& out_dir);

struct EvalResult {
  double top1 = 0, top5 = 0, loss = 0;  // percent, percent, mean cross-entropy
  int64_t images = 0;
  std::string arch, mode, stage, dataset;
  std::vector<LayerFormat> layers;
};

struct EvalOptions {
  std::string checkpoint;
  std::string data_dir;  // "" = the directory recorded in the checkpoint's config
  int64_t threads = 0;   // 0 = the checkpoint config's threads (0 = all cores)
  TrainObserver* observer = nullptr;
};

// Evaluates a checkpoint written by run_training on its data set's validation split.
EvalResult evaluate_checkpoint(const EvalOptions& options);

struct CalibrateOptions {
  std::string checkpoint, out;
  std::string data_dir;    // "" = the directory recorded in the checkpoint's config
  int64_t batches = 20;    // training batches averaged (cumulatively) into the BN statistics
  int64_t batch_size = 0;  // 0 = the checkpoint config's train.batch_size
  int64_t threads = 0;
  TrainObserver* observer = nullptr;
};

struct CalibrateResult {
  double before = 0, after = 0;  // validation top-1 before and after, percent
  int64_t images = 0;            // training images the statistics were averaged over
};

// BN re-calibration of a checkpoint (the reference's bn_calib_before_test, as a separate step):
// resets every conv layer's BN statistics and averages them cumulatively over the first
// `batches` training batches (evaluation transform, in order; conv input FL averages update as
// in the reference), then writes the model with the checkpoint's metadata and config to `out`
// atomically (no optimizer state: evaluate, export or initialize from it, not resume).
CalibrateResult calibrate_checkpoint(const CalibrateOptions& options);

// The LR multiplier of iteration i of `total` (F8NET.md §20): linear warm-up from warmup_start
// over `warmup` iterations, then cosine to 0, constant, or the reference's epoch-wise multistep
// (lr_gamma^(milestones <= epoch)) and exp_decaying (lr_gamma^floor(epoch / lr_decay_period)),
// with epoch = i / iters_per_epoch (the reference's *_iter variants after the warm-up).
double lr_factor(const StageConfig& stage, int64_t i, int64_t warmup, int64_t total,
                 int64_t iters_per_epoch = 1);

// Whether a parameter of this shape gets weight decay under `scheme` (fix_train.py): all;
// no_depthwise_no_bn: non-depthwise 4-D conv and 2-D FC weights; only_no_depthwise: every
// parameter except depthwise (N, 1, k, k) weights; only_no_bn: 4-D and 2-D weights (no BN, bias,
// alpha).
bool weight_decay_applies(const std::string& scheme, const std::vector<int64_t>& shape);

// The thread count to use: `requested` when > 0, else the machine's cores.
int64_t resolve_threads(int64_t requested);

}  // namespace f8net::qat
