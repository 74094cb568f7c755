// YAML configuration parsing for `f8net train` (config.h). The schema is the single list of keys
// in visit_schema(): parsing, --set overrides, the effective-config writer and config_keys() all
// walk it, so a key cannot be accepted by one and missed by another. No LibTorch here.
#include "f8net/qat/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "yaml-guard.h"

namespace f8net::qat {
namespace {

// Calls v(key, field) for every configurable field, in the order the effective config lists them.
template <typename Config, typename Visitor>
void visit_schema(Config& c, Visitor&& v) {
  v("model.arch", c.model.arch);
  v("model.width_mult", c.model.width_mult);
  v("model.stem", c.model.stem);
  v("model.resnet_variant", c.model.resnet_variant);
  v("model.relu6", c.model.relu6);

  v("quant.metric", c.quant.metric);
  v("quant.grid_search", c.quant.grid_search);
  v("quant.per_channel", c.quant.per_channel);
  v("quant.no_clipping", c.quant.no_clipping);
  v("quant.quant_avgpool", c.quant.quant_avgpool);
  v("quant.fl_momentum", c.quant.fl_momentum);
  v("quant.initial_input_fl", c.quant.initial_input_fl);
  v("quant.initial_weight_fl", c.quant.initial_weight_fl);
  v("quant.alpha_init", c.quant.alpha_init);
  v("quant.rescale_forward", c.quant.rescale_forward);
  v("quant.weight_bits", c.quant.weight_bits);
  v("quant.activation_bits", c.quant.activation_bits);
  v("quant.first_last_8bit", c.quant.first_last_8bit);
  v("quant.layer_bits", c.quant.layer_bits);

  v("data.dataset", c.data.dataset);
  v("data.dir", c.data.dir);
  v("data.input_size", c.data.input_size);
  v("data.channels", c.data.channels);
  v("data.normalize", c.data.normalize);
  v("data.mean", c.data.mean);
  v("data.std", c.data.std_dev);
  v("data.random_crop_padding", c.data.random_crop_padding);
  v("data.hflip", c.data.hflip);
  v("data.random_resized_crop", c.data.random_resized_crop);
  v("data.rrc_scale_min", c.data.rrc_scale_min);
  v("data.resize", c.data.resize);
  v("data.train_limit", c.data.train_limit);
  v("data.val_limit", c.data.val_limit);
  v("data.workers", c.data.workers);
  v("data.prefetch", c.data.prefetch);

  for (auto* stage : {&c.pretrain, &c.train}) {
    const std::string p = stage == &c.pretrain ? "pretrain." : "train.";
    v(p + "enabled", stage->enabled);
    v(p + "mode", stage->mode);
    v(p + "epochs", stage->epochs);
    v(p + "iterations", stage->iterations);
    v(p + "batch_size", stage->batch_size);
    v(p + "lr", stage->lr);
    v(p + "lr_schedule", stage->lr_schedule);
    v(p + "lr_milestones", stage->lr_milestones);
    v(p + "lr_gamma", stage->lr_gamma);
    v(p + "lr_decay_period", stage->lr_decay_period);
    v(p + "warmup_epochs", stage->warmup_epochs);
    v(p + "warmup_start", stage->warmup_start);
    v(p + "momentum", stage->momentum);
    v(p + "nesterov", stage->nesterov);
    v(p + "weight_decay", stage->weight_decay);
    v(p + "wd_scheme", stage->wd_scheme);
    v(p + "label_smoothing", stage->label_smoothing);
    v(p + "init", stage->init);
    v(p + "drop_last", stage->drop_last);
    v(p + "bn_calib_batches", stage->bn_calib_batches);
  }

  v("checkpoint.every_iterations", c.checkpoint.every_iterations);
  v("checkpoint.every_seconds", c.checkpoint.every_seconds);

  v("seed", c.seed);
  v("threads", c.threads);
  v("log_interval", c.log_interval);
}

[[noreturn]] void fail(const std::string& origin, const std::string& message) {
  throw ConfigError(origin + ": " + message);
}

std::string describe(const YAML::Node& node) {
  if (node.IsNull()) return "null";
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  if (node.IsSequence()) return "a list";
  return "a mapping";
}

// Reads one leaf value, naming the key on a type mismatch.
struct Reader {
  const std::string& origin;
  const std::string& key;
  const YAML::Node& node;

