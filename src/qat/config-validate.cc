// Range and consistency checks of a parsed configuration (config.h: validate_config) and the
// effective normalization constants. No LibTorch, no YAML.
#include <set>
#include <string>

#include "f8net/qat/config.h"

namespace f8net::qat {
namespace {

[[noreturn]] void fail(const std::string& origin, const std::string& message) {
  throw ConfigError(origin + ": " + message);
}

constexpr int64_t kMaxEpochs = 100000;
constexpr int64_t kMaxIterations = int64_t{1} << 40;
constexpr int64_t kMaxBatchSize = 65536;

const std::set<std::string> kModes = {"float", "fp_pact", "fixed"};
const std::set<std::string> kDatasets = {"fashion-mnist", "mnist", "cifar10", "imagefolder"};
const std::set<std::string> kSchedules = {"cosine", "constant", "multistep", "exp_decaying"};
const std::set<std::string> kWdSchemes = {"all", "no_depthwise_no_bn", "only_no_depthwise",
                                          "only_no_bn"};
const std::set<std::string> kStems = {"auto", "imagenet", "cifar"};

void validate_stage(const StageConfig& s, const std::string& p) {
  auto bad = [&](const std::string& key, const std::string& why) {
    fail("config", "key '" + p + key + "': " + why);
  };
  if (!kModes.count(s.mode)) bad("mode", "'" + s.mode + "' is not one of float, fp_pact, fixed");
  if (s.device != "cpu" && s.device != "cuda")
    bad("device", "'" + s.device + "' is not cpu or cuda");
  // Upper limits keep every iteration count far from int64 overflow (epochs near 2^63 used to
  // wrap to a negative iteration count and write an untrained "best" checkpoint).
  if (s.epochs < 0 || s.epochs > kMaxEpochs) {
    bad("epochs", "must be in [0, " + std::to_string(kMaxEpochs) + "]");
  }
  if (s.iterations < 0 || s.iterations > kMaxIterations) {
    bad("iterations", "must be in [0, " + std::to_string(kMaxIterations) + "]");
  }
  if (s.enabled && s.epochs == 0 && s.iterations == 0) {
    bad("epochs", "an enabled stage needs epochs > 0 or iterations > 0");
  }
  if (s.batch_size < 1 || s.batch_size > kMaxBatchSize) {
    bad("batch_size", "must be in [1, " + std::to_string(kMaxBatchSize) + "]");
  }
  if (!(s.lr >= 0)) bad("lr", "must be >= 0");
  if (!kSchedules.count(s.lr_schedule)) {
    bad("lr_schedule",
        "'" + s.lr_schedule + "' is not one of cosine, constant, multistep, exp_decaying");
  }
  for (size_t i = 0; i < s.lr_milestones.size(); ++i) {
    if (!(s.lr_milestones[i] >= 0) || (i > 0 && !(s.lr_milestones[i] >= s.lr_milestones[i - 1]))) {
      bad("lr_milestones", "must be epochs >= 0 in ascending order");
    }
  }
  if (!(s.lr_gamma > 0)) bad("lr_gamma", "must be > 0");
  if (s.lr_decay_period < 1) bad("lr_decay_period", "must be >= 1");
  if (s.bn_calib_batches < 0) bad("bn_calib_batches", "must be >= 0");
  if (!(s.warmup_epochs >= 0 && s.warmup_epochs <= static_cast<double>(kMaxEpochs))) {
    bad("warmup_epochs", "must be in [0, " + std::to_string(kMaxEpochs) + "]");
  }
  if (!(s.warmup_start >= 0 && s.warmup_start <= 1)) bad("warmup_start", "must be in [0, 1]");
  if (!(s.momentum >= 0 && s.momentum < 1)) bad("momentum", "must be in [0, 1)");
  if (s.nesterov && s.momentum == 0) bad("nesterov", "Nesterov needs momentum > 0");
  if (!(s.weight_decay >= 0)) bad("weight_decay", "must be >= 0");
  if (!kWdSchemes.count(s.wd_scheme)) {
    bad("wd_scheme", "'" + s.wd_scheme +
                         "' is not one of all, no_depthwise_no_bn, only_no_depthwise, only_no_bn");
  }
  if (!(s.label_smoothing >= 0 && s.label_smoothing < 1))
    bad("label_smoothing", "must be in [0, 1)");
}

}  // namespace

void validate_config(const TrainConfig& c) {
  auto bad = [](const std::string& key, const std::string& why) {
    fail("config", "key '" + key + "': " + why);
  };
  if (c.model.arch.empty()) bad("model.arch", "must name a model");
  if (!(c.model.width_mult > 0)) bad("model.width_mult", "must be > 0");
  if (!kStems.count(c.model.stem)) {
    bad("model.stem", "'" + c.model.stem + "' is not one of auto, imagenet, cifar");
  }
  if (c.model.resnet_variant != "v1.5" && c.model.resnet_variant != "v1") {
    bad("model.resnet_variant", "'" + c.model.resnet_variant + "' is not one of v1.5, v1");
  }
  if (c.quant.metric != "std" && c.quant.metric != "mae" && c.quant.metric != "rms") {
    bad("quant.metric", "'" + c.quant.metric + "' is not one of std, mae, rms");
  }
  if (!(c.quant.fl_momentum >= 0 && c.quant.fl_momentum <= 1))
    bad("quant.fl_momentum", "must be in [0, 1]");
  if (!(c.quant.initial_input_fl >= 0 && c.quant.initial_input_fl <= 8)) {
    bad("quant.initial_input_fl", "must be in [0, 8]");
  }
  if (!(c.quant.initial_weight_fl >= 0 && c.quant.initial_weight_fl <= 7)) {
    bad("quant.initial_weight_fl", "must be in [0, 7]");
  }
  if (!(c.quant.alpha_init > 0)) bad("quant.alpha_init", "must be > 0");
  if (c.quant.weight_bits < 2 || c.quant.weight_bits > 8)
    bad("quant.weight_bits", "must be in [2, 8]");
  if (c.quant.activation_bits < 2 || c.quant.activation_bits > 8) {
    bad("quant.activation_bits", "must be in [2, 8]");
  }
  for (size_t i = 0; i < c.quant.layer_bits.size(); ++i) {
    const LayerBitsConfig& e = c.quant.layer_bits[i];
    const std::string key = "quant.layer_bits." + e.layer;
    if (e.layer.empty()) bad("quant.layer_bits", "a layer name is empty");
    if (i > 0 && !(c.quant.layer_bits[i - 1].layer < e.layer)) {
      bad(key, "layers must be listed once each, sorted by name");
    }
    if (e.weight == 0 && e.activation == 0) bad(key, "sets neither weight nor activation bits");
    for (int64_t b : {e.weight, e.activation}) {
      if (b != 0 && (b < 2 || b > 8)) bad(key, "word lengths must be in [2, 8]");
    }
  }
  if (!kDatasets.count(c.data.dataset)) {
    bad("data.dataset",
        "'" + c.data.dataset + "' is not one of fashion-mnist, mnist, cifar10, imagefolder");
  }
  if (c.data.dir.empty()) bad("data.dir", "must name a directory");
  if (c.data.input_size < 0) bad("data.input_size", "must be >= 0");
  if (c.data.channels != 0 && c.data.channels != 1 && c.data.channels != 3) {
    bad("data.channels", "must be 0 (native), 1 or 3");
  }
  if (c.data.dataset == "imagefolder" && c.data.input_size == 0) {
    bad("data.input_size", "imagefolder images have no native size: set it (e.g. 224)");
  }
  for (const auto* list : {&c.data.mean, &c.data.std_dev}) {
    const std::string key = list == &c.data.mean ? "data.mean" : "data.std";
    if (list->size() > 3) bad(key, "has more than 3 values");
    if (list == &c.data.std_dev) {
      for (double v : *list) {
        if (!(v > 0)) bad(key, "values must be > 0");
      }
    }
  }
  if (c.data.random_crop_padding < 0) bad("data.random_crop_padding", "must be >= 0");
  if (!(c.data.rrc_scale_min > 0 && c.data.rrc_scale_min <= 1))
    bad("data.rrc_scale_min", "must be in (0, 1]");
  if (c.data.resize < 0) bad("data.resize", "must be >= 0");
  if (c.data.train_limit < 0) bad("data.train_limit", "must be >= 0");
  if (c.data.val_limit < 0) bad("data.val_limit", "must be >= 0");
  if (c.data.workers < 1 || c.data.workers > 64) bad("data.workers", "must be in [1, 64]");
  if (c.data.prefetch < 1 || c.data.prefetch > 1024) bad("data.prefetch", "must be in [1, 1024]");
  validate_stage(c.pretrain, "pretrain.");
  validate_stage(c.train, "train.");
  if (!c.train.enabled) bad("train.enabled", "the train stage cannot be disabled");
  if (c.pretrain.enabled && c.pretrain.mode == "fixed") {
    bad("pretrain.mode", "the pretrain stage trains float or fp_pact");
  }
  if (!(c.dist.timeout_seconds >= 1 && c.dist.timeout_seconds <= 86400)) {
    bad("dist.timeout_seconds", "must be in [1, 86400]");
  }
  if (c.seed < 0) bad("seed", "must be >= 0");
  if (c.threads < 0 || c.threads > 256) bad("threads", "must be in [0, 256]");
  if (!(c.log_interval > 0)) bad("log_interval", "must be > 0");
  if (c.checkpoint.every_iterations < 0) bad("checkpoint.every_iterations", "must be >= 0");
  if (!(c.checkpoint.every_seconds >= 0 && c.checkpoint.every_seconds <= 1e9)) {
    bad("checkpoint.every_seconds", "must be in [0, 1e9]");
  }
}

// One definition of the defaults, in the data library the loader normalizes with.
std::vector<double> effective_mean(const DataConfig& data, int64_t channels) {
  return data.mean_for(channels);
}

std::vector<double> effective_std(const DataConfig& data, int64_t channels) {
  return data.std_for(channels);
}

}  // namespace f8net::qat
