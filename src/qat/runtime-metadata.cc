// Implementation of f8net/qat/runtime-metadata.h. The preprocessing written here must be what
// training fed the model: raw [0,1] images (code = pixel) or (pixel/255 - mean) / std per channel.
#include "f8net/qat/runtime-metadata.h"

#include <ctime>
#include <stdexcept>

namespace f8net::qat {

rt::Metadata runtime_metadata(const CheckpointModel& cm, const std::string& checkpoint_path) {
  rt::Metadata meta;
  meta.name = cm.options.arch + " (" + cm.config.data.dataset + ")";
  rt::Preprocessing& pre = meta.preprocessing;
  pre.replicate_gray = cm.val->channels() == 1 && cm.options.in_channels > 1;
  if (cm.options.quant.normalize_input) {
    if (cm.options.in_channels > 3) {
      throw std::runtime_error("normalized inputs with more than 3 channels are not supported");
    }
    pre.mode = rt::Preprocess::kNormalized;
    const auto mean = effective_mean(cm.config.data, cm.options.in_channels);
    const auto sd = effective_std(cm.config.data, cm.options.in_channels);
    for (int64_t c = 0; c < cm.options.in_channels; ++c) {
      pre.mean[static_cast<size_t>(c)] = static_cast<float>(mean[static_cast<size_t>(c)]);
      pre.std[static_cast<size_t>(c)] = static_cast<float>(sd[static_cast<size_t>(c)]);
    }
  } else {
    pre.mode = rt::Preprocess::kRaw01;
  }
  meta.class_names = cm.val->class_names();
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  meta.provenance = {{"exporter", "f8net 0.1.0"},
                     {"checkpoint", checkpoint_path},
                     {"stage", cm.stage},
                     {"mode", cm.mode},
                     {"date", date},
                     {"config", config_to_yaml(cm.config)}};
  return meta;
}

}  // namespace f8net::qat
