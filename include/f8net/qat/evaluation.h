// Evaluating and re-calibrating trained checkpoints (`f8net eval --checkpoint`, `f8net calibrate`)
// and the formats a quantized model's layers use. No LibTorch types here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "f8net/qat/progress.h"

namespace f8net::qat {

// The formats one quantized layer uses at evaluation (fixed mode).
struct LayerFormat {
  std::string name;  // module path, e.g. "features.0.convs.0"
  std::string kind;  // "conv", "depthwise" or "fc"
  int input_fl = 0;  // FL of the layer's input codes
  bool input_signed = false;
  bool input_raw = false;                    // the raw-image first layer (code = rne(255x), FL 8)
  int weight_fl_min = 0, weight_fl_max = 0;  // equal unless per-channel
};

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

}  // namespace f8net::qat
