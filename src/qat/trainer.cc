// The training pipeline (trainer.h): stages, SGD with the weight-decay schemes, the warm-up +
// cosine schedule, evaluation, best/last checkpoints and exact resume. Resume is exact because
// the batches depend only on (seed, epoch, batch index) and every other piece of state (model
// parameters and buffers, optimizer momenta, RNG, epoch accumulators) is in the checkpoint.
#include "f8net/qat/trainer.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <thread>

#include "f8net/qat/checkpoint-io.h"
#include "f8net/qat/checkpoint-model.h"
#include "f8net/qat/checkpoint.h"
#include "f8net/qat/data.h"
#include "f8net/qat/models.h"
#include "f8net/qat/modules.h"
#include "f8net/qat/state-io.h"
#include "run-lock.h"

namespace f8net::qat {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kCheckpointVersion = 1;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

json to_json(const EpochRecord& r) {
  return {{"stage", r.stage},         {"mode", r.mode},           {"epoch", r.epoch},
          {"iteration", r.iteration}, {"lr", r.lr},               {"train_loss", r.train_loss},
          {"train_top1", r.train_top1}, {"val_loss", r.val_loss}, {"val_top1", r.val_top1},
          {"val_top5", r.val_top5},   {"seconds", r.seconds}};
}

EpochRecord record_from_json(const json& j) {
  EpochRecord r;
  r.stage = j.at("stage").get<std::string>();
  r.mode = j.at("mode").get<std::string>();
  r.epoch = j.at("epoch").get<int64_t>();
  r.iteration = j.at("iteration").get<int64_t>();
  r.lr = j.at("lr").get<double>();
  r.train_loss = j.at("train_loss").get<double>();
  r.train_top1 = j.at("train_top1").get<double>();
  r.val_loss = j.at("val_loss").get<double>();
  r.val_top1 = j.at("val_top1").get<double>();
  r.val_top5 = j.at("val_top5").get<double>();
  r.seconds = j.at("seconds").get<double>();
  return r;
}

// Progress of one stage: everything a resume needs besides the tensors.
struct StageState {
  int64_t epoch = 0;      // current epoch, 0-based
  int64_t batch = 0;      // batches done in it
  int64_t iteration = 0;  // iterations done in the stage
  double loss_sum = 0;    // current epoch's training accumulators
  int64_t correct = 0, seen = 0;
  double epoch_seconds = 0;  // time already spent in the current epoch
  bool done = false;
  double best_top1 = -1, best_top5 = 0, best_loss = 0;
  int64_t best_epoch = 0;
  double final_top1 = 0, final_top5 = 0;
  std::vector<EpochRecord> history;
};

json state_to_json(const StageState& s) {
  json h = json::array();
  for (const auto& r : s.history) h.push_back(to_json(r));
  return {{"epoch", s.epoch},         {"batch", s.batch},           {"iteration", s.iteration},
          {"loss_sum", s.loss_sum},   {"correct", s.correct},       {"seen", s.seen},
          {"epoch_seconds", s.epoch_seconds}, {"done", s.done},     {"best_top1", s.best_top1},
          {"best_top5", s.best_top5}, {"best_loss", s.best_loss},   {"best_epoch", s.best_epoch},
          {"final_top1", s.final_top1}, {"final_top5", s.final_top5}, {"history", h}};
}

StageState state_from_json(const json& j) {
  StageState s;
  s.epoch = j.at("epoch").get<int64_t>();
  s.batch = j.at("batch").get<int64_t>();
  s.iteration = j.at("iteration").get<int64_t>();
  s.loss_sum = j.at("loss_sum").get<double>();
  s.correct = j.at("correct").get<int64_t>();
  s.seen = j.at("seen").get<int64_t>();
  s.epoch_seconds = j.at("epoch_seconds").get<double>();
  s.done = j.at("done").get<bool>();
  s.best_top1 = j.at("best_top1").get<double>();
  s.best_top5 = j.at("best_top5").get<double>();
  s.best_loss = j.at("best_loss").get<double>();
  s.best_epoch = j.at("best_epoch").get<int64_t>();
  s.final_top1 = j.at("final_top1").get<double>();
  s.final_top5 = j.at("final_top5").get<double>();
  for (const auto& r : j.at("history")) s.history.push_back(record_from_json(r));
  return s;
}

json model_to_json(const ModelOptions& m) {
  return {{"arch", m.arch},
          {"in_channels", m.in_channels},
          {"input_size", m.input_size},
          {"num_classes", m.num_classes},
          {"width_mult", m.width_mult}};
}

fixed::Metric parse_metric(const std::string& name) {
  if (name == "mae") return fixed::Metric::kMae;
  if (name == "rms") return fixed::Metric::kRms;
  return fixed::Metric::kStd;
}

QuantOptions quant_options(const TrainConfig& c, const std::string& mode) {
  QuantOptions q;
  q.mode = parse_mode(mode);
  q.metric = parse_metric(c.quant.metric);
  q.grid_search = c.quant.grid_search;
  q.per_channel = c.quant.per_channel;
  q.no_clipping = c.quant.no_clipping;
  q.normalize_input = c.data.normalize;
  q.quant_avgpool = c.quant.quant_avgpool;
  q.fl_momentum = static_cast<float>(c.quant.fl_momentum);
  q.initial_input_fl = static_cast<float>(c.quant.initial_input_fl);
  q.initial_weight_fl = static_cast<float>(c.quant.initial_weight_fl);
  q.alpha_init = c.quant.alpha_init;
  q.rescale_forward = c.quant.rescale_forward;
  q.relu6 = c.model.relu6;
  q.weight_bits = static_cast<int>(c.quant.weight_bits);
  q.activation_bits = static_cast<int>(c.quant.activation_bits);
  q.first_last_8bit = c.quant.first_last_8bit;
  for (const LayerBitsConfig& e : c.quant.layer_bits) {
    q.layer_bits.push_back({e.layer, static_cast<int>(e.weight), static_cast<int>(e.activation)});
  }
  return q;
}

Net build_model(const ModelOptions& options) {
  const auto names = model_names();
  if (std::find(names.begin(), names.end(), options.arch) == names.end()) {
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    throw ConfigError("config: key 'model.arch': unknown model '" + options.arch + "' (known: " +
                      known + ")");
  }
  try {
    return make_model(options);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error("model " + options.arch + " (" + std::to_string(options.in_channels) +
                             "x" + std::to_string(options.input_size) + "x" +
                             std::to_string(options.input_size) + " input, " +
                             std::to_string(options.num_classes) + " classes): " + e.what());
  }
}

// The data sets and transforms of a run, checked against each other.
struct RunData {
  std::shared_ptr<const Dataset> train, val;
  TransformOptions train_transform, val_transform;
  int64_t channels = 0, input_size = 0, num_classes = 0;
};

void check_fits(const DataConfig& data, const Dataset& ds, int64_t channels, int64_t size,
                int64_t classes, const std::string& what) {
  if (ds.num_classes() != classes) {
    throw DataError(ds.description() + ": has " + std::to_string(ds.num_classes()) +
                    " classes but the " + what + " has " + std::to_string(classes));
  }
  if (model_channels(data, ds) != channels) {
    throw DataError(ds.description() + ": gives " + std::to_string(model_channels(data, ds)) +
                    "-channel images but the " + what + " takes " + std::to_string(channels));
  }
  if (model_input_size(data, ds) != size) {
    throw DataError(ds.description() + ": gives " + std::to_string(model_input_size(data, ds)) +
                    "-pixel images but the " + what + " takes " + std::to_string(size));
  }
}

RunData open_run_data(const DataConfig& data) {
  RunData d;
  d.train = open_dataset(data, Split::kTrain);
  d.val = open_dataset(data, Split::kVal);
  d.channels = model_channels(data, *d.train);
  d.input_size = model_input_size(data, *d.train);
  d.num_classes = d.train->num_classes();
  check_fits(data, *d.val, d.channels, d.input_size, d.num_classes, "training set");
  d.train_transform = make_transform(data, *d.train, true);
  d.val_transform = make_transform(data, *d.val, false);
  return d;
}

struct EvalTotals {
  double loss = 0, top1 = 0, top5 = 0;
  int64_t images = 0;
  bool interrupted = false;
};

// A batch's images as an N x C x H x W float tensor (a view of the batch's memory).
torch::Tensor batch_images(Batch& batch) {
  return torch::from_blob(batch.images.data(), {batch.n, batch.c, batch.h, batch.w}, torch::kFloat);
}

// Loader options for `batch_size` with the data config's workers and prefetch (in data-set
// order unless the caller turns shuffling on).
LoaderOptions loader_options(const DataConfig& data, int64_t batch_size) {
  LoaderOptions lo;
  lo.batch_size = batch_size;
  lo.workers = data.workers;
  lo.prefetch = data.prefetch;
  return lo;
}

// bn_calib_before_test (fix_train.py's calib phase): every conv layer in training mode (BN
// statistics reset and averaged cumulatively, input FL averages updated), the classifier in
// evaluation mode, over the first `batches` training batches in order with the evaluation
// transform, without gradients. Returns the images seen.
int64_t calibrate_bn(NetImpl& model, const std::shared_ptr<const Dataset>& train,
                     const TransformOptions& transform, const DataConfig& data, int64_t batch_size,
                     int64_t batches) {
  torch::NoGradGuard no_grad;
  model.eval();
  std::vector<QConvBNImpl*> convs;
  for (const auto& m : model.modules(/*include_self=*/false)) {
    if (auto* c = dynamic_cast<QConvBNImpl*>(m.get())) {
      c->begin_bn_calibration();
      c->train(true);
      convs.push_back(c);
    }
  }
  BatchLoader loader(train, transform, loader_options(data, batch_size));
  Batch batch;
  int64_t images = 0;
  for (int64_t b = 0; b < batches && loader.next(batch); ++b) {
    model.forward(batch_images(batch));
    images += batch.n;
  }
  for (QConvBNImpl* c : convs) c->end_bn_calibration();
  model.eval();
  return images;
}

EvalTotals evaluate(NetImpl& model, const std::shared_ptr<const Dataset>& ds,
                    const TransformOptions& transform, const DataConfig& data, int64_t batch_size,
                    const std::string& stage, TrainObserver* observer,
                    const std::atomic<int>* stop) {
  model.eval();
  torch::NoGradGuard no_grad;
  BatchLoader loader(ds, transform, loader_options(data, batch_size));
  EvalTotals t;
  double loss_sum = 0;
  int64_t c1 = 0, c5 = 0;
  Batch batch;
  while (loader.next(batch)) {
    if (stop && stop->load()) {
      t.interrupted = true;
      return t;
    }
    const torch::Tensor y = torch::from_blob(batch.labels.data(), {batch.n}, torch::kLong);
    const torch::Tensor logits = model.forward(batch_images(batch)).to(torch::kFloat);
    // The loss on training-scale logits (fixed mode: times s_fc ws, F8NET.md decision 2).
    const auto sum = torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum);
    loss_sum += torch::nn::functional::cross_entropy(logits * model.logit_scale(), y, sum)
                    .item<double>();
    const int64_t k = std::min<int64_t>(5, logits.size(1));
    const torch::Tensor top = std::get<1>(logits.topk(k, 1));
    const torch::Tensor hit = top.eq(y.unsqueeze(1));
    c1 += hit.select(1, 0).sum().item<int64_t>();
    c5 += hit.any(1).sum().item<int64_t>();
    t.images += batch.n;
    if (observer) observer->evaluating(stage, batch.index + 1, loader.num_batches());
  }
  if (t.images > 0) {
    t.loss = loss_sum / static_cast<double>(t.images);
    t.top1 = 100.0 * static_cast<double>(c1) / static_cast<double>(t.images);
    t.top5 = 100.0 * static_cast<double>(c5) / static_cast<double>(t.images);
  }
  return t;
}

