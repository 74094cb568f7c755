// The optimizer schedules of a training stage (F8NET.md §20, fix_train.py): the learning-rate
// multiplier per iteration and which parameters get weight decay.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "f8net/qat/config.h"

namespace f8net::qat {

// The LR multiplier of iteration i of `total` (F8NET.md §20): linear warm-up from warmup_start
// over `warmup` iterations, then cosine to 0, constant, or the reference's epoch-wise multistep
// (lr_gamma^(milestones <= epoch)) and exp_decaying (lr_gamma^floor(epoch / lr_decay_period)),
// with epoch = i / iters_per_epoch (the reference's *_iter variants after the warm-up).
double lr_factor(const StageConfig& stage, int64_t i, int64_t warmup, int64_t total,
                 int64_t iters_per_epoch = 1);

// Whether a parameter of this shape gets weight decay under `scheme` (fix_train.py): all;
// no_depthwise_no_bn: non-depthwise 4-D conv and 2-D FC weights; only_no_depthwise: every
// parameter except depthwise (N, 1, k, k) weights; only_no_bn: 4-D and 2-D weights (no BN, bias,
// alpha).
bool weight_decay_applies(const std::string& scheme, const std::vector<int64_t>& shape);

}  // namespace f8net::qat
