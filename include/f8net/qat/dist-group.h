// The process group of a data-parallel run (LibTorch types; the c10d headers stay in
// src/qat/dist-group.cc). One TCPStore rendezvous (rank 0 serves it at MASTER_ADDR:MASTER_PORT)
// and one ProcessGroupGloo over it;
// every collective waits at most the configured timeout, and any failure (a peer that exited, a
// timeout, a broken connection) becomes one DistError line naming this rank and the operation,
// so a dead rank never leaves the others hanging.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "f8net/qat/dist.h"

namespace f8net::qat {

class DistGroup {
 public:
  // Joins the job described by `env` (all ranks must call this within `timeout`). Throws
  // DistError when the rendezvous fails.
  DistGroup(const DistEnv& env, std::chrono::milliseconds timeout);
  ~DistGroup();
  DistGroup(const DistGroup&) = delete;
  DistGroup& operator=(const DistGroup&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  std::chrono::milliseconds timeout() const { return timeout_; }

  // In-place sum over the ranks of CPU tensors of one dtype (each contiguous). `what` names the
  // operation in errors ("gradients", "BN statistics of features.0", ...).
  void all_reduce_sum(std::vector<torch::Tensor>& tensors, const std::string& what);
  // Rank `root`'s values into every rank's tensors, in place.
  void broadcast(std::vector<torch::Tensor>& tensors, int root, const std::string& what);
  void barrier(const std::string& what);

  // Seconds spent inside collectives since construction (the benchmark's communication time).
  double communication_seconds() const { return comm_seconds_; }

 private:
  template <typename F>
  void run(const std::string& op, const std::string& what, F&& f);

  DistEnv env_;
  std::chrono::milliseconds timeout_;
  struct Impl;  // the c10d objects (their headers stay in dist-group.cc)
  std::unique_ptr<Impl> impl_;
  double comm_seconds_ = 0;
};

// The tensors of a module that data parallelism keeps equal: parameters (their gradients are
// averaged) and buffers (BN running statistics, FL EMAs: broadcast or averaged).
std::vector<torch::Tensor> gradients_of(torch::nn::Module& module);

// Averages the gradients of `module` over the ranks in one flattened all-reduce per dtype
// (parameters without a gradient count as zero, so every rank reduces the same buffer).
void average_gradients(DistGroup& group, torch::nn::Module& module);

// Copies rank 0's parameters and buffers to every rank (the start of a run: one initial state).
void broadcast_state(DistGroup& group, torch::nn::Module& module);

// Makes the buffers (running BN statistics, FL EMAs) equal on every rank: rank 0's values
// (`average` false: what DistributedDataParallel's broadcast_buffers does before each forward in
// the reference) or the mean over the ranks.
void sync_buffers(DistGroup& group, torch::nn::Module& module, bool average);

}  // namespace f8net::qat