std::vector<LayerFormat> layer_formats(NetImpl& model) {
  std::vector<LayerFormat> out;
  if (model.options().quant.mode != Mode::kFixed) return out;
  torch::NoGradGuard no_grad;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    LayerFormat f;
    f.name = item.key();
    std::vector<int> wfl;
    if (const auto* conv = dynamic_cast<const QConvBNImpl*>(item.value().get())) {
      f.kind = conv->options().depthwise() ? "depthwise" : "conv";
      f.input_fl = conv->input_fl_used();
      f.input_signed = conv->input_signed();
      f.input_raw = conv->input_kind() == InputKind::kRaw01;
      wfl = conv->integer_codes().weight_fl;
    } else if (const auto* fc = dynamic_cast<const QLinearImpl*>(item.value().get())) {
      f.kind = "fc";
      f.input_fl = fc->input_fl_used();
      f.input_signed = fc->input_signed();
      wfl = fc->integer_codes().weight_fl;
    } else {
      continue;
    }
    if (!wfl.empty()) {
      f.weight_fl_min = *std::min_element(wfl.begin(), wfl.end());
      f.weight_fl_max = *std::max_element(wfl.begin(), wfl.end());
    }
    out.push_back(f);
  }
  return out;
}

ModelOptions run_model_options(const TrainConfig& c, const RunData& data, const std::string& mode) {
  ModelOptions m;
  m.arch = c.model.arch;
  m.in_channels = data.channels;
  m.input_size = data.input_size;
  m.num_classes = data.num_classes;
  m.width_mult = c.model.width_mult;
  m.stem = c.model.stem;
  m.resnet_variant = c.model.resnet_variant;
  m.quant = quant_options(c, mode);
  return m;
}

