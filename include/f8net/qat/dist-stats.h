// F8Net's per-step statistics over the global batch of a data-parallel step (dist.sync_stats:
// true, issue 14): the BN batch mean/variance of a conv output and the activation FL of a layer's
// input, computed from every rank's slice so that N ranks with batch B each get what one process
// with batch N*B computes.
//
// The layers ask stats_sync_group() whether a step is synchronized: the trainer opens a
// StatsSyncScope around the training forward and backward, and nothing changes outside one
// (evaluation, calibration, single-process training).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "f8net/fixed.h"
#include "f8net/qat/dist-group.h"

namespace f8net::qat {

// While alive, stats_sync_group() returns `group` on this thread (nullptr: per-rank statistics).
class StatsSyncScope {
 public:
  explicit StatsSyncScope(DistGroup* group);
  ~StatsSyncScope();
  StatsSyncScope(const StatsSyncScope&) = delete;
  StatsSyncScope& operator=(const StatsSyncScope&) = delete;

 private:
  DistGroup* previous_;
};
DistGroup* stats_sync_group();

// Per-channel mean and BIASED variance of an N x C x H x W tensor over (N, H, W) of every rank's
// tensor (the ranks' C must agree), with gradient: the backward all-reduces the incoming
// gradients of mean and variance, so each rank's input gradient is the one the whole-batch
// statistics give (SyncBatchNorm's rule; with the gradients then averaged over the ranks this is
// the single-process gradient). `count` is the global number of values per channel (for the
// unbiased running variance). Sums in double: one all-reduce forward, one backward.
struct GlobalBatchStats {
  torch::Tensor mean, var;
  int64_t count = 0;
};
GlobalBatchStats global_batch_stats(DistGroup& group, const torch::Tensor& y);

// The activation FL of §6 (activation_fl in quantize.h) of the concatenation of every rank's x:
// the metric's sums, or the grid search's per-FL squared errors, are all-reduced in double, so
// the FL equals the single-process FL except where the two summation orders straddle a rule
// boundary (a difference of about 1e-16 relative).
int32_t global_activation_fl(DistGroup& group, const torch::Tensor& x, bool is_signed,
                             fixed::Metric metric, bool grid_search, int word_bits = 8);

}  // namespace f8net::qat
