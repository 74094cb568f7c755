// Source names of imported weights (import-map.h). torchvision: ResNet conv1/bn1, layerS.I.convJ/
// bnJ, downsample.0/1, fc; MobileNet-V2 features.K (Conv2dNormActivation = .0 conv, .1 BN; the
// projection is a bare conv + BN), classifier.1. pytorchcv: features.init_block, stageS.unitU
// (body.convJ / identity_conv for ResNets, dw_conv / pw_conv for MobileNet), output.
#include "import-map.h"

#include <map>
#include <stdexcept>

namespace f8net::qat::detail {
namespace {

struct Layer {
  std::string conv_weight;  // the conv's weight
  std::string bn;           // the BatchNorm2d prefix (weight, bias, running_mean, running_var)
};

void add_conv(std::vector<TensorSource>& out, const std::string& f8net, const Layer& src) {
  out.push_back({f8net + ".weight", src.conv_weight});
  out.push_back({f8net + ".bn_weight", src.bn + ".weight"});
  out.push_back({f8net + ".bn_bias", src.bn + ".bias"});
  out.push_back({f8net + ".running_mean", src.bn + ".running_mean"});
  out.push_back({f8net + ".running_var", src.bn + ".running_var"});
}

std::string sblock(size_t b) { return "blocks." + std::to_string(b); }

}  // namespace

ImportArch import_arch(const std::string& from, const std::string& arch) {
  static const std::map<std::string, std::vector<int>> resnet_units = {
      {"resnet18", {2, 2, 2, 2}},
      {"resnet34", {3, 4, 6, 3}},
      {"resnet50", {3, 4, 6, 3}},
      {"resnet101", {3, 4, 23, 3}},
      {"resnet152", {3, 8, 36, 3}}};
  ImportArch a;
  if (from == "torchvision") {
    if (resnet_units.count(arch)) {
      a.f8net_arch = arch;
      a.units = resnet_units.at(arch);
      a.stem_key = "conv1.weight";
      a.classifier_key = "fc.weight";
      return a;
    }
    if (arch == "mobilenet_v2") {
      a.f8net_arch = arch;
      a.relu6 = true;
      a.stem_key = "features.0.0.weight";
      a.classifier_key = "classifier.1.weight";
      return a;
    }
    throw std::invalid_argument("unknown torchvision arch '" + arch +
                                "' (resnet18, resnet34, resnet50, resnet101, resnet152, "
                                "mobilenet_v2)");
  }
  if (from == "pytorchcv") {
    std::string base = arch;
    const bool b_variant = arch.size() > 1 && arch.back() == 'b';
    if (b_variant) base.pop_back();
    if (resnet_units.count(base) &&
        (!b_variant || base == "resnet50" || base == "resnet101" || base == "resnet152")) {
      a.f8net_arch = base;
      a.units = resnet_units.at(base);
      // pytorchcv's plain bottleneck ResNets stride their first 1x1 conv (conv1_stride=True).
      const bool bottleneck = base != "resnet18" && base != "resnet34";
      a.resnet_variant = bottleneck && !b_variant ? "v1" : "v1.5";
      a.stem_key = "features.init_block.conv.conv.weight";
      a.classifier_key = "output.weight";
      return a;
    }
    if (arch == "mobilenet_w1") {
      a.f8net_arch = "mobilenet_v1";
      a.units = {1, 2, 2, 6, 2};
      a.stem_key = "features.init_block.conv.weight";
      a.classifier_key = "output.weight";
      return a;
    }
    throw std::invalid_argument("unknown pytorchcv arch '" + arch +
                                "' (resnet18, resnet34, resnet50, resnet50b, resnet101, "
                                "resnet101b, resnet152, resnet152b, mobilenet_w1)");
  }
  throw std::invalid_argument("unknown source '" + from + "' (torchvision, pytorchcv)");
}

std::vector<TensorSource> import_mapping(const std::string& from, const ImportArch& arch,
                                         const std::vector<int>& convs_per_block,
                                         const std::vector<bool>& has_shortcut) {
  std::vector<TensorSource> out;
  const bool tv = from == "torchvision";
  const bool mobilenet = arch.f8net_arch.rfind("mobilenet", 0) == 0;
  auto check = [&](bool ok) {
    if (!ok) throw std::logic_error("import mapping: unexpected " + arch.f8net_arch + " layout");
  };
  // Stem.
  if (tv && mobilenet) {
    add_conv(out, "stem", {"features.0.0.weight", "features.0.1"});
  } else if (tv) {
    add_conv(out, "stem", {"conv1.weight", "bn1"});
  } else if (mobilenet) {
    add_conv(out, "stem", {"features.init_block.conv.weight", "features.init_block.bn"});
  } else {
    add_conv(out, "stem", {"features.init_block.conv.conv.weight", "features.init_block.conv.bn"});
  }
  // Blocks.
  if (tv && mobilenet) {
    // features.1 ... features.17 are the inverted residuals, features.18 the 1x1 tail conv.
    check(convs_per_block.size() == 18);
    for (size_t b = 0; b < convs_per_block.size(); ++b) {
      const std::string f = "features." + std::to_string(b + 1);
      const int n = convs_per_block[b];
      check(!has_shortcut[b]);
      if (b + 1 == convs_per_block.size()) {
        check(n == 1);
        add_conv(out, sblock(b) + ".convs.0", {f + ".0.weight", f + ".1"});
        continue;
      }
      for (int j = 0; j + 1 < n; ++j) {  // Conv2dNormActivation blocks
        const std::string c = f + ".conv." + std::to_string(j);
        add_conv(out, sblock(b) + ".convs." + std::to_string(j), {c + ".0.weight", c + ".1"});
      }
      add_conv(
          out, sblock(b) + ".convs." + std::to_string(n - 1),
          {f + ".conv." + std::to_string(n - 1) + ".weight", f + ".conv." + std::to_string(n)});
    }
  } else {
    size_t b = 0;
    for (size_t s = 0; s < arch.units.size(); ++s) {
      for (int u = 0; u < arch.units[s]; ++u, ++b) {
        check(b < convs_per_block.size());
        const int n = convs_per_block[b];
        const std::string block = sblock(b);
        if (mobilenet) {
          check(n == 2 && !has_shortcut[b]);
          const std::string p =
              "features.stage" + std::to_string(s + 1) + ".unit" + std::to_string(u + 1);
          add_conv(out, block + ".convs.0", {p + ".dw_conv.conv.weight", p + ".dw_conv.bn"});
          add_conv(out, block + ".convs.1", {p + ".pw_conv.conv.weight", p + ".pw_conv.bn"});
          continue;
        }
        const std::string p =
            tv ? "layer" + std::to_string(s + 1) + "." + std::to_string(u)
               : "features.stage" + std::to_string(s + 1) + ".unit" + std::to_string(u + 1);
        for (int j = 0; j < n; ++j) {
          const std::string jj = std::to_string(j + 1);
          add_conv(
              out, block + ".convs." + std::to_string(j),
              tv ? Layer{p + ".conv" + jj + ".weight", p + ".bn" + jj}
                 : Layer{p + ".body.conv" + jj + ".conv.weight", p + ".body.conv" + jj + ".bn"});
        }
        if (has_shortcut[b]) {
          add_conv(out, block + ".shortcut",
                   tv ? Layer{p + ".downsample.0.weight", p + ".downsample.1"}
                      : Layer{p + ".identity_conv.conv.weight", p + ".identity_conv.bn"});
        }
      }
    }
    check(b == convs_per_block.size());
  }
  // Classifier.
  const std::string fc = tv ? (mobilenet ? "classifier.1" : "fc") : "output";
  out.push_back({"fc.weight", fc + ".weight"});
  out.push_back({"fc.bias", fc + ".bias"});
  return out;
}

}  // namespace f8net::qat::detail