class Run {
 public:
  Run(TrainConfig config, RunOptions options) : c_(std::move(config)), o_(std::move(options)) {}

  TrainResult run() {
    const auto start = Clock::now();
    const int64_t threads = resolve_threads(o_.threads > 0 ? o_.threads : c_.threads);
    torch::set_num_threads(static_cast<int>(threads));
    data_ = open_run_data(c_.data);
    TrainResult result;
    std::string previous_best;
    for (const auto* stage : {&c_.pretrain, &c_.train}) {
      const std::string name = stage == &c_.pretrain ? "pretrain" : "train";
      StageResult sr;
      sr.name = name;
      sr.mode = stage->mode;
      if (!stage->enabled) {
        result.stages.push_back(sr);
        continue;
      }
      std::string init = stage->init;
      if (init.empty() && stage == &c_.train && c_.pretrain.enabled) init = previous_best;
      const bool finished = run_stage(name, *stage, init, sr);
      result.stages.push_back(sr);
      previous_best = sr.best_checkpoint;
      if (!finished) {
        result.interrupted = true;
        result.seconds = seconds_since(start);
        return result;
      }
    }
    // The formats of the final model, as evaluated.
    const StageResult& last = result.stages.back();
    Net model = build_model(model_options(c_.train.mode));
    load_checkpoint(last.best_checkpoint, *model, nullptr, false);
    model->eval();
    result.layers = layer_formats(*model);
    result.seconds = seconds_since(start);
    return result;
  }

