// import_weights (import.h): source state dict -> f8net float model -> checkpoint. The float
// model reproduces the source's evaluation exactly: normalized (signed) first-layer input, the
// classifier without F8Net's weight rescaling, ReLU6 where the source has it, the source's
// bottleneck stride placement. Every check runs before the one atomic write.
#include "f8net/qat/import.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "f8net/qat/checkpoint.h"
#include "f8net/qat/config.h"
#include "f8net/qat/modules.h"
#include "import-map.h"

namespace f8net::qat {
namespace {

using json = nlohmann::json;

// Keys of the embedded config the import decides (a --set of one is refused).
bool import_owned(const std::string& key) {
  return key.rfind("model.", 0) == 0 || key == "data.normalize" || key == "quant.rescale_forward";
}

TrainConfig embedded_config(const ImportOptions& o, const detail::ImportArch& a) {
  std::vector<std::string> sets = {"data.dataset=imagefolder",
                                   "data.dir=/data/imagenet",
                                   "data.input_size=224",
                                   "data.resize=256",
                                   "data.mean=[0.485, 0.456, 0.406]",
                                   "data.std=[0.229, 0.224, 0.225]",
                                   "pretrain.enabled=false",
                                   "pretrain.mode=float",
                                   "train.mode=float"};
  for (const std::string& s : o.overrides) {
    if (import_owned(s.substr(0, s.find('=')))) {
      throw std::runtime_error("--set " + s +
                               ": model keys, data.normalize and "
                               "quant.rescale_forward are set by the import");
    }
    sets.push_back(s);
  }
  TrainConfig c = parse_config("", sets, "import");
  c.model.arch = a.f8net_arch;
  c.model.stem = o.stem;
  c.model.resnet_variant = a.resnet_variant;
  c.model.relu6 = a.relu6;
  c.data.normalize = true;          // the source takes (x - mean) / std: signed first-layer input
  c.quant.rescale_forward = false;  // the source's classifier is a plain W x + b
  validate_config(c);
  return c;
}

std::string shape(const torch::Tensor& t) { return c10::str(t.sizes()); }

// "a, b, c (and N more)" for one-line messages.
std::string first_few(const std::vector<std::string>& v) {
  std::string s;
  for (size_t k = 0; k < v.size() && k < 3; ++k) s += (k ? ", " : "") + v[k];
  if (v.size() > 3) s += " (and " + std::to_string(v.size() - 3) + " more)";
  return s;
}

void check_values(const std::string& file, const std::string& name, const torch::Tensor& t,
                  bool variance) {
  if (t.scalar_type() != torch::kFloat) {
    throw std::runtime_error(file + ": '" + name + "' is " +
                             std::string(c10::toString(t.scalar_type())) +
                             ", expected float32 (convert the model with .float() first)");
  }
  if (!torch::isfinite(t).all().item<bool>()) {
    throw std::runtime_error(file + ": '" + name + "' holds NaN or infinite values");
  }
  if (variance && t.numel() > 0 && t.min().item<float>() < 0) {
    throw std::runtime_error(file + ": '" + name + "' (a BN running variance) is negative");
  }
}

}  // namespace

std::vector<std::string> import_arch_names(const std::string& from) {
  if (from == "torchvision") {
    return {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "mobilenet_v2"};
  }
  if (from == "pytorchcv") {
    return {"resnet18",   "resnet34",  "resnet50",   "resnet50b",   "resnet101",
            "resnet101b", "resnet152", "resnet152b", "mobilenet_w1"};
  }
  return {};
}

ImportReport import_weights(const ImportOptions& o) {
  const std::string& file = o.weights;
  detail::ImportArch a;
  try {
    a = detail::import_arch(o.from, o.arch);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
  if (o.stem != "imagenet" && o.stem != "cifar") {
    throw std::runtime_error("unknown stem '" + o.stem + "' (imagenet, cifar)");
  }
  if (o.stem == "cifar" && a.f8net_arch.rfind("resnet", 0) != 0) {
    throw std::runtime_error("--stem cifar is for ResNets only (" + o.arch + " has one stem)");
  }
  if (o.out.empty()) throw std::runtime_error("no output checkpoint given");
  const TrainConfig cfg = embedded_config(o, a);

  const StateDict sd = read_torch_state_dict(file);
  std::map<std::string, torch::Tensor> src;
  for (const auto& [k, t] : sd.tensors) {
    if (!src.emplace(k, t).second) throw std::runtime_error(file + ": duplicate key '" + k + "'");
  }
  const std::string what = o.from + " " + o.arch;

  ImportReport r;
  ModelOptions& mo = r.model;
  mo.arch = a.f8net_arch;
  mo.stem = o.stem;
  mo.resnet_variant = a.resnet_variant;
  mo.in_channels = 3;
  if (auto it = src.find(a.stem_key); it != src.end() && it->second.dim() == 4) {
    mo.in_channels = it->second.size(1);
  }
  mo.num_classes = o.num_classes;
  if (mo.num_classes <= 0) {
    const auto it = src.find(a.classifier_key);
    if (it == src.end() || it->second.dim() != 2) {
      throw std::runtime_error(file + ": no classifier '" + a.classifier_key + "' for " + what +
                               " (give --num-classes)");
    }
    mo.num_classes = it->second.size(0);
  }
  mo.input_size =
      cfg.data.input_size > 0 ? cfg.data.input_size : (cfg.data.dataset == "cifar10" ? 32 : 28);
  mo.quant.mode = Mode::kFloat;
  mo.quant.normalize_input = true;
  mo.quant.rescale_forward = false;
  mo.quant.relu6 = a.relu6;
  mo.quant.alpha_init = cfg.quant.alpha_init;
  mo.quant.initial_input_fl = static_cast<float>(cfg.quant.initial_input_fl);
  Net net;
  try {
    net = make_model(mo);
  } catch (const std::exception& e) {
    throw std::runtime_error(what + ": " + e.what());
  }

  // The f8net layout, and the mapping onto it.
  std::vector<int> convs;
  std::vector<bool> shortcut;
  for (const auto& child : net->named_children()) {
    if (child.key() != "blocks") continue;
    for (const auto& m : child.value()->children()) {
      const auto* block = dynamic_cast<const BlockImpl*>(m.get());
      if (!block) throw std::logic_error("import: a block is not a Block");
      convs.push_back(static_cast<int>(block->convs().size()));
      shortcut.push_back(block->has_shortcut());
    }
  }
  const std::vector<detail::TensorSource> mapping =
      detail::import_mapping(o.from, a, convs, shortcut);
  std::map<std::string, torch::Tensor> dst;
  for (const auto& p : net->named_parameters(true)) dst.emplace(p.key(), p.value());
  for (const auto& b : net->named_buffers(true)) dst.emplace(b.key(), b.value());
  std::set<std::string> targets;
  for (const auto& m : mapping) {
    if (!dst.count(m.f8net) || !targets.insert(m.f8net).second) {
      throw std::logic_error("import mapping: bad target " + m.f8net);
    }
  }
  for (const auto& [name, t] : dst) {
    const bool own = name.size() > 6 && (name.rfind(".alpha") == name.size() - 6 ||
                                         name.find(".input_fraclen") != std::string::npos);
    if (!own && !targets.count(name)) throw std::logic_error("import mapping misses " + name);
  }

  // Copy, checking every source tensor.
  std::vector<std::string> missing, mismatched;
  std::set<std::string> used;
  std::set<std::string> bn_prefixes;
  {
    torch::NoGradGuard no_grad;
    for (const auto& m : mapping) {
      torch::Tensor& target = dst.at(m.f8net);
      const auto it = src.find(m.source);
      if (it == src.end()) {
        missing.push_back(m.source);
        r.kept_init.push_back(m.f8net);
        continue;
      }
      used.insert(m.source);
      const std::string suffix = ".running_var";
      const bool variance =
          m.source.size() > suffix.size() &&
          m.source.compare(m.source.size() - suffix.size(), suffix.size(), suffix) == 0;
      if (variance) bn_prefixes.insert(m.source.substr(0, m.source.size() - suffix.size()));
      check_values(file, m.source, it->second, variance);
      if (it->second.sizes() != target.sizes()) {
        std::string msg = "'" + m.source + "' has shape " + shape(it->second) + ", f8net's " +
                          m.f8net + " " + shape(target);
        if (m.f8net == "stem.weight" && it->second.dim() == 4 && it->second.size(3) == 3 &&
            target.size(3) == 7) {
          msg += " (a 3x3 conv1: is it the small-image stem? then --stem cifar)";
        }
        mismatched.push_back(msg);
        r.kept_init.push_back(m.f8net);
        r.skipped.push_back(m.source);
        continue;
      }
      target.copy_(it->second);
      ++r.tensors_imported;
    }
  }
  std::vector<std::string> extra;
  for (const auto& [k, t] : sd.tensors) {
    if (used.count(k)) continue;
    const std::string nbt = ".num_batches_tracked";
    if (k.size() > nbt.size() && k.compare(k.size() - nbt.size(), nbt.size(), nbt) == 0 &&
        bn_prefixes.count(k.substr(0, k.size() - nbt.size()))) {
      r.ignored.push_back(k);
      continue;
    }
    extra.push_back(k);
  }
  for (const std::string& k : sd.other_keys) extra.push_back(k + " (not a tensor)");
  if (o.strict) {
    const std::string hint = " (--strict false keeps f8net's initialization for it)";
    if (!missing.empty()) {
      throw std::runtime_error(file + ": not a " + what + " state dict: no " + first_few(missing) +
                               hint);
    }
    if (!mismatched.empty()) {
      throw std::runtime_error(file + ": " + what + ": " + mismatched.front() +
                               (mismatched.size() > 1
                                    ? " (and " + std::to_string(mismatched.size() - 1) + " more)"
                                    : "") +
                               hint);
    }
    if (!extra.empty()) {
      throw std::runtime_error(file + ": not a " + what + " state dict: it also holds " +
                               first_few(extra) + " (--strict false skips them)");
    }
  }
  for (const std::string& k : extra) r.skipped.push_back(k);
  if (r.tensors_imported == 0) {
    throw std::runtime_error(file + ": shares no tensor with a " + what);
  }

  // Notes on what differs from the source outside evaluation.
  if (o.from == "torchvision" && a.f8net_arch == "mobilenet_v2") {
    r.notes.push_back("the classifier's dropout (an evaluation no-op) is not trained by f8net");
    r.notes.push_back(
        "ReLU6 activations: model.relu6 (float mode only; a fixed-point fine-tune "
        "clips at the PACT alpha: set model.relu6: false)");
  }
  if (o.from == "pytorchcv" && mo.input_size != 224) {
    r.notes.push_back(
        "pytorchcv's AvgPool2d(7) equals f8net's global pool at 224x224 input "
        "only; at " +
        std::to_string(mo.input_size) + " f8net pools globally");
  }

  r.config_yaml = config_to_yaml(cfg);
  const json meta = {{"format", "f8net-checkpoint"},
                     {"version", 1},
                     {"stage", "import"},
                     {"mode", "float"},
                     {"model",
                      {{"arch", mo.arch},
                       {"in_channels", mo.in_channels},
                       {"input_size", mo.input_size},
                       {"num_classes", mo.num_classes},
                       {"width_mult", mo.width_mult}}},
                     {"dataset", cfg.data.dataset},
                     {"import",
                      {{"from", o.from},
                       {"arch", o.arch},
                       {"tensors", r.tensors_imported},
                       {"skipped", r.skipped},
                       {"kept_init", r.kept_init}}}};
  save_checkpoint(o.out, *net, nullptr, meta.dump(), r.config_yaml);
  return r;
}

}  // namespace f8net::qat
