// The data of a training run (internal to f8net_qat): the training and validation sets with their
// transforms, checked against each other and against a model, and the batch helpers the
// training and evaluation loops share.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

#include "f8net/qat/config.h"
#include "f8net/qat/data.h"

namespace f8net::qat::detail {

struct RunData {
  std::shared_ptr<const Dataset> train, val;
  TransformOptions train_transform, val_transform;
  int64_t channels = 0, input_size = 0, num_classes = 0;
};

// Throws DataError unless `ds` gives `classes` classes of channels x size x size images; `what`
// names the other side in the message ("model", "training set").
void check_fits(const DataConfig& data, const Dataset& ds, int64_t channels, int64_t size,
                int64_t classes, const std::string& what);

// Opens both splits of the configured data set and their transforms; throws DataError.
RunData open_run_data(const DataConfig& data);

// A batch's images as an N x C x H x W float tensor (a view of the batch's memory).
torch::Tensor batch_images(Batch& batch);

// Loader options for `batch_size` with the data config's workers and prefetch (in data-set
// order unless the caller turns shuffling on).
LoaderOptions loader_options(const DataConfig& data, int64_t batch_size);

}  // namespace f8net::qat::detail
