// Learning-rate schedules and weight-decay schemes (schedule.h).
#include "f8net/qat/schedule.h"

#include <algorithm>
#include <cmath>

namespace f8net::qat {

double lr_factor(const StageConfig& stage, int64_t i, int64_t warmup, int64_t total,
                 int64_t iters_per_epoch) {
  if (i < warmup) {
    return (1.0 - stage.warmup_start) * static_cast<double>(i) / static_cast<double>(warmup) +
           stage.warmup_start;
  }
  const int64_t epoch = i / std::max<int64_t>(1, iters_per_epoch);
  if (stage.lr_schedule == "multistep") {
    const auto passed = std::upper_bound(stage.lr_milestones.begin(), stage.lr_milestones.end(),
                                         static_cast<double>(epoch)) -
                        stage.lr_milestones.begin();
    return std::pow(stage.lr_gamma, static_cast<double>(passed));
  }
  if (stage.lr_schedule == "exp_decaying") {
    return std::pow(stage.lr_gamma,
                    static_cast<double>(epoch / std::max<int64_t>(1, stage.lr_decay_period)));
  }
  if (stage.lr_schedule == "constant" || total <= warmup) return 1.0;
  const double t = static_cast<double>(i - warmup) / static_cast<double>(total - warmup);
  return 0.5 * (1.0 + std::cos(M_PI * t));
}

bool weight_decay_applies(const std::string& scheme, const std::vector<int64_t>& shape) {
  const size_t d = shape.size();
  const bool conv = d == 4 && shape[1] != 1;  // 4-D and not depthwise (N, 1, k, k)
  if (scheme == "all") return true;
  if (scheme == "no_depthwise_no_bn") return conv || d == 2;
  if (scheme == "only_no_depthwise") return conv || d == 1 || d == 2;
  if (scheme == "only_no_bn") return d == 4 || d == 2;
  throw ConfigError("unknown weight-decay scheme '" + scheme + "'");
}

}  // namespace f8net::qat
