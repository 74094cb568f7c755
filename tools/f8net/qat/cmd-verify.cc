// `f8net verify --checkpoint CKPT --model model.f8 [--data DIR] [--limit N] [--json]`: runs the
// checkpoint's float64 exact evaluation, its float32 simulation and the integer runtime on every
// validation image and counts agreement (F8NET.md decision 3). The runtime is fed the same input
// codes the exact evaluation quantizes its input to. Exits 1 when any logit is not bit-exact.
// With --onnx MODEL.onnx it checks ONNX Runtime against the .f8 model instead (onnx-verify.h;
// --checkpoint is then optional: given, both checks run).
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli-util.h"
#include "commands.h"
#include "f8net/fixed.h"
#include "f8net/qat/checkpoint-model.h"
#include "f8net/qat/export.h"
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

struct Counts {
  int64_t images = 0, bit_exact = 0, top1_agree = 0, top1_agree_float32 = 0;
  int64_t correct_runtime = 0, correct_exact = 0, correct_float32 = 0;
  int64_t logits = 0, logits_exact = 0;
};

// Index of the first maximum of n values.
template <typename T>
int64_t argmax(const T* v, int64_t n) {
  int64_t best = 0;
  for (int64_t k = 1; k < n; ++k) {
    if (v[k] > v[best]) best = k;
  }
  return best;
}

// The input codes of one image, as the exact evaluation's input node computes them: raw images
// code = rne(255 x) in [0, 255]; normalized ones code = saturate(rne(x * 2^FL)).
void input_codes(const float* x, int64_t count, const rt::InputDef& in, bool raw01, void* codes) {
  const fixed::Format f{8, raw01 ? 0 : in.frac_bits, in.dtype == rt::DType::kInt8};
  for (int64_t i = 0; i < count; ++i) {
    const int32_t c = fixed::quantize(raw01 ? 255.0 * x[i] : static_cast<double>(x[i]), f);
    if (f.is_signed) {
      static_cast<int8_t*>(codes)[i] = static_cast<int8_t>(c);
    } else {
      static_cast<uint8_t*>(codes)[i] = static_cast<uint8_t>(c);
    }
  }
}

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
  const rt::InputDef& in = it.model().input;
  const int64_t channels = cm.options.in_channels, size = cm.options.input_size;
  if (in.shape.c != channels || in.shape.h != size || in.shape.w != size) {
    throw Error("verify: " + args.model + " takes " + std::to_string(in.shape.c) + "x" +
                std::to_string(in.shape.h) + "x" + std::to_string(in.shape.w) +
                " input but the checkpoint's model takes " + std::to_string(channels) + "x" +
                std::to_string(size) + "x" + std::to_string(size));
  }
  const bool raw01 = it.model().metadata.preprocessing.mode == rt::Preprocess::kRaw01;
  if (raw01 == cm.options.quant.normalize_input) {
    throw Error("verify: " + args.model + " and the checkpoint disagree on input normalization");
  }
  const int64_t classes = cm.options.num_classes;

  qat::LoaderOptions lo;
  lo.batch_size = args.batch;
  lo.workers = cm.config.data.workers;
  lo.prefetch = cm.config.data.prefetch;
  qat::BatchLoader loader(cm.val, cm.val_transform, lo);
  Progress progress(10.0);
  torch::NoGradGuard no_grad;
  Counts n;
  qat::Batch batch;
  const int64_t per_image = channels * size * size;
  while ((args.limit == 0 || n.images < args.limit) && loader.next(batch)) {
    const int64_t take = args.limit > 0 ? std::min(batch.n, args.limit - n.images) : batch.n;
    const torch::Tensor x =
        torch::from_blob(batch.images.data(), {batch.n, batch.c, batch.h, batch.w}, torch::kFloat)
            .narrow(0, 0, take);
    torch::Tensor exact, sim;
    try {
      exact = qat::exact_eval(*cm.model, x).contiguous();
      sim = cm.model->forward(x).to(torch::kDouble).contiguous();
    } catch (const c10::Error& e) {
      throw Error("verify: LibTorch: " + std::string(e.what_without_backtrace()));
    }
    for (int64_t i = 0; i < take; ++i) {
      input_codes(batch.images.data() + i * per_image, per_image, in, raw01, it.input_data());
      const rt::Status st = it.run();
      if (!st) throw Error("verify: " + args.model + ": " + st.message());
      const rt::TensorView out = it.output();
      if (out.shape.elements() != classes) {
        throw Error("verify: " + args.model + " has " + std::to_string(out.shape.elements()) +
                    " outputs but the checkpoint's model has " + std::to_string(classes));
      }
      std::vector<double> got(static_cast<size_t>(classes));
      for (int64_t k = 0; k < classes; ++k) got[static_cast<size_t>(k)] = logit_value(out, k);
      const double* e = exact.data_ptr<double>() + i * classes;
      const double* s = sim.data_ptr<double>() + i * classes;
      int64_t same = 0;
      for (int64_t k = 0; k < classes; ++k) same += got[static_cast<size_t>(k)] == e[k];
      const int64_t label = batch.labels[static_cast<size_t>(i)];
      const int64_t top_rt = argmax(got.data(), classes);
      ++n.images;
      n.logits += classes;
      n.logits_exact += same;
      n.bit_exact += same == classes;
      n.top1_agree += top_rt == argmax(e, classes);
      n.top1_agree_float32 += top_rt == argmax(s, classes);
      n.correct_runtime += top_rt == label;
      n.correct_exact += argmax(e, classes) == label;
      n.correct_float32 += argmax(s, classes) == label;
    }
    progress.evaluating("verify", batch.index + 1, loader.num_batches());
  }
  progress.clear();
  auto pct = [&](int64_t k) { return n.images ? 100.0 * k / n.images : 0.0; };
  std::cout << "verify " << args.model << " against " << args.checkpoint << " on " << n.images
            << " images:\n"
            << "  bit-exact logits:       " << n.bit_exact << "/" << n.images << " images ("
            << n.logits_exact << "/" << n.logits << " logits)\n"
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
                              {"logits_bit_exact", n.logits_exact},
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
