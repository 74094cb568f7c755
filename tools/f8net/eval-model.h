// `f8net eval --model MODEL.f8`: top-1/top-5 accuracy and throughput of an .f8 model on the
// Fashion-MNIST IDX test files, run by the integer runtime (no LibTorch). cmd-eval.cc calls this.
// Errors throw f8net::cli::Error / UsageError.
#pragma once

#include <cstdint>
#include <string>

namespace f8net::cli {

struct EvalModelArgs {
  std::string model;
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  bool json = false;
  int threads = 0;    // 0: all hardware threads
  int64_t limit = 0;  // evaluate only the first `limit` images (0: all)
};

// Prints a summary line (with json, then one JSON object as the last line); returns 0.
int eval_model_main(const EvalModelArgs& args);

}  // namespace f8net::cli
