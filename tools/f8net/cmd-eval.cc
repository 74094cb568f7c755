// `f8net eval (--model MODEL.f8 | --checkpoint CKPT) [--data DIR] [--json] [--threads N]`, and
// for --model [--dataset NAME] [--limit N] [--resize N]: --model evaluates an exported model
// with the integer runtime on any data set training reads (eval-model.h); --checkpoint
// evaluates a training checkpoint with LibTorch (eval-checkpoint.h, only when F8NET_HAVE_QAT).
#include <memory>

#include "commands.h"
#include "eval-model.h"
#ifdef F8NET_HAVE_QAT
#include "eval-checkpoint.h"
#endif

namespace f8net::cli {
namespace {

struct EvalArgs {
  std::string model, checkpoint, data_dir, dataset;
  bool json = false;
  int threads = 0;
  int64_t limit = 0, resize = 0;
};

void run_eval(const EvalArgs& a) {
  if (a.model.empty() == a.checkpoint.empty()) {
    throw UsageError("eval: give exactly one of --model and --checkpoint");
  }
  if (a.threads < 0) throw UsageError("eval: --threads must be >= 0");
  if (!a.model.empty()) {
    EvalModelArgs m;
    m.model = a.model;
    if (!a.dataset.empty()) m.data.dataset = a.dataset;
    if (!a.data_dir.empty()) m.data.dir = a.data_dir;
    m.data.val_limit = a.limit;
    m.data.resize = a.resize;
    m.json = a.json;
    m.threads = a.threads;
    eval_model_main(m);
    return;
  }
  if (a.limit != 0) throw UsageError("eval: --limit applies to --model only");
  if (!a.dataset.empty() || a.resize != 0) {
    throw UsageError(
        "eval: --dataset and --resize apply to --model only (a checkpoint names its data)");
  }
#ifdef F8NET_HAVE_QAT
  EvalCheckpointArgs c;
  c.checkpoint = a.checkpoint;
  c.data_dir = a.data_dir;
  c.json = a.json;
  c.threads = a.threads;
  eval_checkpoint_main(c);
#else
  throw Error(
      "eval --checkpoint: this build has no LibTorch (configure with -DF8NET_BUILD_QAT=ON)");
#endif
}

void add_eval(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Top-1/top-5 accuracy of an exported .f8 model (integer runtime) or a checkpoint");
  cmd->add_option("--model", args->model, "Exported .f8 model, run by the integer runtime");
  cmd->add_option("--checkpoint", args->checkpoint, "Training checkpoint (needs LibTorch)");
  cmd->add_option("--data", args->data_dir,
                  "Data directory (default for --model: /usr/share/datasets/fashion-mnist)");
  cmd->add_option("--dataset", args->dataset,
                  "--model only: fashion-mnist (default), mnist, cifar10 or imagefolder (DIR/val)")
      ->check(CLI::IsMember({"fashion-mnist", "mnist", "cifar10", "imagefolder"}));
  cmd->add_flag("--json", args->json, "Print the result as one JSON object on the last line");
  cmd->add_option("--threads", args->threads, "Threads (0 = all cores)")
      ->check(CLI::Range(0, kMaxThreads));
  cmd->add_option("--limit", args->limit,
                  "--model only: evaluate N test images, evenly strided (as data.val_limit)");
  cmd->add_option("--resize", args->resize,
                  "--model only: images of varying size get their shorter side resized to N "
                  "before the center crop (as data.resize; default: the model's input size)");
  cmd->callback([args] { run_eval(*args); });
}

}  // namespace

F8NET_REGISTER_COMMAND(20, add_eval);

}  // namespace f8net::cli
