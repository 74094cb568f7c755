// Rebuilding a trained model from its checkpoint (checkpoint-model.h).
#include "f8net/qat/checkpoint-model.h"

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "f8net/qat/checkpoint.h"
#include "f8net/qat/trainer.h"
#include "model-options.h"
#include "one-line-errors.h"
#include "run-data.h"

namespace f8net::qat {

using detail::build_model;
using detail::check_fits;
using detail::one_line_errors;
using detail::quant_options;
using json = nlohmann::json;

CheckpointModel open_checkpoint_model(const std::string& path, const std::string& data_dir,
                                      int64_t threads) {
  return one_line_errors([&] {
    const CheckpointInfo info = read_checkpoint_info(path);
    json meta;
    try {
      meta = json::parse(info.meta_json);
      if (meta.value("format", "") != "f8net-checkpoint") {
        throw std::runtime_error("no f8net metadata");
      }
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ": not an f8net training checkpoint (" + e.what() + ")");
    }
    CheckpointModel r;
    r.config = parse_config(info.config_yaml, {}, path + " (embedded config)");
    if (!data_dir.empty()) r.config.data.dir = data_dir;
    torch::set_num_threads(
        static_cast<int>(resolve_threads(threads > 0 ? threads : r.config.threads)));
    try {
      const json& m = meta.at("model");
      r.options.arch = m.at("arch").get<std::string>();
      r.options.in_channels = m.at("in_channels").get<int64_t>();
      r.options.input_size = m.at("input_size").get<int64_t>();
      r.options.num_classes = m.at("num_classes").get<int64_t>();
      r.options.width_mult = m.at("width_mult").get<double>();
      r.options.stem = r.config.model.stem;
      r.options.resnet_variant = r.config.model.resnet_variant;
      r.mode = meta.at("mode").get<std::string>();
      r.stage = meta.value("stage", "");
    } catch (const json::exception& e) {
      throw std::runtime_error(path + ": malformed f8net metadata (" + e.what() + ")");
    }
    r.options.quant = quant_options(r.config, r.mode);
    r.val = open_dataset(r.config.data, Split::kVal);
    check_fits(r.config.data, *r.val, r.options.in_channels, r.options.input_size,
               r.options.num_classes, "model");
    r.val_transform = make_transform(r.config.data, *r.val, false);
    r.model = build_model(r.options);
    load_checkpoint(path, *r.model, nullptr, false);
    r.model->eval();
    return r;
  });
}

}  // namespace f8net::qat
