// What a stage's checkpoint metadata and metrics.jsonl record (internal to f8net_qat): the
// per-epoch records and the stage progress a resume continues from, as JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "f8net/qat/models.h"
#include "f8net/qat/trainer.h"

namespace f8net::qat::detail {

// The "version" of the f8net checkpoint metadata.
constexpr int kCheckpointVersion = 1;

// Progress of one stage: everything a resume needs besides the tensors.
struct StageState {
  int64_t epoch = 0;      // current epoch, 0-based
  int64_t batch = 0;      // batches done in it
  int64_t iteration = 0;  // iterations done in the stage
  double loss_sum = 0;    // current epoch's training accumulators
  int64_t correct = 0, seen = 0;
  double epoch_seconds = 0;  // time already spent in the current epoch
  bool done = false;
  double best_top1 = -1, best_top5 = 0, best_loss = 0;
  int64_t best_epoch = 0;
  double final_top1 = 0, final_top5 = 0;
  std::vector<EpochRecord> history;
};

nlohmann::json to_json(const EpochRecord& r);
EpochRecord record_from_json(const nlohmann::json& j);
nlohmann::json state_to_json(const StageState& s);
// Throws nlohmann::json::exception on a missing or mistyped field.
StageState state_from_json(const nlohmann::json& j);
nlohmann::json model_to_json(const ModelOptions& m);

}  // namespace f8net::qat::detail
