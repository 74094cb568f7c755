// What training and evaluation report while they run: per-iteration progress, per-epoch records
// (one line of metrics.jsonl each) and the observer that receives them. No LibTorch types here.
#pragma once

#include <cstdint>
#include <string>

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

}  // namespace f8net::qat
