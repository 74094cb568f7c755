// The evaluation and BN re-calibration loops over a data set, and the layer formats of a model
// (internal to f8net_qat; used by the stage loop and by evaluation.h's entry points).
#pragma once

#include <torch/torch.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "f8net/data/dataset.h"
#include "f8net/data/transform.h"
#include "f8net/qat/config.h"
#include "f8net/qat/dist-group.h"
#include "f8net/qat/dist.h"
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
// stops early (interrupted) when *stop becomes non-zero. With `shard` (data-parallel training,
// the same model on every rank; no `stop`) each rank forwards only its rank_slice of every batch
// and the totals are summed over the group, so every rank returns the same figures: those of the
// whole set as far as a sample's logits do not depend on the batch it is in (evaluation mode;
// kernels chosen by batch size may round differently), the loss up to the order of its sum.
EvalTotals evaluate(NetImpl& model, const std::shared_ptr<const data::Dataset>& ds,
                    const data::TransformOptions& transform, const DataConfig& data,
                    int64_t batch_size, const std::string& stage, TrainObserver* observer,
                    const std::atomic<int>* stop, DistGroup* shard = nullptr);

// bn_calib_before_test (fix_train.py's calib phase): every conv layer in training mode (BN
// statistics reset and averaged cumulatively, input FL averages updated), the classifier in
// evaluation mode, over the first `batches` training batches in order with the evaluation
// transform, without gradients. Returns the images seen.
int64_t calibrate_bn(NetImpl& model, const std::shared_ptr<const data::Dataset>& train,
                     const data::TransformOptions& transform, const DataConfig& data,
                     int64_t batch_size, int64_t batches);

// Every quantized layer's input and weight formats (fixed mode; empty otherwise).
std::vector<LayerFormat> layer_formats(NetImpl& model);

}  // namespace f8net::qat::detail
