// What the training loop does differently on several ranks (issue 14), in one object so the loop
// stays one loop: with a world of one every call is a no-op and training is bit for bit the
// single-process training.
//
// A step on rank r: take rank_slice(r) of the global batch (train.batch_size is the GLOBAL batch,
// so the epoch order, the iteration count and the LR schedule do not depend on the world size and
// a run resumes with any world size); begin_step (per-rank statistics: rank 0's buffers to every
// rank, as DistributedDataParallel's broadcast_buffers does in the reference); forward and
// backward inside a StatsSyncScope(sync_group()) with the loss weighted by loss_weight();
// finish_backward (gradients averaged); the optimizer step; reduce_step (the global loss,
// accuracy and stop request, so every rank decides alike). Only rank 0 writes files or progress.
#pragma once

#include <torch/torch.h>

#include <array>
#include <memory>

#include "f8net/qat/dist-group.h"
#include "f8net/qat/dist.h"

namespace f8net::qat {

class DataParallel {
 public:
  // Joins the job when env.distributed() (DistError when the rendezvous fails).
  DataParallel(const DistEnv& env, const DistOptions& options);

  bool distributed() const { return group_ != nullptr; }
  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  // Rank 0 writes checkpoints, metrics.jsonl and progress; the others only train.
  bool writes() const { return env_.rank == 0; }
  const DistOptions& options() const { return options_; }

  // This rank's samples of a global batch of n.
  Slice slice(int64_t global_n) const { return rank_slice(global_n, env_.rank, env_.world_size); }
  // The factor of this rank's mean loss that makes the averaged gradient the gradient of the
  // global batch's mean loss: local_n * world / global_n (1 with equal slices).
  double loss_weight(int64_t local_n, int64_t global_n) const;

  // The group the layers use for global statistics (dist.sync_stats: true), else nullptr.
  DistGroup* sync_group() { return options_.sync_stats ? group_.get() : nullptr; }
  // The group of all ranks (nullptr in a single process): evaluation shards over it.
  DistGroup* group() { return group_.get(); }

  // Rank 0's parameters and buffers to every rank (after building or loading a model).
  void share_initial_state(torch::nn::Module& model);
  // Before a training forward: per-rank statistics take rank 0's running buffers.
  void begin_step(torch::nn::Module& model);
  // After backward: the gradients averaged over the ranks.
  void finish_backward(torch::nn::Module& model);
  // Before evaluation and checkpoints: the running buffers (BN statistics, FL EMAs) equal on
  // every rank (rank 0's; in exact mode they are equal already and stay untouched).
  void sync_state(torch::nn::Module& model);

  // Sums over the ranks (in double): per-step training figures, evaluation totals.
  template <size_t N>
  std::array<double, N> sum(std::array<double, N> values, const std::string& what) {
    if (!group_) return values;
    std::vector<torch::Tensor> t{
        torch::tensor(std::vector<double>(values.begin(), values.end()), torch::kDouble)};
    group_->all_reduce_sum(t, what);
    for (size_t i = 0; i < N; ++i) values[i] = t[0][static_cast<int64_t>(i)].item<double>();
    return values;
  }

  // Checks that the parameters and buffers are bit for bit rank 0's on every rank (a hash of
  // their bytes, agreed): run at every checkpoint, so a checkpoint always stands for every rank.
  void check_identical(torch::nn::Module& model, const std::string& what);

  // Checks that every rank holds rank 0's `values`; otherwise every rank throws DistError naming
  // `what` (all of them, so none is left waiting in a collective).
  void agree(const std::vector<double>& values, const std::string& what);

  double communication_seconds() const { return group_ ? group_->communication_seconds() : 0; }

 private:
  DistEnv env_;
  DistOptions options_;
  std::unique_ptr<DistGroup> group_;
};

}  // namespace f8net::qat
