// `f8net eval --checkpoint CKPT [--data DIR] [--json] [--threads N]`: top-1/top-5/loss of a
// training checkpoint on its data set's validation split (eval-checkpoint.h).
#include "eval-checkpoint.h"

#include <cstdio>
#include <iostream>

#include "commands.h"
#include "f8net/qat/trainer.h"
#include "progress.h"
#include "report.h"

namespace f8net::cli {

int eval_checkpoint_main(const EvalCheckpointArgs& args) {
  if (args.checkpoint.empty()) throw UsageError("eval: --checkpoint is empty");
  if (args.threads < 0) throw UsageError("eval: --threads must be >= 0");
  Progress progress(10.0);
  qat::EvalOptions options;
  options.checkpoint = args.checkpoint;
  options.data_dir = args.data_dir;
  options.threads = args.threads;
  options.observer = &progress;
  qat::EvalResult r;
  try {
    r = qat::evaluate_checkpoint(options);
  } catch (const std::exception& e) {
    progress.clear();
    throw Error(std::string("eval: ") + e.what());
  }
  progress.clear();
  char line[300];
  std::snprintf(line, sizeof(line),
                "%s (%s, %s stage) on %s: top-1 %.2f%%, top-5 %.2f%%, loss %.4f, %lld images\n",
                r.arch.c_str(), r.mode.c_str(), r.stage.c_str(), r.dataset.c_str(), r.top1, r.top5,
                r.loss, static_cast<long long>(r.images));
  std::cout << line;
  if (!r.layers.empty()) print_layer_table(std::cout, r.layers);
  if (args.json) {
    const nlohmann::json j = {{"top1", r.top1},
                              {"top5", r.top5},
                              {"loss", r.loss},
                              {"images", r.images},
                              {"arch", r.arch},
                              {"mode", r.mode},
                              {"stage", r.stage},
                              {"dataset", r.dataset},
                              {"checkpoint", args.checkpoint},
                              {"layers", layers_json(r.layers)}};
    std::cout << j.dump() << std::endl;
  }
  return 0;
}

}  // namespace f8net::cli
