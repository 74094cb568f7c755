// `f8net eval --checkpoint`: evaluates a training checkpoint (LibTorch). cmd-eval.cc registers
// the eval command and calls this for --checkpoint; it is implemented in qat/eval-checkpoint.cc,
// compiled only when F8NET_HAVE_QAT. Errors throw f8net::cli::Error / UsageError.
#pragma once

#include <string>

namespace f8net::cli {

struct EvalCheckpointArgs {
  std::string checkpoint, data_dir;
  bool json;
  int threads;
};

// Prints the evaluation (top-1/top-5/loss/images; with json the last line is one JSON object)
// and returns the exit code (0).
int eval_checkpoint_main(const EvalCheckpointArgs& args);

}  // namespace f8net::cli
