// From a training config to the model a stage trains (internal to f8net_qat): the quantizer
// options of a mode, the model options of a run, and building the model with one-line errors.
#pragma once

#include <string>

#include "f8net/qat/config.h"
#include "f8net/qat/models.h"
#include "run-data.h"

namespace f8net::qat::detail {

// The quantizer options `mode` ("float", "fp_pact", "fixed") trains with under config `c`.
QuantOptions quant_options(const TrainConfig& c, const std::string& mode);

// The model a stage of mode `mode` trains on the run's data (its channels, size and classes).
ModelOptions run_model_options(const TrainConfig& c, const RunData& data, const std::string& mode);

// make_model with an unknown arch as a ConfigError and a model that cannot take the input as a
// one-line runtime error naming the input.
Net build_model(const ModelOptions& options);

}  // namespace f8net::qat::detail