 private:
  ModelOptions model_options(const std::string& mode) const {
    return run_model_options(c_, data_, mode);
  }

  std::string path(const std::string& file) const { return (fs::path(o_.out_dir) / file).string(); }

  void write_metrics(const std::vector<EpochRecord>& current) const {
    std::string text;
    for (const auto& r : finished_history_) text += to_json(r).dump() + "\n";
    for (const auto& r : current) text += to_json(r).dump() + "\n";
    write_file_atomic(path("metrics.jsonl"), text);
  }

  void save(const std::string& file, const std::string& stage, const std::string& mode,
            const ModelOptions& mo, const StageState& s, NetImpl& model,
            const torch::optim::Optimizer& opt) const {
    const json meta = {{"format", "f8net-checkpoint"}, {"version", kCheckpointVersion},
                       {"stage", stage},               {"mode", mode},
                       {"model", model_to_json(mo)},   {"dataset", c_.data.dataset},
                       {"state", state_to_json(s)}};
    save_checkpoint(file, model, &opt, meta.dump(), config_to_yaml(c_));
  }

  // Runs (or resumes, or skips when finished) one stage; false when interrupted.
  bool run_stage(const std::string& name, const StageConfig& st, const std::string& init,
                 StageResult& sr) {
    const std::string last_path = path(name + "-last.pt");
    const std::string best_path = path(name + "-best.pt");
    sr.last_checkpoint = last_path;
    sr.best_checkpoint = best_path;
    const ModelOptions mo = model_options(st.mode);

    torch::manual_seed(static_cast<uint64_t>(c_.seed));
    Net model = build_model(mo);
    const int64_t ipe =
        BatchLoader::count_batches(data_.train->size(), st.batch_size, st.drop_last);
    if (ipe == 0) {
      throw ConfigError("config: key '" + name + ".batch_size': " + std::to_string(st.batch_size) +
                        " exceeds the " + std::to_string(data_.train->size()) + " training images");
    }
    const int64_t total = st.iterations > 0 ? st.iterations : st.epochs * ipe;
    const int64_t num_epochs = (total + ipe - 1) / ipe;
    const int64_t warmup = std::llround(st.warmup_epochs * static_cast<double>(ipe));

    std::vector<torch::Tensor> decay, no_decay;
    for (const auto& p : model->named_parameters()) {
      if (!p.value().requires_grad()) continue;
      const torch::Tensor& t = p.value();
      (weight_decay_applies(st.wd_scheme, t.sizes().vec()) ? decay : no_decay).push_back(t);
    }
    auto sgd = [&](double wd) {
      return torch::optim::SGDOptions(st.lr).momentum(st.momentum).nesterov(st.nesterov).weight_decay(wd);
    };
    std::vector<torch::optim::OptimizerParamGroup> groups;
    if (!decay.empty()) {
      groups.emplace_back(decay, std::make_unique<torch::optim::SGDOptions>(sgd(st.weight_decay)));
    }
    if (!no_decay.empty()) {
      groups.emplace_back(no_decay, std::make_unique<torch::optim::SGDOptions>(sgd(0.0)));
    }
    torch::optim::SGD opt(groups, sgd(st.weight_decay));

    StageState s;
    std::error_code ec;
    if (o_.resume && fs::exists(last_path, ec)) {
      const CheckpointInfo info = read_checkpoint_info(last_path);
      try {
        const json meta = json::parse(info.meta_json);
        // A resume point of another stage or mode (a renamed or copied file) would continue the
        // wrong training silently.
        const std::string got_stage = meta.at("stage").get<std::string>();
        const std::string got_mode = meta.at("mode").get<std::string>();
        if (got_stage != name || got_mode != st.mode) {
          throw std::runtime_error(last_path + ": is the resume point of stage '" + got_stage +
                                   "' (" + got_mode + "), not of '" + name + "' (" + st.mode +
                                   "): not resuming from it");
        }
        s = state_from_json(meta.at("state"));
      } catch (const json::exception& e) {
        throw std::runtime_error(last_path + ": bad checkpoint metadata (" + e.what() + ")");
      }
      load_checkpoint(last_path, *model, &opt, true);
      sr.resumed_iterations = s.iteration;
      if (!s.done) note("resuming " + name + " at epoch " + std::to_string(s.epoch + 1) + ", batch " +
                        std::to_string(s.batch) + " (iteration " + std::to_string(s.iteration) + ")");
    } else if (!init.empty()) {
      std::error_code init_ec;
      if (!fs::is_regular_file(init, init_ec)) {
        throw std::runtime_error(name + ".init: " + init + ": no such checkpoint");
      }
      const LoadReport report = load_state_by_intersection(*model, init);
      if (report.loaded.empty()) {
        throw std::runtime_error(name + ".init: " + init + " shares no parameter with the model");
      }
      note(name + ": initialized from " + init + " (" + std::to_string(report.loaded.size()) +
           " tensors; " + std::to_string(report.missing.size()) + " missing, " +
           std::to_string(report.shape_mismatch.size()) + " of another shape)");
    }

    std::ostringstream summary;
    summary << mo.arch << " x" << mo.width_mult << ", " << data_.train->description() << ", "
            << total << " iterations (" << num_epochs << " epochs x " << ipe
            << "), batch " << st.batch_size << ", lr " << st.lr << ", wd " << st.weight_decay
            << " (" << st.wd_scheme << "), " << torch::get_num_threads() << " threads";
    if (o_.observer && !s.done) o_.observer->stage_started(name, st.mode, summary.str());

    const auto stopping = [&] { return o_.stop && o_.stop->load() != 0; };
    auto last_save = Clock::now();
    while (!s.done) {
      const auto epoch_start = Clock::now();
      const double before = s.epoch_seconds;
      const int64_t batches = std::min(ipe, total - s.epoch * ipe);
      double lr = 0;
      if (s.batch < batches) {
        LoaderOptions lo = loader_options(c_.data, st.batch_size);
        lo.shuffle = true;
        lo.drop_last = st.drop_last;
        lo.seed = static_cast<uint64_t>(c_.seed);
        lo.epoch = s.epoch;
        lo.start_batch = s.batch;
        BatchLoader loader(data_.train, data_.train_transform, lo);
        model->train();
        Batch batch;
        while (s.batch < batches && loader.next(batch)) {
          lr = st.lr * lr_factor(st, s.iteration, warmup, total, ipe);
          for (auto& g : opt.param_groups()) {
            static_cast<torch::optim::SGDOptions&>(g.options()).lr(lr);
          }
          const torch::Tensor x = batch_images(batch);
          const torch::Tensor y = torch::from_blob(batch.labels.data(), {batch.n}, torch::kLong);
          opt.zero_grad();
          const torch::Tensor logits = model->forward(x);
          const torch::Tensor loss = torch::nn::functional::cross_entropy(
              logits, y,
              torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(st.label_smoothing));
          loss.backward();
          opt.step();
          const double l = loss.item<double>();
          if (!std::isfinite(l)) {
            throw std::runtime_error(name + ": training diverged (loss " + std::to_string(l) +
                                     ") at iteration " + std::to_string(s.iteration + 1) +
                                     ": lower " + name + ".lr");
          }
          s.loss_sum += l * static_cast<double>(batch.n);
          s.correct += logits.argmax(1).eq(y).sum().item<int64_t>();
          s.seen += batch.n;
          ++s.batch;
          ++s.iteration;
          const CheckpointConfig& every = c_.checkpoint;
          if (s.batch < batches &&
              ((every.every_iterations > 0 && s.iteration % every.every_iterations == 0) ||
               (every.every_seconds > 0 && seconds_since(last_save) >= every.every_seconds))) {
            // A mid-epoch resume point: the loader restarts at s.batch with the same order.
            s.epoch_seconds = before + seconds_since(epoch_start);
            save(last_path, name, st.mode, mo, s, *model, opt);
            last_save = Clock::now();
          }
          if (o_.observer) {
            IterationInfo info;
            info.stage = name;
            info.epoch = s.epoch + 1;
            info.epochs = num_epochs;
            info.batch = s.batch;
            info.batches = batches;
            info.iteration = s.iteration;
            info.iterations = total;
            info.images = batch.n;
            info.loss = s.loss_sum / static_cast<double>(s.seen);
            info.top1 = 100.0 * static_cast<double>(s.correct) / static_cast<double>(s.seen);
            info.lr = lr;
            o_.observer->iteration(info);
          }
          if (stopping()) {
            s.epoch_seconds = before + seconds_since(epoch_start);
            save(last_path, name, st.mode, mo, s, *model, opt);
            note("interrupted: state saved to " + last_path);
            return false;
          }
        }
      } else {
        lr = st.lr * lr_factor(st, std::max<int64_t>(0, s.iteration - 1), warmup, total, ipe);
      }
      if (st.bn_calib_batches > 0) {
        calibrate_bn(*model, data_.train, data_.val_transform, c_.data, st.batch_size,
                     st.bn_calib_batches);
      }
      const EvalTotals ev = evaluate(*model, data_.val, data_.val_transform, c_.data,
                                     st.batch_size, name, o_.observer, o_.stop);
      if (ev.interrupted) {
        s.epoch_seconds = before + seconds_since(epoch_start);
        save(last_path, name, st.mode, mo, s, *model, opt);
        note("interrupted: state saved to " + last_path);
        return false;
      }
      EpochRecord r;
      r.stage = name;
      r.mode = st.mode;
      r.epoch = s.epoch + 1;
      r.iteration = s.iteration;
      r.lr = lr;
      r.train_loss = s.seen ? s.loss_sum / static_cast<double>(s.seen) : 0.0;
      r.train_top1 = s.seen ? 100.0 * static_cast<double>(s.correct) / static_cast<double>(s.seen) : 0.0;
      r.val_loss = ev.loss;
      r.val_top1 = ev.top1;
      r.val_top5 = ev.top5;
      r.seconds = before + seconds_since(epoch_start);
      s.history.push_back(r);
      s.final_top1 = ev.top1;
      s.final_top5 = ev.top5;
      ++s.epoch;
      s.batch = 0;
      s.loss_sum = 0;
      s.correct = s.seen = 0;
      s.epoch_seconds = 0;
      s.done = s.iteration >= total;
      const bool best = ev.top1 > s.best_top1;
      if (best) {
        s.best_top1 = ev.top1;
        s.best_top5 = ev.top5;
        s.best_loss = ev.loss;
        s.best_epoch = r.epoch;
        save(best_path, name, st.mode, mo, s, *model, opt);
      }
      save(last_path, name, st.mode, mo, s, *model, opt);
      last_save = Clock::now();
      write_metrics(s.history);
      if (o_.observer) o_.observer->epoch_done(r);
      if (stopping() && !s.done) {
        note("interrupted: state saved to " + last_path);
        return false;
      }
    }
    finished_history_.insert(finished_history_.end(), s.history.begin(), s.history.end());
    sr.ran = true;
    sr.epochs = s.epoch;
    sr.iterations = s.iteration;
    sr.best_top1 = s.best_top1;
    sr.best_top5 = s.best_top5;
    sr.best_loss = s.best_loss;
    sr.best_epoch = s.best_epoch;
    sr.final_top1 = s.final_top1;
    sr.final_top5 = s.final_top5;
    return true;
  }

