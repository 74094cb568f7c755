// DataParallel (dist-train.h): the training loop's data-parallel steps on a DistGroup.
#include "f8net/qat/dist-train.h"

#include <chrono>
#include <cmath>

namespace f8net::qat {

DataParallel::DataParallel(const DistEnv& env, const DistOptions& options)
    : env_(env), options_(options) {
  if (!env.distributed()) return;
  if (!(options.timeout_seconds > 0) || !std::isfinite(options.timeout_seconds)) {
    throw DistError("dist: dist.timeout_seconds must be > 0");
  }
  const auto timeout =
      std::chrono::milliseconds(static_cast<int64_t>(std::ceil(options.timeout_seconds * 1000.0)));
  group_ = std::make_unique<DistGroup>(env, timeout);
}

double DataParallel::loss_weight(int64_t local_n, int64_t global_n) const {
  if (global_n <= 0) return 0.0;
  return static_cast<double>(local_n) * static_cast<double>(env_.world_size) /
         static_cast<double>(global_n);
}

void DataParallel::share_initial_state(torch::nn::Module& model) {
  if (group_) broadcast_state(*group_, model);
}

void DataParallel::begin_step(torch::nn::Module& model) {
  if (group_ && !options_.sync_stats) sync_buffers(*group_, model, /*average=*/false);
}

void DataParallel::finish_backward(torch::nn::Module& model) {
  if (group_) average_gradients(*group_, model);
}

void DataParallel::sync_state(torch::nn::Module& model) {
  if (group_ && !options_.sync_stats) sync_buffers(*group_, model, /*average=*/false);
}

}  // namespace f8net::qat
