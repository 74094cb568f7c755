// The data sets of a run and the batch helpers (run-data.h).
#include "run-data.h"

namespace f8net::qat::detail {

void check_fits(const DataConfig& data, const Dataset& ds, int64_t channels, int64_t size,
                int64_t classes, const std::string& what) {
  if (ds.num_classes() != classes) {
    throw DataError(ds.description() + ": has " + std::to_string(ds.num_classes()) +
                    " classes but the " + what + " has " + std::to_string(classes));
  }
  if (model_channels(data, ds) != channels) {
    throw DataError(ds.description() + ": gives " + std::to_string(model_channels(data, ds)) +
                    "-channel images but the " + what + " takes " + std::to_string(channels));
  }
  if (model_input_size(data, ds) != size) {
    throw DataError(ds.description() + ": gives " + std::to_string(model_input_size(data, ds)) +
                    "-pixel images but the " + what + " takes " + std::to_string(size));
  }
}

RunData open_run_data(const DataConfig& data) {
  RunData d;
  d.train = open_dataset(data, Split::kTrain);
  d.val = open_dataset(data, Split::kVal);
  d.channels = model_channels(data, *d.train);
  d.input_size = model_input_size(data, *d.train);
  d.num_classes = d.train->num_classes();
  check_fits(data, *d.val, d.channels, d.input_size, d.num_classes, "training set");
  d.train_transform = make_transform(data, *d.train, true);
  d.val_transform = make_transform(data, *d.val, false);
  return d;
}

torch::Tensor batch_images(Batch& batch) {
  return torch::from_blob(batch.images.data(), {batch.n, batch.c, batch.h, batch.w}, torch::kFloat);
}

LoaderOptions loader_options(const DataConfig& data, int64_t batch_size) {
  LoaderOptions lo;
  lo.batch_size = batch_size;
  lo.workers = data.workers;
  lo.prefetch = data.prefetch;
  return lo;
}

}  // namespace f8net::qat::detail
