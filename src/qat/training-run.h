// One training run's stage loop (internal to f8net_qat; run_training in trainer.cc owns the run
// directory and calls it): each enabled stage is run, resumed from its last checkpoint, or
// skipped when finished, epoch by epoch with evaluation, best/last checkpoints and metrics.jsonl.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "f8net/qat/config.h"
#include "f8net/qat/dist-train.h"
#include "f8net/qat/models.h"
#include "f8net/qat/trainer.h"
#include "run-data.h"
#include "train-records.h"

namespace f8net::qat::detail {

class TrainingRun {
 public:
  TrainingRun(TrainConfig config, RunOptions options);

  // Runs every stage; the result is marked interrupted when a stop request ended it early.
  TrainResult run();

 private:
  using Clock = std::chrono::steady_clock;

  // What one stage works with while it runs.
  struct Stage {
    std::string name;  // "pretrain" or "train"
    const StageConfig* config = nullptr;
    ModelOptions model_options;
    std::string last_path, best_path;
    int64_t iters_per_epoch = 0, total = 0, num_epochs = 0, warmup = 0;
  };

  ModelOptions model_options(const std::string& mode) const;
  std::string path(const std::string& file) const;
  void write_metrics(const std::vector<EpochRecord>& current) const;
  void save(const std::string& file, const Stage& stage, const StageState& s, NetImpl& model,
            const torch::optim::Optimizer& opt) const;
  void note(const std::string& text) const;
  bool stopping() const;
  // stopping() agreed by every rank (one all-reduce when distributed): all stop at one point.
  bool stop_agreed() const;

  // Runs (or resumes, or skips when finished) one stage; false when interrupted.
  bool run_stage(const std::string& name, const StageConfig& st, const std::string& init,
                 StageResult& sr);
  Stage plan_stage(const std::string& name, const StageConfig& st) const;
  // The stage's resume state from its last checkpoint (model and optimizer loaded), or a fresh
  // state with the model initialized from `init` when given.
  StageState resume_or_initialize(const Stage& stage, const std::string& init, NetImpl& model,
                                  torch::optim::Optimizer& opt, StageResult& sr) const;
  // Trains the rest of epoch s.epoch; false when a stop request interrupted it (state saved).
  bool train_epoch(const Stage& stage, StageState& s, NetImpl& model, torch::optim::SGD& opt,
                   Clock::time_point epoch_start, double& lr, Clock::time_point& last_save) const;
  // Evaluates after an epoch, records it, saves best/last and metrics; false when interrupted.
  bool finish_epoch(const Stage& stage, StageState& s, NetImpl& model,
                    const torch::optim::Optimizer& opt, Clock::time_point epoch_start,
                    double seconds_before, double lr, Clock::time_point& last_save);

  TrainConfig c_;
  RunOptions o_;
  RunData data_;
  std::vector<EpochRecord> finished_history_;
  // Data parallelism (dist-train.h); a world of one when RunOptions::dist is a single process.
  std::unique_ptr<DataParallel> dp_;
  torch::Device device_ = torch::kCPU;
};

// The SGD optimizer of a stage: momentum/Nesterov, with weight decay only on the parameters the
// stage's wd_scheme selects (schedule.h).
std::unique_ptr<torch::optim::SGD> make_optimizer(NetImpl& model, const StageConfig& st);

}  // namespace f8net::qat::detail
