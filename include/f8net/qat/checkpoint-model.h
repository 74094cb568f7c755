// A trained model rebuilt from an f8net training checkpoint, with the data it was trained on: what
// `eval --checkpoint`, `export` and `verify` start from. The checkpoint's embedded config and
// metadata say which model to build and how its validation images are transformed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "f8net/data/dataset.h"
#include "f8net/data/transform.h"
#include "f8net/qat/config.h"
#include "f8net/qat/models.h"

namespace f8net::qat {

struct CheckpointModel {
  Net model;  // parameters and buffers loaded, in eval() mode
  ModelOptions options;
  TrainConfig config;                        // the embedded config (data.dir possibly overridden)
  std::string mode, stage;                   // "fixed"/"float"/"fp_pact"; "pretrain"/"train"
  std::shared_ptr<const data::Dataset> val;  // the validation split, checked to fit the model
  data::TransformOptions val_transform;
};

// Opens `path` (a checkpoint written by run_training). `data_dir` (when not empty) replaces the
// recorded data directory. Sets LibTorch's thread count to `threads` (0: the config's, 0 there:
// all cores). Throws std::runtime_error with a one-line message for foreign or corrupt files,
// missing data, or data that does not fit the model.
CheckpointModel open_checkpoint_model(const std::string& path, const std::string& data_dir,
                                      int64_t threads);

}  // namespace f8net::qat
