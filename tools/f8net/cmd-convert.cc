// `f8net convert MODEL.f8 -o MODEL.onnx [--float-reference] [--require-exact] [--json]`: an
// existing runtime model as standard ONNX (docs/onnx.md). Runtime-only (no LibTorch); present
// when the ONNX exporter is built. The write is atomic; nothing is written on failure.
#ifdef F8NET_HAVE_ONNX
#include <iostream>
#include <memory>

#include "commands.h"
#include "f8net/rt/model-file.h"
#include "onnx-report.h"

namespace f8net::cli {
namespace {

struct ConvertArgs {
  std::string model;
  OnnxWriteArgs onnx;
  bool json = false;
};

void run_convert(const ConvertArgs& a) {
  rt::ModelDef model;
  const rt::Status st = rt::read_model_file(a.model, &model);
  if (!st) throw Error("convert: " + a.model + ": " + st.message());
  nlohmann::json j = write_onnx_or_throw(model, a.onnx, "convert");
  j["model"] = a.model;
  if (a.json) std::cout << j.dump() << std::endl;
}

void add_convert(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand("convert", "Write an .f8 model as ONNX (QDQ, exact in ORT)");
  cmd->add_option("model", args->model, "The .f8 model")->required();
  cmd->add_option("-o,--output", args->onnx.output, "The .onnx file to write")->required();
  cmd->add_flag("--float-reference", args->onnx.float_reference,
                "Write a float32 model of the same architecture instead (speed reference, NOT "
                "exact)");
  cmd->add_flag("--require-exact", args->onnx.require_exact,
                "Refuse to write unless ORT provably reproduces the logits bit for bit");
  cmd->add_flag("--json", args->json, "Print a JSON object as the last line");
  cmd->callback([args] { run_convert(*args); });
}

}  // namespace

F8NET_REGISTER_COMMAND(35, add_convert);

}  // namespace f8net::cli
#endif
