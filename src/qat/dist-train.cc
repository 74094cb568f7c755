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

void DataParallel::check_identical(torch::nn::Module& model, const std::string& what) {
  if (!group_) return;
  uint64_t h = 1469598103934665603ull;  // FNV-1a over every tensor's bytes, in module order
  const auto mix = [&h](const torch::Tensor& t) {
    const torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    const auto* p = static_cast<const unsigned char*>(c.data_ptr());
    for (size_t i = 0, n = c.numel() * c.element_size(); i < n; ++i) {
      h = (h ^ p[i]) * 1099511628211ull;
    }
  };
  for (const auto& p : model.parameters()) mix(p);
  for (const auto& b : model.buffers()) mix(b);
  agree({static_cast<double>(h >> 32), static_cast<double>(h & 0xffffffffu)},
        "the model state at " + what + " (parameters and buffers)");
}

void DataParallel::agree(const std::vector<double>& values, const std::string& what) {
  if (!group_ || values.empty()) return;
  std::vector<torch::Tensor> t{torch::tensor(values, torch::kDouble)};
  group_->broadcast(t, 0, what);
  const bool same = torch::equal(t[0], torch::tensor(values, torch::kDouble));
  std::vector<torch::Tensor> differ{torch::full({1}, same ? 0.0 : 1.0, torch::kDouble)};
  group_->all_reduce_sum(differ, what);
  const double ranks = differ[0].item<double>();
  if (ranks > 0) {
    throw DistError("dist: rank " + std::to_string(env_.rank) + " of " +
                    std::to_string(env_.world_size) + ": " +
                    std::to_string(static_cast<int>(ranks)) + " rank(s) disagree with rank 0 on " +
                    what);
  }
}

}  // namespace f8net::qat
