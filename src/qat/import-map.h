// The explicit name mapping of imported weights (import-map.cc): for each supported torchvision
// and pytorchcv model, which source tensors become each f8net conv+BN layer and the classifier.
// Internal to f8net_qat (import.cc). Every f8net tensor except alpha and input_fraclen (F8Net's
// own state, left at their initial values) has exactly one source.
#pragma once

#include <string>
#include <vector>

namespace f8net::qat::detail {

// What an import arch is in f8net terms.
struct ImportArch {
  std::string f8net_arch;  // models.h name
  std::string resnet_variant = "v1.5";
  bool relu6 = false;          // torchvision MobileNet-V2
  std::vector<int> units;      // blocks per stage (pytorchcv numbers units per stage)
  std::string stem_key;        // the source's stem conv weight (channels, kernel)
  std::string classifier_key;  // the source's classifier weight (num_classes)
};

// Throws std::invalid_argument naming the accepted names for an unknown source or arch.
ImportArch import_arch(const std::string& from, const std::string& arch);

// One f8net tensor and the source tensor it is copied from.
struct TensorSource {
  std::string f8net;
  std::string source;
};

// The mapping for `from`/`arch` onto the f8net network of that family, described by the number
// of convs of each block and whether it has a projection shortcut (f8net names: "stem",
// "blocks.<i>.convs.<j>", "blocks.<i>.shortcut", "fc"). Throws std::logic_error if the layout is
// not the family's (a bug, not bad input).
std::vector<TensorSource> import_mapping(const std::string& from, const ImportArch& arch,
                                         const std::vector<int>& convs_per_block,
                                         const std::vector<bool>& has_shortcut);

}  // namespace f8net::qat::detail
