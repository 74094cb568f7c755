// Human tables and JSON for training/evaluation results (no LibTorch): the per-layer formats of
// a fixed-point model and the per-stage accuracy summary that `f8net train` prints.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

#include "f8net/qat/trainer.h"

namespace f8net::cli {

nlohmann::json layers_json(const std::vector<qat::LayerFormat>& layers);
void print_layer_table(std::ostream& out, const std::vector<qat::LayerFormat>& layers);
void print_train_summary(std::ostream& out, const qat::TrainResult& result);

}  // namespace f8net::cli
