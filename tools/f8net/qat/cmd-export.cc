// `f8net export --checkpoint CKPT -o model.f8|model.onnx [--format f8|onnx] [--data DIR] [--json]`:
// writes a fixed-mode training checkpoint as an integer-only .f8 model (the integer view of its
// exact evaluation, translated by qat::to_runtime_model) or as ONNX (the same runtime model through
// the ONNX writer, docs/onnx.md), atomically. Nothing is written when anything fails.
#include <chrono>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "f8net/qat/checkpoint-model.h"
#include "f8net/qat/config.h"
#include "f8net/qat/export.h"
#include "f8net/qat/runtime-metadata.h"
#include "f8net/qat/runtime-model.h"
#include "f8net/rt/model-file.h"
#include "onnx-report.h"

namespace f8net::cli {
namespace {

struct ExportArgs {
  std::string checkpoint, output, data_dir, format;
  bool json = false, float_reference = false, require_exact = false;
  int threads = 0;
};

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

void run_export(const ExportArgs& args) {
  const std::string format = !args.format.empty()              ? args.format
                             : ends_with(args.output, ".onnx") ? "onnx"
                                                               : "f8";
  if (format != "f8" && format != "onnx") {
    throw UsageError("export: --format must be f8 or onnx, not " + format);
  }
  if (format == "f8" && (args.float_reference || args.require_exact)) {
    throw UsageError("export: --float-reference and --require-exact apply to --format onnx");
  }
#ifndef F8NET_HAVE_ONNX
  if (format == "onnx") {
    throw Error(
        "export: this f8net was built without the ONNX exporter (install libonnx-dev "
        "and libprotobuf-dev, then reconfigure)");
  }
#endif
  qat::CheckpointModel cm;
  try {
    cm = qat::open_checkpoint_model(args.checkpoint, args.data_dir, args.threads);
  } catch (const std::exception& e) {
    throw Error(std::string("export: ") + e.what());
  }
  if (cm.options.quant.mode != qat::Mode::kFixed) {
    throw Error("export: " + args.checkpoint + " is a " + cm.mode +
                " model; only fixed-point (mode: fixed) models run on the integer runtime");
  }
  rt::ModelDef model;
  try {
    model = qat::to_runtime_model(qat::exact_graph(*cm.model),
                                  qat::runtime_metadata(cm, args.checkpoint));
  } catch (const std::exception& e) {
    throw Error(std::string("export: ") + e.what());
  }
  nlohmann::json onnx_summary;
  if (format == "onnx") {
#ifdef F8NET_HAVE_ONNX
    onnx_summary = write_onnx_or_throw(
        model, OnnxWriteArgs{args.output, args.float_reference, args.require_exact}, "export");
#endif
  } else {
    const rt::Status st = rt::write_model_file(model, args.output);
    if (!st) throw Error("export: " + st.message());
  }
  rt::GraphInfo info;
  (void)rt::validate_model(model, &info);
  int64_t macs = 0, wide = 0;
  for (const rt::OpInfo& op : info.ops) {
    macs += op.macs;
    wide += op.wide_multiplications;
  }
  std::cout << "exported " << cm.options.arch << " (" << model.ops.size() << " ops, " << macs
            << " 8-bit MACs, " << wide << " wider multiplications) to " << args.output << "\n";
  if (args.json) {
    nlohmann::json j = {{"model", args.output},
                        {"checkpoint", args.checkpoint},
                        {"arch", cm.options.arch},
                        {"ops", model.ops.size()},
                        {"macs", macs},
                        {"wide_multiplications", wide},
                        {"format", format}};
    if (format == "onnx") j["onnx_export"] = onnx_summary;
    std::cout << j.dump() << std::endl;
  }
}

void add_export(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "export", "Write a fixed-point training checkpoint as an integer-only .f8 model");
  cmd->add_option("--checkpoint", args->checkpoint, "Training checkpoint (fixed mode)")->required();
  cmd->add_option("-o,--output", args->output, "The .f8 or .onnx file to write")->required();
  cmd->add_option("--format", args->format, "f8 or onnx (default: from the output's extension)");
  cmd->add_flag("--float-reference", args->float_reference,
                "ONNX: a float32 model of the same architecture (speed reference, NOT exact)");
  cmd->add_flag("--require-exact", args->require_exact,
                "ONNX: refuse unless ORT provably reproduces the logits bit for bit");
  cmd->add_option("--data", args->data_dir,
                  "Data directory (for class names; default: the one in the checkpoint)");
  cmd->add_option("--threads", args->threads, "LibTorch threads (0: all cores)")
      ->check(CLI::Range(0, kMaxThreads));
  cmd->add_flag("--json", args->json, "Print a JSON object as the last line");
  cmd->callback([args] { run_export(*args); });
}

}  // namespace

F8NET_REGISTER_COMMAND(30, add_export);

}  // namespace f8net::cli
