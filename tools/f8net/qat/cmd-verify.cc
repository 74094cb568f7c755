// `f8net verify --checkpoint CKPT --model model.f8 [--data DIR] [--limit N] [--json]`: prints
// what qat::verify_runtime (f8net/qat/verify.h) counts — the runtime against the checkpoint's
// exact evaluation and float32 simulation. Exits 1 when any logit is not bit-exact.
// With --onnx MODEL.onnx it checks ONNX Runtime against the .f8 model instead (onnx-verify.h;
// --checkpoint is then optional: given, both checks run).
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli-util.h"
#include "commands.h"
#include "f8net/qat/checkpoint-model.h"
#include "f8net/qat/verify.h"
#include "onnx-verify.h"
#include "progress.h"

namespace f8net::cli {
namespace {

struct VerifyArgs {
  std::string checkpoint, model, data_dir;
  OnnxVerifyArgs onnx;
  bool json = false;
  int threads = 0;
  int64_t limit = 0;
  int64_t batch = 200;
};

void run_verify(const VerifyArgs& args) {
  if (!args.onnx.onnx.empty()) {
    OnnxVerifyArgs o = args.onnx;
    o.model = args.model;
    o.json = args.json;
    o.threads = args.threads;
    o.limit = args.limit;
    if (!args.data_dir.empty()) o.data_dir = args.data_dir;
    onnx_verify_main(o);
    if (args.checkpoint.empty()) return;
  }
  if (args.checkpoint.empty()) throw UsageError("verify: --checkpoint is required");
  if (args.model.empty()) throw UsageError("verify: --model is required");
  qat::CheckpointModel cm;
  try {
    cm = qat::open_checkpoint_model(args.checkpoint, args.data_dir, args.threads);
  } catch (const std::exception& e) {
    throw Error(std::string("verify: ") + e.what());
  }
  if (cm.options.quant.mode != qat::Mode::kFixed) {
    throw Error("verify: " + args.checkpoint + " is a " + cm.mode + " model, not fixed-point");
  }
  rt::Interpreter it;
  load_interpreter(args.model, args.threads, &it);
  Progress progress(10.0);
  qat::VerifyOptions vo;
  vo.limit = args.limit;
  vo.batch = args.batch;
  vo.progress = [&](int64_t done, int64_t total) { progress.evaluating("verify", done, total); };
  qat::VerifyReport n;
  try {
    n = qat::verify_runtime(cm, it, vo);
  } catch (const std::exception& e) {
    throw Error("verify: " + args.model + ": " + e.what());
  }
  progress.clear();
  auto pct = [&](int64_t k) { return n.images ? 100.0 * k / n.images : 0.0; };
  std::cout << "verify " << args.model << " against " << args.checkpoint << " on " << n.images
            << " images:\n"
            << "  bit-exact logits:       " << n.bit_exact << "/" << n.images << " images ("
            << n.logits_bit_exact << "/" << n.logits << " logits)\n"
            << "  top-1 agrees with float64 exact eval:   " << n.top1_agree << "/" << n.images
            << "\n"
            << "  top-1 agrees with float32 simulation:   " << n.top1_agree_float32 << "/"
            << n.images << "\n"
            << "  top-1 accuracy: runtime " << pct(n.correct_runtime) << "%, exact "
            << pct(n.correct_exact) << "%, float32 " << pct(n.correct_float32) << "%\n";
  if (args.json) {
    const nlohmann::json j = {{"images", n.images},
                              {"bit_exact", n.bit_exact},
                              {"top1_agree", n.top1_agree},
                              {"top1_agree_float32", n.top1_agree_float32},
                              {"logits", n.logits},
                              {"logits_bit_exact", n.logits_bit_exact},
                              {"top1_runtime", pct(n.correct_runtime)},
                              {"top1_exact", pct(n.correct_exact)},
                              {"top1_float32", pct(n.correct_float32)}};
    std::cout << j.dump() << std::endl;
  }
  if (n.images == 0) throw Error("verify: no images were verified");
  if (n.bit_exact != n.images) {
    throw Error("verify: " + std::to_string(n.images - n.bit_exact) + " of " +
                std::to_string(n.images) + " images have logits that differ from the exact eval");
  }
}

void add_verify(CLI::App& app) {
  auto args = std::make_shared<VerifyArgs>();
  CLI::App* cmd = app.add_subcommand(
      "verify", "Check that an .f8 model reproduces its checkpoint's evaluation bit for bit");
  cmd->add_option("--checkpoint", args->checkpoint,
                  "Training checkpoint (fixed mode; optional with --onnx)");
  cmd->add_option("--model", args->model, "The exported .f8 model");
  cmd->add_option("--onnx", args->onnx.onnx,
                  "Check this ONNX model in ONNX Runtime against --model instead, bit for bit");
  cmd->add_option("--node", args->onnx.node, "node executable for --onnx (default: node)");
  cmd->add_option("--ort-run", args->onnx.ort_run,
                  "tools/onnx/ort-run.js for --onnx (default: $F8NET_ORT_RUN or the build's)");
  cmd->add_option("--data", args->data_dir, "Data directory (default: the checkpoint's)");
  cmd->add_option("--limit", args->limit, "Verify only the first N images (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", args->threads, "Threads (0: all cores)")
      ->check(CLI::Range(0, kMaxThreads));
  cmd->add_flag("--json", args->json, "Print a JSON object as the last line of stdout");
  cmd->callback([args] { run_verify(*args); });
}

}  // namespace

F8NET_REGISTER_COMMAND(40, add_verify);

}  // namespace f8net::cli
