// Training configuration (F8NET.md §16, §20): a YAML recipe plus `--set key=value` overrides
// (dotted keys) parsed into TrainConfig. Every key is listed in one schema (config.cc); unknown
// keys and values of the wrong type are rejected with the key named. No LibTorch here.
//
// A recipe is a pipeline of up to two stages run in order by one `f8net train`: `pretrain`
// (float or fp_pact) and `train` (normally fixed), the latter initialized from the former's best
// checkpoint unless `train.init` names a checkpoint. A disabled pretrain stage is skipped.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "f8net/data/options.h"

namespace f8net::qat {

// A bad configuration: the message names the key. Derives from std::runtime_error so the CLI
// reports it as one line.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The `data.*` keys: which data set and how it is read, augmented and normalized. The struct
// lives in f8net_data (f8net/data/options.h) so that the runtime-only `f8net eval --model` takes
// the same options; its mean_for/std_for give the per-channel normalization.
using DataConfig = data::DataOptions;

struct ModelConfig {
  std::string arch = "small_cnn";
  double width_mult = 1.0;
  // ImageNet-style families (resnet18/34/50/101/152, mobilenet_v1/v2): "imagenet" (7x7/2 stem +
  // max pool; stride-2 MobileNet stem), "cifar" (3x3/1 stem, no max pool, MobileNet-V2 keeps the
  // 24-channel stage at full size) or "auto" (cifar for inputs <= 64 pixels).
  std::string stem = "auto";
  // Imported torchvision/pytorchcv models (docs/import.md): bottleneck stride placement "v1.5"
  // or "v1", and ReLU6 activations (float mode only); see ModelOptions and QuantOptions.
  std::string resnet_variant = "v1.5";
  bool relu6 = false;
};

// One per-layer word-length override (quant.layer_bits): the layer's module name as the model
// names it ("stem", "blocks.3.convs.0", "blocks.1.shortcut", "fc"); 0 keeps the default width.
struct LayerBitsConfig {
  std::string layer;
  int64_t weight = 0;
  int64_t activation = 0;
};

// QuantOptions of models.h except mode (per stage) and normalize_input (data.normalize).
struct QuantConfig {
  std::string metric = "std";  // std | mae | rms
  bool grid_search = false;
  bool per_channel = false;
  bool no_clipping = false;
  bool quant_avgpool = false;
  double fl_momentum = 0.1;
  double initial_input_fl = 6.0;   // input_format FL: EMA start; fp_pact's input clamp FL
  double initial_weight_fl = 7.0;  // weight_format FL: fp_pact's fused-weight clamp FL
  double alpha_init = 8.0;
  bool rescale_forward = true;
  // Word lengths 2..8 of every layer's weights and input codes (8-bit containers). The first and
  // last layers stay at 8 unless first_last_8bit is false; layer_bits overrides single layers
  // (sorted by name, each name once).
  int64_t weight_bits = 8;
  int64_t activation_bits = 8;
  bool first_last_8bit = true;
  std::vector<LayerBitsConfig> layer_bits;
};

// One training stage (F8NET.md §20).
struct StageConfig {
  bool enabled = true;
  std::string mode = "fixed";  // float | fp_pact | fixed
  int64_t epochs = 1;
  int64_t iterations = 0;  // > 0: train this many iterations instead of `epochs` (tiny FT)
  int64_t batch_size = 128;
  double lr = 0.1;  // peak (effective) learning rate; 0 = calibration only
  // cosine (per iteration, to 0) | constant | multistep (x lr_gamma at each epoch milestone) |
  // exp_decaying (x lr_gamma every lr_decay_period epochs), all after the warm-up.
  std::string lr_schedule = "cosine";
  std::vector<double> lr_milestones;  // multistep: epochs, ascending
  double lr_gamma = 0.1;              // multistep and exp_decaying factor
  int64_t lr_decay_period = 1;        // exp_decaying: epochs between decays
  double warmup_epochs = 0.0;
  double warmup_start = 0.1;  // LR multiplier at iteration 0 of the warm-up (r of §20)
  double momentum = 0.9;
  bool nesterov = true;
  double weight_decay = 4e-5;
  // all | no_depthwise_no_bn | only_no_depthwise | only_no_bn (F8NET.md §19 item 16)
  std::string wd_scheme = "all";
  double label_smoothing = 0.0;
  std::string init;  // checkpoint to initialize from by key intersection ("" = see header note)
  bool drop_last = true;  // drop the last incomplete training batch of each epoch
  // bn_calib_before_test: before each validation, re-estimate every conv's BN statistics (and
  // input FL averages) as the cumulative average over this many training batches (0 = off).
  int64_t bn_calib_batches = 0;
  // Where the stage trains: "cpu" (the fused quantize kernels) or "cuda" (the ATen quantizer;
  // refused with one line when LibTorch has no CUDA, as Debian's has not).
  std::string device = "cpu";
};

// When the resume point (<stage>-last.pt) is written besides epoch ends and Ctrl-C: every N
// iterations and/or every S seconds of training (0 = off), so a SIGKILL loses at most one
// interval. Resume from a mid-epoch checkpoint is exact (same loss sequence).
struct CheckpointConfig {
  int64_t every_iterations = 0;
  double every_seconds = 300.0;
};

// Data-parallel training (several processes: `f8net train --nproc N` or torchrun's environment;
// dist.h). sync_stats false: each rank's BN batch statistics and activation FLs are its own, the
// running buffers rank 0's (the reference's DistributedDataParallel); true: those of the global
// batch, so N ranks compute what one process with the same (global) batch_size computes.
struct DistConfig {
  bool sync_stats = false;
  double timeout_seconds = 300;  // every collective (and the rendezvous) fails after this long
};

struct TrainConfig {
  ModelConfig model;
  DistConfig dist;
  CheckpointConfig checkpoint;
  QuantConfig quant;
  DataConfig data;
  StageConfig pretrain;
  StageConfig train;
  int64_t seed = 1995;
  int64_t threads = 0;         // LibTorch threads; 0 = all cores
  double log_interval = 10.0;  // seconds between plain progress lines (not a terminal)
};

// The defaults of a recipe that sets nothing: pretrain fp_pact, train fixed.
TrainConfig default_config();

// Parses YAML text (may be empty) on top of default_config(), applies `key=value` overrides
// (value parsed as a YAML scalar or flow sequence) and validates. Throws ConfigError naming the
// key for unknown keys, wrong types, bad values or a malformed override. `origin` names the
// source in messages.
TrainConfig parse_config(const std::string& yaml_text, const std::vector<std::string>& overrides,
                         const std::string& origin = "config");

// Reads `path` and calls parse_config; a missing or unreadable file is a ConfigError.
TrainConfig load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// The full effective configuration as YAML (every key, parseable by parse_config).
std::string config_to_yaml(const TrainConfig& config);

// Every accepted dotted key, in schema order.
std::vector<std::string> config_keys();

// Validates values (ranges, names); throws ConfigError naming the key. parse_config calls it.
void validate_config(const TrainConfig& config);

// Mean and std per channel actually used when normalizing `channels` channels (ImageNet's
// defaults when the config leaves them empty, one value broadcast to all channels).
std::vector<double> effective_mean(const DataConfig& data, int64_t channels);
std::vector<double> effective_std(const DataConfig& data, int64_t channels);

}  // namespace f8net::qat
