// The evaluation and BN re-calibration loops over a data set, and the layer formats of a model
// (internal to f8net_qat; used by the stage loop and by evaluation.h's entry points).
#pragma once

#include <torch/torch.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "f8net/qat/config.h"
#include "f8net/qat/data.h"
#include "f8net/qat/evaluation.h"
#include "f8net/qat/models.h"
#include "f8net/qat/progress.h"

namespace f8net::qat::detail {

struct EvalTotals {
  double loss = 0, top1 = 0, top5 = 0;
  int64_t images = 0;
  bool interrupted = false;
};

// Top-1, top-5 and the mean loss on training-scale logits over `ds` in order, without gradients;
// stops early (interrupted) when *stop becomes non-zero.
EvalTotals evaluate(NetImpl& model, const std::shared_ptr<const Dataset>& ds,
                    const TransformOptions& transform, const DataConfig& data, int64_t batch_size,
                    const std::string& stage, TrainObserver* observer,
                    const std::atomic<int>* stop);

// bn_calib_before_test (fix_train.py's calib phase): every conv layer in training mode (BN
// statistics reset and averaged cumulatively, input FL averages updated), the classifier in
// evaluation mode, over the first `batches` training batches in order with the evaluation
// transform, without gradients. Returns the images seen.
int64_t calibrate_bn(NetImpl& model, const std::shared_ptr<const Dataset>& train,
                     const TransformOptions& transform, const DataConfig& data, int64_t batch_size,
                     int64_t batches);

// Every quantized layer's input and weight formats (fixed mode; empty otherwise).
std::vector<LayerFormat> layer_formats(NetImpl& model);

}  // namespace f8net::qat::detail