  [[noreturn]] void type_error(const char* expected) const {
    fail(origin, "key '" + key + "': expected " + expected + ", got " + describe(node));
  }
  void read(std::string& out) const {
    if (node.IsNull()) {
      out.clear();
      return;
    }
    if (!node.IsScalar()) type_error("a string");
    out = node.Scalar();
  }
  void read(bool& out) const {
    if (!node.IsScalar()) type_error("true or false");
    const std::string s = node.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") {
      out = true;
    } else if (s == "false" || s == "False" || s == "FALSE") {
      out = false;
    } else {
      type_error("true or false");
    }
  }
  void read(int64_t& out) const {
    if (!node.IsScalar()) type_error("an integer");
    const std::string& s = node.Scalar();
    const char* end = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(s.data(), end, out);
    if (ec != std::errc() || ptr != end || s.empty()) type_error("an integer");
  }
  static bool parse_double(const std::string& s, double& out) {
    if (s.empty()) return false;
    const char* end = s.data() + s.size();
    auto [ptr, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc() && ptr == end;
  }
  void read(double& out) const {
    if (!node.IsScalar() || !parse_double(node.Scalar(), out)) type_error("a number");
  }
  void read(std::vector<double>& out) const {
    std::vector<double> values;
    if (node.IsNull()) {
      out.clear();
      return;
    }
    if (node.IsScalar()) {  // one number: broadcast to all channels
      double v = 0;
      if (!parse_double(node.Scalar(), v)) type_error("a list of numbers");
      out = {v};
      return;
    }
    if (!node.IsSequence()) type_error("a list of numbers");
    for (const auto& item : node) {
      double v = 0;
      if (!item.IsScalar() || !parse_double(item.Scalar(), v)) type_error("a list of numbers");
      values.push_back(v);
    }
    out = std::move(values);
  }
  // quant.layer_bits: parse_config gathers the flattened "quant.layer_bits.<layer>.<field>" keys
  // into one mapping {layer: {weight: n, activation: n}} (layer names contain dots).
  void read(std::vector<LayerBitsConfig>& out) const {
    out.clear();
    if (node.IsNull()) return;
    if (!node.IsMap()) type_error("a mapping {layer: {weight: bits, activation: bits}}");
    for (const auto& kv : node) {
      LayerBitsConfig e;
      e.layer = kv.first.Scalar();
      for (const auto& f : kv.second) {
        const std::string field = f.first.Scalar();
        const std::string sub = key + "." + e.layer + "." + field;
        int64_t bits = 0;
        Reader{origin, sub, f.second}.read(bits);
        if (bits < 2 || bits > 8) fail(origin, "key '" + sub + "': must be in [2, 8]");
        (field == "weight" ? e.weight : e.activation) = bits;
      }
      out.push_back(std::move(e));
    }
  }
};

// Flattens nested mappings into dotted keys; leaves are scalars, sequences or nulls.
void flatten(const YAML::Node& node, const std::string& prefix, const std::string& origin,
             std::map<std::string, YAML::Node>& out) {
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) fail(origin, "keys must be plain names");
    const std::string key = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
    if (kv.second.IsMap()) {
      flatten(kv.second, key, origin, out);
    } else {
      out[key] = kv.second;
    }
  }
}