  void note(const std::string& text) const {
    if (o_.observer) o_.observer->message(text);
  }

  TrainConfig c_;
  RunOptions o_;
  RunData data_;
  std::vector<EpochRecord> finished_history_;
};

// Turns LibTorch errors (multi-line, with a backtrace) into one-line runtime errors.
template <typename F>
auto one_line_errors(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::Error& e) {
    throw std::runtime_error("LibTorch: " + torch_error_line(e));
  }
}

bool dir_has_run(const std::string& dir) {
  std::error_code ec;
  // config.yaml alone is a start that failed before any checkpoint: a retry may replace it.
  for (const char* f : {"metrics.jsonl", "pretrain-last.pt", "train-last.pt", "pretrain-best.pt",
                        "train-best.pt"}) {
    if (fs::exists(fs::path(dir) / f, ec)) return true;
  }
  return false;
}

// Temporary files of write_file_atomic (".<name>.tmp-XXXXXX") left by a process that was
// killed mid-write; safe to remove because the run lock is held.
void remove_stale_temporaries(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.size() > 1 && n[0] == '.' && n.find(".tmp-") != std::string::npos && e.is_regular_file(ec)) {
      fs::remove(e.path(), ec);
    }
  }
}

}  // namespace

bool weight_decay_applies(const std::string& scheme, const std::vector<int64_t>& shape) {
  const size_t d = shape.size();
  const bool conv = d == 4 && shape[1] != 1;  // 4-D and not depthwise (N, 1, k, k)
  if (scheme == "all") return true;
  if (scheme == "no_depthwise_no_bn") return conv || d == 2;
  if (scheme == "only_no_depthwise") return conv || d == 1 || d == 2;
  if (scheme == "only_no_bn") return d == 4 || d == 2;
  throw ConfigError("unknown weight-decay scheme '" + scheme + "'");
}

