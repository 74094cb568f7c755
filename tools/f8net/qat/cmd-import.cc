// `f8net import --from torchvision|pytorchcv --arch A WEIGHTS -o OUT [--strict false]
// [--num-classes N] [--stem imagenet|cifar] [--set key=value]... [--json]`: a PyTorch state dict
// (torch.save file) becomes an f8net float checkpoint (qat::import_weights, docs/import.md).
// The command only parses and prints; nothing is written unless every tensor checked out.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli-util.h"
#include "commands.h"
#include "f8net/qat/import.h"

namespace f8net::cli {
namespace {

struct ImportArgs {
  qat::ImportOptions o;
  std::string strict = "true";
  bool json = false;
};

void run_import(ImportArgs& args) {
  if (args.strict != "true" && args.strict != "false") {
    throw UsageError("import: --strict must be true or false");
  }
  args.o.strict = args.strict == "true";
  qat::ImportReport r;
  try {
    r = qat::import_weights(args.o);
  } catch (const std::exception& e) {
    throw Error(std::string("import: ") + e.what());
  }
  std::cerr << "imported " << r.tensors_imported << " tensors of " << args.o.from << " "
            << args.o.arch << " into f8net " << r.model.arch << " (" << r.model.num_classes
            << " classes, " << r.model.in_channels << "x" << r.model.input_size << "x"
            << r.model.input_size << " input, float): " << args.o.out << "\n";
  if (!r.ignored.empty()) {
    std::cerr << "  ignored " << r.ignored.size() << " BN num_batches_tracked counters\n";
  }
  for (const auto& k : r.skipped) std::cerr << "  skipped (not used): " << printable(k) << "\n";
  for (const auto& k : r.kept_init)
    std::cerr << "  kept f8net's initialization: " << printable(k) << "\n";
  for (const auto& n : r.notes) std::cerr << "  note: " << n << "\n";
  if (args.json) {
    std::cout << json_text({{"checkpoint", args.o.out},
                            {"arch", r.model.arch},
                            {"num_classes", r.model.num_classes},
                            {"input_size", r.model.input_size},
                            {"tensors", r.tensors_imported},
                            {"skipped", r.skipped},
                            {"kept_init", r.kept_init}})
              << "\n";
  }
}

void add_import(CLI::App& app) {
  auto args = std::make_shared<ImportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "import",
      "Import a PyTorch state dict (torchvision, pytorchcv) as an f8net float checkpoint");
  cmd->add_option("--from", args->o.from, "Naming of the weights: torchvision or pytorchcv")
      ->required()
      ->check(CLI::IsMember({"torchvision", "pytorchcv"}));
  cmd->add_option("--arch", args->o.arch,
                  "Source model: torchvision resnet18|34|50|101|152, mobilenet_v2; pytorchcv "
                  "resnet18|34|50|50b|101|101b|152|152b, mobilenet_w1")
      ->required();
  cmd->add_option("weights", args->o.weights, "The torch.save state dict (.pth)")->required();
  cmd->add_option("-o,--output", args->o.out, "The f8net checkpoint to write")->required();
  cmd->add_option("--strict", args->strict,
                  "true (default): a missing, extra or mis-shaped tensor is an error; false: "
                  "skip and list them");
  cmd->add_option("--num-classes", args->o.num_classes,
                  "Classes of the f8net model (default: the source classifier's)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--stem", args->o.stem,
                  "ResNet stem: imagenet (7x7/2 conv1 + max pool, default) or cifar (3x3/1 "
                  "conv1, no max pool)")
      ->check(CLI::IsMember({"imagenet", "cifar"}));
  cmd->add_option("--set", args->o.overrides,
                  "key=value of the embedded config (the data `eval --checkpoint` reads), e.g. "
                  "data.dir=/data/imagenet");
  cmd->add_flag("--json", args->json, "Print one JSON line on stdout");
  cmd->callback([args] { run_import(*args); });
}

}  // namespace

F8NET_REGISTER_COMMAND(15, add_import);

}  // namespace f8net::cli
