// Config -> quantizer and model options, and model construction (model-options.h).
#include "model-options.h"

#include <algorithm>
#include <stdexcept>

namespace f8net::qat::detail {
namespace {

fixed::Metric parse_metric(const std::string& name) {
  if (name == "mae") return fixed::Metric::kMae;
  if (name == "rms") return fixed::Metric::kRms;
  return fixed::Metric::kStd;
}

}  // namespace

QuantOptions quant_options(const TrainConfig& c, const std::string& mode) {
  QuantOptions q;
  q.mode = parse_mode(mode);
  q.metric = parse_metric(c.quant.metric);
  q.grid_search = c.quant.grid_search;
  q.per_channel = c.quant.per_channel;
  q.no_clipping = c.quant.no_clipping;
  q.normalize_input = c.data.normalize;
  q.quant_avgpool = c.quant.quant_avgpool;
  q.fl_momentum = static_cast<float>(c.quant.fl_momentum);
  q.initial_input_fl = static_cast<float>(c.quant.initial_input_fl);
  q.initial_weight_fl = static_cast<float>(c.quant.initial_weight_fl);
  q.alpha_init = c.quant.alpha_init;
  q.rescale_forward = c.quant.rescale_forward;
  q.relu6 = c.model.relu6;
  q.weight_bits = static_cast<int>(c.quant.weight_bits);
  q.activation_bits = static_cast<int>(c.quant.activation_bits);
  q.first_last_8bit = c.quant.first_last_8bit;
  for (const LayerBitsConfig& e : c.quant.layer_bits) {
    q.layer_bits.push_back({e.layer, static_cast<int>(e.weight), static_cast<int>(e.activation)});
  }
  return q;
}

ModelOptions run_model_options(const TrainConfig& c, const RunData& data, const std::string& mode) {
  ModelOptions m;
  m.arch = c.model.arch;
  m.in_channels = data.channels;
  m.input_size = data.input_size;
  m.num_classes = data.num_classes;
  m.width_mult = c.model.width_mult;
  m.stem = c.model.stem;
  m.resnet_variant = c.model.resnet_variant;
  m.quant = quant_options(c, mode);
  return m;
}

Net build_model(const ModelOptions& options) {
  const auto names = model_names();
  if (std::find(names.begin(), names.end(), options.arch) == names.end()) {
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    throw ConfigError("config: key 'model.arch': unknown model '" + options.arch +
                      "' (known: " + known + ")");
  }
  try {
    return make_model(options);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error("model " + options.arch + " (" + std::to_string(options.in_channels) +
                             "x" + std::to_string(options.input_size) + "x" +
                             std::to_string(options.input_size) + " input, " +
                             std::to_string(options.num_classes) + " classes): " + e.what());
  }
}

}  // namespace f8net::qat::detail