CalibrateResult calibrate_checkpoint(const CalibrateOptions& options) {
  if (options.out.empty()) throw std::runtime_error("calibrate: no output checkpoint given");
  if (options.batches < 1) throw std::runtime_error("calibrate: batches must be >= 1");
  CheckpointModel cm = open_checkpoint_model(options.checkpoint, options.data_dir, options.threads);
  const auto train = open_dataset(cm.config.data, Split::kTrain);
  const int64_t batch_size = options.batch_size > 0 ? options.batch_size : cm.config.train.batch_size;
  CalibrateResult r;
  r.before = evaluate(*cm.model, cm.val, cm.val_transform, cm.config.data, batch_size, "calibrate",
                      options.observer, nullptr)
                 .top1;
  r.images = calibrate_bn(*cm.model, train, make_transform(cm.config.data, *train, false),
                          cm.config.data, batch_size, options.batches);
  r.after = evaluate(*cm.model, cm.val, cm.val_transform, cm.config.data, batch_size, "calibrate",
                     options.observer, nullptr)
                .top1;
  const CheckpointInfo info = read_checkpoint_info(options.checkpoint);
  save_checkpoint(options.out, *cm.model, nullptr, info.meta_json, info.config_yaml);
  return r;
}

int64_t resolve_threads(int64_t requested) {
  if (requested > 0) return requested;
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? n : 1;
}

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

