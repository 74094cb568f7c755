// Training checkpoints (LibTorch archives). The model's parameters and buffers sit at the
// archive's top level under their dotted names, the layout of state-io.h, so
// load_state_by_intersection reads a checkpoint as a model file. Beside them:
// "f8net_meta" (JSON: stage, progress, model shape, history), "f8net_config" (effective YAML),
// "f8net_rng" (LibTorch CPU generator state) and the "f8net_optimizer" sub-archive.
// Files are written atomically (checkpoint-io.h).
#pragma once

#include <torch/torch.h>

#include <string>

namespace f8net::qat {

struct CheckpointInfo {
  std::string meta_json;    // "{}" when absent
  std::string config_yaml;  // "" when absent
};

// Saves model (+ optimizer state when given), metadata, config and the CPU RNG state to `path`
// atomically. Throws std::runtime_error naming the path.
void save_checkpoint(const std::string& path, const torch::nn::Module& model,
                     const torch::optim::Optimizer* optimizer, const std::string& meta_json,
                     const std::string& config_yaml);

// Reads only the metadata and config. Throws std::runtime_error ("<path>: not an f8net
// checkpoint (...)") for missing, truncated or foreign files.
CheckpointInfo read_checkpoint_info(const std::string& path);

// Loads every parameter and buffer of `model` (all must be present with matching shapes), and
// the optimizer state when `optimizer` is given, and the CPU RNG state when `restore_rng`.
// Throws std::runtime_error with a one-line message.
void load_checkpoint(const std::string& path, torch::nn::Module& model,
                     torch::optim::Optimizer* optimizer, bool restore_rng);

// One line from a LibTorch error (its message without the C++ backtrace).
std::string torch_error_line(const c10::Error& e);

}  // namespace f8net::qat