// Moves the flattened keys "quant.layer_bits.<layer>.weight|activation" (the layer name may hold
// dots) into flat["quant.layer_bits"] as one mapping, sorted by layer name; anything else under
// quant.layer_bits is an error naming the key.
void gather_layer_bits(std::map<std::string, YAML::Node>& flat,
                       std::map<std::string, std::string>& where) {
  const std::string prefix = "quant.layer_bits";
  std::map<std::string, std::map<std::string, YAML::Node>> layers;
  std::string origin;
  if (const auto whole = flat.find(prefix); whole != flat.end() && whole->second.IsMap()) {
    // --set quant.layer_bits={fc: {weight: 4}}: the same keys, flattened here.
    const YAML::Node node = whole->second;
    const std::string from = where[prefix];
    flat.erase(whole);
    std::map<std::string, YAML::Node> sub;
    flatten(node, prefix, from, sub);
    for (auto& kv : sub) {
      flat[kv.first] = kv.second;
      where[kv.first] = from;
    }
  }
  for (auto it = flat.begin(); it != flat.end();) {
    const std::string& key = it->first;
    if (key.compare(0, prefix.size(), prefix) != 0 ||
        (key.size() > prefix.size() && key[prefix.size()] != '.')) {
      ++it;
      continue;
    }
    origin = where[key];
    if (key.size() == prefix.size()) {
      if (!it->second.IsNull()) {
        fail(origin, "key '" + key + "': expected a mapping {layer: {weight: bits, activation: "
                     "bits}}, got " + describe(it->second));
      }
      it = flat.erase(it);
      continue;
    }
    const std::string rest = key.substr(prefix.size() + 1);
    const auto dot = rest.rfind('.');
    const std::string field = dot == std::string::npos ? "" : rest.substr(dot + 1);
    if (dot == std::string::npos || dot == 0 || (field != "weight" && field != "activation")) {
      fail(origin, "key '" + key + "': expected {weight: bits} and/or {activation: bits} under "
                   "a layer name");
    }
    layers[rest.substr(0, dot)][field] = it->second;
    it = flat.erase(it);
  }
  if (layers.empty()) return;
  YAML::Node node(YAML::NodeType::Map);
  for (const auto& [layer, fields] : layers) {
    YAML::Node f(YAML::NodeType::Map);
    for (const auto& [name, value] : fields) f[name] = value;
    node[layer] = f;
  }
  flat[prefix] = node;
  where[prefix] = origin;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string suggestion(const std::string& key, const std::vector<std::string>& keys) {
  std::string best;
  size_t best_d = 4;
  for (const auto& k : keys) {
    const size_t d = edit_distance(key, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

std::string format_double(double v) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  std::string s(buf, ptr);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // keep it a float in YAML
  return s;
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

struct Emitter {
  std::ostringstream out;
  std::string section;
  void key(const std::string& dotted, const std::string& value) {
    const auto dot = dotted.find('.');
    if (dot == std::string::npos) {
      section.clear();
      out << dotted << ": " << value << "\n";
      return;
    }
    const std::string sec = dotted.substr(0, dot);
    if (sec != section) {
      out << sec << ":\n";
      section = sec;
    }
    out << "  " << dotted.substr(dot + 1) << ": " << value << "\n";
  }
  void operator()(const std::string& k, const std::string& v) { key(k, quote(v)); }
  void operator()(const std::string& k, bool v) { key(k, v ? "true" : "false"); }
  void operator()(const std::string& k, int64_t v) { key(k, std::to_string(v)); }
  void operator()(const std::string& k, double v) { key(k, format_double(v)); }
  void operator()(const std::string& k, const std::vector<double>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + format_double(v[i]);
    key(k, s + "]");
  }
  void operator()(const std::string& k, const std::vector<LayerBitsConfig>& v) {
    std::string s = "{";
    for (size_t i = 0; i < v.size(); ++i) {
      std::string fields;
      if (v[i].weight) fields += "weight: " + std::to_string(v[i].weight);
      if (v[i].activation) {
        fields += (fields.empty() ? "" : ", ") + std::string("activation: ") +
                  std::to_string(v[i].activation);
      }
      s += (i ? ", " : "") + quote(v[i].layer) + ": {" + fields + "}";
    }
    key(k, s + "}");
  }
};

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
    bad("lr_schedule", "'" + s.lr_schedule + "' is not one of cosine, constant, multistep, exp_decaying");
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
  if (!(s.label_smoothing >= 0 && s.label_smoothing < 1)) bad("label_smoothing", "must be in [0, 1)");
}

}  // namespace

TrainConfig default_config() {
  TrainConfig c;
  c.pretrain.mode = "fp_pact";
  c.train.mode = "fixed";
  return c;
}

std::vector<std::string> config_keys() {
  std::vector<std::string> keys;
  TrainConfig c;
  visit_schema(c, [&](const std::string& k, auto&) { keys.push_back(k); });
  return keys;
}

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
  if (!(c.quant.fl_momentum >= 0 && c.quant.fl_momentum <= 1)) bad("quant.fl_momentum", "must be in [0, 1]");
  if (!(c.quant.initial_input_fl >= 0 && c.quant.initial_input_fl <= 8)) {
    bad("quant.initial_input_fl", "must be in [0, 8]");
  }
  if (!(c.quant.initial_weight_fl >= 0 && c.quant.initial_weight_fl <= 7)) {
    bad("quant.initial_weight_fl", "must be in [0, 7]");
  }
  if (!(c.quant.alpha_init > 0)) bad("quant.alpha_init", "must be > 0");
  if (c.quant.weight_bits < 2 || c.quant.weight_bits > 8) bad("quant.weight_bits", "must be in [2, 8]");
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
    bad("data.dataset", "'" + c.data.dataset + "' is not one of fashion-mnist, mnist, cifar10, imagefolder");
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
  if (!(c.data.rrc_scale_min > 0 && c.data.rrc_scale_min <= 1)) bad("data.rrc_scale_min", "must be in (0, 1]");
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
  if (c.seed < 0) bad("seed", "must be >= 0");
  if (c.threads < 0 || c.threads > 256) bad("threads", "must be in [0, 256]");
  if (!(c.log_interval > 0)) bad("log_interval", "must be > 0");
  if (c.checkpoint.every_iterations < 0) bad("checkpoint.every_iterations", "must be >= 0");
  if (!(c.checkpoint.every_seconds >= 0 && c.checkpoint.every_seconds <= 1e9)) {
    bad("checkpoint.every_seconds", "must be in [0, 1e9]");
  }
}

TrainConfig parse_config(const std::string& yaml_text, const std::vector<std::string>& overrides,
                         const std::string& origin) {
  std::map<std::string, YAML::Node> flat;
  std::map<std::string, std::string> where;  // key -> origin of its value, for messages
  if (const std::string why = detail::yaml_limit_violation(yaml_text); !why.empty()) {
    fail(origin, why);
  }
  try {
    const YAML::Node root = YAML::Load(yaml_text);
    if (!root.IsNull()) {
      if (!root.IsMap()) fail(origin, "the top level must be a mapping of keys");
      flatten(root, "", origin, flat);
      for (const auto& kv : flat) where[kv.first] = origin;
    }
  } catch (const YAML::Exception& e) {
    fail(origin, std::string("invalid YAML: ") + e.what());
  }
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      fail("--set", "'" + o + "' is not key=value");
    }
    const std::string key = o.substr(0, eq);
    if (const std::string why = detail::yaml_limit_violation(o.substr(eq + 1)); !why.empty()) {
      fail("--set " + key, why);
    }
    try {
      flat[key] = YAML::Load(o.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      fail("--set " + key, std::string("invalid value: ") + e.what());
    }
    where[key] = "--set";
  }
  gather_layer_bits(flat, where);

  const std::vector<std::string> keys = config_keys();
  const std::set<std::string> known(keys.begin(), keys.end());
  std::set<std::string> sections;
  for (const auto& k : keys) {
    if (k.find('.') != std::string::npos) sections.insert(k.substr(0, k.find('.')));
  }
  for (const auto& kv : flat) {
    if (known.count(kv.first)) continue;
    if (sections.count(kv.first)) {
      if (kv.second.IsNull()) continue;  // an empty section, e.g. "quant:" with nothing under it
      fail(where[kv.first], "key '" + kv.first + "' is a section: expected a mapping, got " +
                                describe(kv.second));
    }
    fail(where[kv.first], "unknown key '" + kv.first + "'" + suggestion(kv.first, keys));
  }

  TrainConfig config = default_config();
  visit_schema(config, [&](const std::string& key, auto& field) {
    const auto it = flat.find(key);
    if (it == flat.end()) return;
    Reader{where[key], key, it->second}.read(field);
  });
  validate_config(config);
  return config;
}

TrainConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot read the config file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path + ": cannot read the config file");
  return parse_config(text.str(), overrides, path);
}

std::string config_to_yaml(const TrainConfig& config) {
  Emitter e;
  e.out << "# f8net effective training configuration (every key; see configs/README.md)\n";
  TrainConfig copy = config;
  visit_schema(copy, [&](const std::string& k, auto& v) { e(k, v); });
  return e.out.str();
}

std::vector<double> effective_mean(const DataConfig& data, int64_t channels) {
  std::vector<double> v = data.mean;
  if (v.empty()) v = {0.485, 0.456, 0.406};
  if (v.size() == 1 || static_cast<int64_t>(v.size()) < channels) v.resize(channels, v[0]);
  v.resize(channels);
  return v;
}

std::vector<double> effective_std(const DataConfig& data, int64_t channels) {
  std::vector<double> v = data.std_dev;
  if (v.empty()) v = {0.229, 0.224, 0.225};
  if (v.size() == 1 || static_cast<int64_t>(v.size()) < channels) v.resize(channels, v[0]);
  v.resize(channels);
  return v;
}

}  // namespace f8net::qat