TrainConfig load_run_config(const std::string& out_dir) {
  const std::string file = (fs::path(out_dir) / "config.yaml").string();
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    throw std::runtime_error(out_dir + ": no config.yaml: not a run directory to resume");
  }
  return load_config(file);
}

TrainResult run_training(const TrainConfig& config, const RunOptions& options) {
  if (options.out_dir.empty()) throw std::runtime_error("no output directory given");
  TrainConfig c = config;
  std::error_code ec;
  const fs::path out(options.out_dir);
  if (options.resume) {
    c = load_run_config(options.out_dir);
  } else {
    if (fs::exists(out, ec) && !fs::is_directory(out, ec)) {
      throw std::runtime_error(options.out_dir + ": exists and is not a directory");
    }
    if (fs::is_directory(out, ec) && dir_has_run(options.out_dir)) {
      throw std::runtime_error(options.out_dir +
                               ": already holds a run (use --resume to continue it, or another --out)");
    }
  }
  validate_config(c);
  // Open the data and build the model before creating anything, so bad data or a model that
  // does not fit leaves no directory behind.
  one_line_errors([&] {
    const RunData data = open_run_data(c.data);
    build_model(run_model_options(c, data, c.train.mode));
    return 0;
  });
  if (!options.resume) {
    fs::create_directories(out, ec);
    if (ec) throw std::runtime_error(options.out_dir + ": cannot create the directory: " + ec.message());
  }
  // One writer per run directory; a second process started at the same moment passed the check
  // above too, so it is repeated under the lock.
  const detail::RunLock lock(options.out_dir);
  remove_stale_temporaries(options.out_dir);
  if (!options.resume) {
    if (dir_has_run(options.out_dir)) {
      throw std::runtime_error(options.out_dir +
                               ": already holds a run (use --resume to continue it, or another --out)");
    }
    write_file_atomic((out / "config.yaml").string(), config_to_yaml(c));
  }
  Run run(c, options);
  return one_line_errors([&] { return run.run(); });
}

