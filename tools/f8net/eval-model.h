// `f8net eval --model MODEL.f8`: top-1/top-5 accuracy and throughput of an .f8 model run by the
// integer runtime (no LibTorch) on the test split of any data set `train` reads (f8net_data:
// Fashion-MNIST/MNIST IDX, CIFAR-10 binary, ImageFolder val/), through the model's own
// preprocessing. cmd-eval.cc calls this. Errors throw f8net::cli::Error / UsageError.
#pragma once

#include <string>

#include "f8net/data/options.h"

namespace f8net::cli {

struct EvalModelArgs {
  std::string model;
  // dataset, dir, val_limit (--limit: an evenly strided subset, as in training) and resize
  // (variable-size images: the shorter side before the center crop; 0 = the model's size).
  data::DataOptions data;
  bool json = false;
  int threads = 0;  // 0: all hardware threads
};

// Prints a summary line (with json, then one JSON object as the last line); returns 0.
int eval_model_main(const EvalModelArgs& args);

}  // namespace f8net::cli