CheckpointModel open_checkpoint_model(const std::string& path, const std::string& data_dir,
                                      int64_t threads) {
  return one_line_errors([&] {
    const CheckpointInfo info = read_checkpoint_info(path);
    json meta;
    try {
      meta = json::parse(info.meta_json);
      if (meta.value("format", "") != "f8net-checkpoint") {
        throw std::runtime_error("no f8net metadata");
      }
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ": not an f8net training checkpoint (" + e.what() + ")");
    }
    CheckpointModel r;
    r.config = parse_config(info.config_yaml, {}, path + " (embedded config)");
    if (!data_dir.empty()) r.config.data.dir = data_dir;
    torch::set_num_threads(static_cast<int>(resolve_threads(threads > 0 ? threads
                                                                         : r.config.threads)));
    try {
      const json& m = meta.at("model");
      r.options.arch = m.at("arch").get<std::string>();
      r.options.in_channels = m.at("in_channels").get<int64_t>();
      r.options.input_size = m.at("input_size").get<int64_t>();
      r.options.num_classes = m.at("num_classes").get<int64_t>();
      r.options.width_mult = m.at("width_mult").get<double>();
      r.options.stem = r.config.model.stem;
      r.options.resnet_variant = r.config.model.resnet_variant;
      r.mode = meta.at("mode").get<std::string>();
      r.stage = meta.value("stage", "");
    } catch (const json::exception& e) {
      throw std::runtime_error(path + ": malformed f8net metadata (" + e.what() + ")");
    }
    r.options.quant = quant_options(r.config, r.mode);
    r.val = open_dataset(r.config.data, Split::kVal);
    check_fits(r.config.data, *r.val, r.options.in_channels, r.options.input_size,
               r.options.num_classes, "model");
    r.val_transform = make_transform(r.config.data, *r.val, false);
    r.model = build_model(r.options);
    load_checkpoint(path, *r.model, nullptr, false);
    r.model->eval();
    return r;
  });
}

EvalResult evaluate_checkpoint(const EvalOptions& options) {
  CheckpointModel cm = open_checkpoint_model(options.checkpoint, options.data_dir, options.threads);
  return one_line_errors([&] {
    const int64_t batch_size = std::max<int64_t>(cm.config.train.batch_size, 64);
    const EvalTotals t = evaluate(*cm.model, cm.val, cm.val_transform, cm.config.data, batch_size,
                                  "eval", options.observer, nullptr);
    EvalResult r;
    r.top1 = t.top1;
    r.top5 = t.top5;
    r.loss = t.loss;
    r.images = t.images;
    r.arch = cm.options.arch;
    r.mode = cm.mode;
    r.stage = cm.stage;
    r.dataset = cm.config.data.dataset;
    r.layers = layer_formats(*cm.model);
    return r;
  });
}

}  // namespace f8net::qat
