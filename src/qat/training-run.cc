// The stage loop of a training run (training-run.h). Resume is exact because the batches depend
// only on (seed, epoch, batch index) and every other piece of state (model parameters and
// buffers, optimizer momenta, RNG, epoch accumulators) is in the checkpoint.
#include "training-run.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "evaluation-loop.h"
#include "f8net/qat/checkpoint.h"
#include "f8net/qat/dist-stats.h"
#include "f8net/qat/schedule.h"
#include "file-io.h"
#include "model-options.h"
#include "state-io.h"

namespace f8net::qat::detail {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

std::unique_ptr<torch::optim::SGD> make_optimizer(NetImpl& model, const StageConfig& st) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : model.named_parameters()) {
    if (!p.value().requires_grad()) continue;
    const torch::Tensor& t = p.value();
    (weight_decay_applies(st.wd_scheme, t.sizes().vec()) ? decay : no_decay).push_back(t);
  }
  auto sgd = [&](double wd) {
    return torch::optim::SGDOptions(st.lr)
        .momentum(st.momentum)
        .nesterov(st.nesterov)
        .weight_decay(wd);
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decay.empty()) {
    groups.emplace_back(decay, std::make_unique<torch::optim::SGDOptions>(sgd(st.weight_decay)));
  }
  if (!no_decay.empty()) {
    groups.emplace_back(no_decay, std::make_unique<torch::optim::SGDOptions>(sgd(0.0)));
  }
  return std::make_unique<torch::optim::SGD>(groups, sgd(st.weight_decay));
}

TrainingRun::TrainingRun(TrainConfig config, RunOptions options)
    : c_(std::move(config)), o_(std::move(options)) {}

TrainResult TrainingRun::run() {
  const auto start = Clock::now();
  const int64_t threads = resolve_threads(o_.threads > 0 ? o_.threads : c_.threads);
  torch::set_num_threads(static_cast<int>(threads));
  // Every rank joins before any stage starts: a rank that cannot start fails the rendezvous
  // (one line), not a later step.
  dp_ = std::make_unique<DataParallel>(o_.dist,
                                       DistOptions{c_.dist.sync_stats, c_.dist.timeout_seconds});
  if (!dp_->writes()) o_.observer = nullptr;  // rank 0 reports progress
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
  if (!dp_->writes()) {  // the best checkpoint is rank 0's file
    result.seconds = seconds_since(start);
    return result;
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

ModelOptions TrainingRun::model_options(const std::string& mode) const {
  return run_model_options(c_, data_, mode);
}

std::string TrainingRun::path(const std::string& file) const {
  return (fs::path(o_.out_dir) / file).string();
}

void TrainingRun::write_metrics(const std::vector<EpochRecord>& current) const {
  if (!dp_->writes()) return;
  std::string text;
  for (const auto& r : finished_history_) text += to_json(r).dump() + "\n";
  for (const auto& r : current) text += to_json(r).dump() + "\n";
  write_file_atomic(path("metrics.jsonl"), text);
}

void TrainingRun::save(const std::string& file, const Stage& stage, const StageState& s,
                       NetImpl& model, const torch::optim::Optimizer& opt) const {
  // Every rank reaches every save (the decisions to save are agreed): equal buffers everywhere,
  // then rank 0 writes.
  dp_->sync_state(model);
  dp_->check_identical(model, file);
  if (!dp_->writes()) return;
  const json meta = {{"format", "f8net-checkpoint"},
                     {"version", kCheckpointVersion},
                     {"stage", stage.name},
                     {"mode", stage.config->mode},
                     {"model", model_to_json(stage.model_options)},
                     {"dataset", c_.data.dataset},
                     {"state", state_to_json(s)}};
  save_checkpoint(file, model, &opt, meta.dump(), config_to_yaml(c_));
}

void TrainingRun::note(const std::string& text) const {
  if (o_.observer) o_.observer->message(text);
}

bool TrainingRun::stopping() const { return o_.stop && o_.stop->load() != 0; }

bool TrainingRun::stop_agreed() const {
  if (!dp_->distributed()) return stopping();
  return dp_->sum<1>({stopping() ? 1.0 : 0.0}, "the stop request")[0] > 0;
}

TrainingRun::Stage TrainingRun::plan_stage(const std::string& name, const StageConfig& st) const {
  Stage stage;
  stage.name = name;
  stage.config = &st;
  stage.model_options = model_options(st.mode);
  stage.last_path = path(name + "-last.pt");
  stage.best_path = path(name + "-best.pt");
  stage.iters_per_epoch =
      data::BatchLoader::count_batches(data_.train->size(), st.batch_size, st.drop_last);
  if (stage.iters_per_epoch == 0) {
    throw ConfigError("config: key '" + name + ".batch_size': " + std::to_string(st.batch_size) +
                      " exceeds the " + std::to_string(data_.train->size()) + " training images");
  }
  const int64_t ipe = stage.iters_per_epoch;
  const int64_t last_batch = st.drop_last ? st.batch_size : data_.train->size() % st.batch_size;
  if (dp_->distributed() && std::min(st.batch_size, last_batch > 0 ? last_batch : st.batch_size) <
                                2 * static_cast<int64_t>(dp_->world_size())) {
    throw ConfigError("config: key '" + name +
                      ".batch_size' (the global batch): " + std::to_string(st.batch_size) +
                      " leaves a batch of fewer than 2 images " + "per rank on " +
                      std::to_string(dp_->world_size()) + " ranks (BN statistics need 2)");
  }
  stage.total = st.iterations > 0 ? st.iterations : st.epochs * ipe;
  stage.num_epochs = (stage.total + ipe - 1) / ipe;
  stage.warmup = std::llround(st.warmup_epochs * static_cast<double>(ipe));
  return stage;
}

StageState TrainingRun::resume_or_initialize(const Stage& stage, const std::string& init,
                                             NetImpl& model, torch::optim::Optimizer& opt,
                                             StageResult& sr) const {
  const std::string& name = stage.name;
  const std::string& mode = stage.config->mode;
  StageState s;
  std::error_code ec;
  if (o_.resume && fs::exists(stage.last_path, ec)) {
    const CheckpointInfo info = read_checkpoint_info(stage.last_path);
    try {
      const json meta = json::parse(info.meta_json);
      // A resume point of another stage or mode (a renamed or copied file) would continue the
      // wrong training silently.
      const std::string got_stage = meta.at("stage").get<std::string>();
      const std::string got_mode = meta.at("mode").get<std::string>();
      if (got_stage != name || got_mode != mode) {
        throw std::runtime_error(stage.last_path + ": is the resume point of stage '" + got_stage +
                                 "' (" + got_mode + "), not of '" + name + "' (" + mode +
                                 "): not resuming from it");
      }
      s = state_from_json(meta.at("state"));
    } catch (const json::exception& e) {
      throw std::runtime_error(stage.last_path + ": bad checkpoint metadata (" + e.what() + ")");
    }
    load_checkpoint(stage.last_path, model, &opt, true);
    sr.resumed_iterations = s.iteration;
    if (!s.done) {
      note("resuming " + name + " at epoch " + std::to_string(s.epoch + 1) + ", batch " +
           std::to_string(s.batch) + " (iteration " + std::to_string(s.iteration) + ")");
    }
  } else if (!init.empty() && dp_->writes()) {  // other ranks get rank 0's tensors (run_stage)
    std::error_code init_ec;
    if (!fs::is_regular_file(init, init_ec)) {
      throw std::runtime_error(name + ".init: " + init + ": no such checkpoint");
    }
    const LoadReport report = load_state_by_intersection(model, init);
    if (report.loaded.empty()) {
      throw std::runtime_error(name + ".init: " + init + " shares no parameter with the model");
    }
    note(name + ": initialized from " + init + " (" + std::to_string(report.loaded.size()) +
         " tensors; " + std::to_string(report.missing.size()) + " missing, " +
         std::to_string(report.shape_mismatch.size()) + " of another shape)");
  }
  return s;
}

bool TrainingRun::run_stage(const std::string& name, const StageConfig& st, const std::string& init,
                            StageResult& sr) {
  const Stage stage = plan_stage(name, st);
  sr.last_checkpoint = stage.last_path;
  sr.best_checkpoint = stage.best_path;

  torch::manual_seed(static_cast<uint64_t>(c_.seed));
  Net model = build_model(stage.model_options);
  const std::unique_ptr<torch::optim::SGD> opt = make_optimizer(*model, st);
  StageState s = resume_or_initialize(stage, init, *model, *opt, sr);
  model->to(device_ = torch::Device(st.device == "cuda" ? torch::kCUDA : torch::kCPU));
  if (dp_->distributed()) {
    // One starting point: rank 0's tensors, and every rank at rank 0's place in the stage (a
    // rank that resumed from other files would train another run).
    dp_->share_initial_state(*model);
    dp_->agree({static_cast<double>(s.iteration), static_cast<double>(s.epoch),
                static_cast<double>(s.batch), s.done ? 1.0 : 0.0},
               name + "'s resume point (--resume needs rank 0's run directory on every machine)");
  }

  const ModelOptions& mo = stage.model_options;
  std::ostringstream summary;
  summary << mo.arch << " x" << mo.width_mult << ", " << data_.train->description() << ", "
          << stage.total << " iterations (" << stage.num_epochs << " epochs x "
          << stage.iters_per_epoch << "), batch " << st.batch_size << ", lr " << st.lr << ", wd "
          << st.weight_decay << " (" << st.wd_scheme << "), " << torch::get_num_threads()
          << " threads";
  if (o_.observer && !s.done) o_.observer->stage_started(name, st.mode, summary.str());

  auto last_save = Clock::now();
  while (!s.done) {
    const auto epoch_start = Clock::now();
    const double before = s.epoch_seconds;
    double lr = 0;
    if (!train_epoch(stage, s, *model, *opt, epoch_start, lr, last_save)) return false;
    if (!finish_epoch(stage, s, *model, *opt, epoch_start, before, lr, last_save)) return false;
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

bool TrainingRun::train_epoch(const Stage& stage, StageState& s, NetImpl& model,
                              torch::optim::SGD& opt, Clock::time_point epoch_start, double& lr,
                              Clock::time_point& last_save) const {
  const StageConfig& st = *stage.config;
  const int64_t ipe = stage.iters_per_epoch;
  const int64_t batches = std::min(ipe, stage.total - s.epoch * ipe);
  const double before = s.epoch_seconds;
  if (s.batch >= batches) {
    // Resumed after the epoch's last batch, before its evaluation: the LR it ended with.
    lr = st.lr *
         lr_factor(st, std::max<int64_t>(0, s.iteration - 1), stage.warmup, stage.total, ipe);
    return true;
  }
  data::LoaderOptions lo = loader_options(c_.data, st.batch_size);
  lo.shuffle = true;
  lo.drop_last = st.drop_last;
  lo.seed = static_cast<uint64_t>(c_.seed);
  lo.epoch = s.epoch;
  lo.start_batch = s.batch;
  data::BatchLoader loader(data_.train, data_.train_transform, lo);
  model.train();
  data::Batch batch;
  while (s.batch < batches && loader.next(batch)) {
    lr = st.lr * lr_factor(st, s.iteration, stage.warmup, stage.total, ipe);
    for (auto& g : opt.param_groups()) {
      static_cast<torch::optim::SGDOptions&>(g.options()).lr(lr);
    }
    // This rank's slice of the global batch (the whole batch in a single process).
    const Slice part = dp_->slice(batch.n);
    const torch::Tensor x = batch_images(batch).narrow(0, part.begin, part.size()).to(device_);
    const torch::Tensor y = torch::from_blob(batch.labels.data(), {batch.n}, torch::kLong)
                                .narrow(0, part.begin, part.size())
                                .to(device_);
    dp_->begin_step(model);
    opt.zero_grad();
    torch::Tensor logits, loss;
    {
      StatsSyncScope sync(dp_->sync_group());  // dist.sync_stats: global statistics
      logits = model.forward(x);
      loss = torch::nn::functional::cross_entropy(
          logits, y,
          torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(st.label_smoothing));
      (dp_->distributed() ? loss * dp_->loss_weight(part.size(), batch.n) : loss).backward();
    }
    dp_->finish_backward(model);
    opt.step();
    // The global batch's figures, and the decisions every rank must take alike: stop, and a
    // time-based save (rank 0's clock).
    const CheckpointConfig& every = c_.checkpoint;
    const bool save_due =
        every.every_seconds > 0 && seconds_since(last_save) >= every.every_seconds;
    const auto step =
        dp_->sum<5>({loss.item<double>() * static_cast<double>(part.size()),
                     static_cast<double>(logits.argmax(1).eq(y).sum().item<int64_t>()),
                     static_cast<double>(part.size()), stopping() ? 1.0 : 0.0,
                     save_due && dp_->writes() ? 1.0 : 0.0},
                    "the step's loss and decisions");
    const double l = dp_->distributed() ? step[0] / step[2] : loss.item<double>();
    if (!std::isfinite(l)) {
      throw std::runtime_error(stage.name + ": training diverged (loss " + std::to_string(l) +
                               ") at iteration " + std::to_string(s.iteration + 1) + ": lower " +
                               stage.name + ".lr");
    }
    s.loss_sum += dp_->distributed() ? step[0] : l * static_cast<double>(batch.n);
    s.correct += static_cast<int64_t>(step[1]);
    s.seen += batch.n;
    ++s.batch;
    ++s.iteration;
    if (s.batch < batches &&
        ((every.every_iterations > 0 && s.iteration % every.every_iterations == 0) ||
         (dp_->distributed() ? step[4] > 0 : save_due))) {
      // A mid-epoch resume point: the loader restarts at s.batch with the same order.
      s.epoch_seconds = before + seconds_since(epoch_start);
      save(stage.last_path, stage, s, model, opt);
      last_save = Clock::now();
    }
    if (o_.observer) {
      IterationInfo info;
      info.stage = stage.name;
      info.epoch = s.epoch + 1;
      info.epochs = stage.num_epochs;
      info.batch = s.batch;
      info.batches = batches;
      info.iteration = s.iteration;
      info.iterations = stage.total;
      info.images = batch.n;
      info.loss = s.loss_sum / static_cast<double>(s.seen);
      info.top1 = 100.0 * static_cast<double>(s.correct) / static_cast<double>(s.seen);
      info.lr = lr;
      o_.observer->iteration(info);
    }
    if (dp_->distributed() ? step[3] > 0 : stopping()) {
      s.epoch_seconds = before + seconds_since(epoch_start);
      save(stage.last_path, stage, s, model, opt);
      note("interrupted: state saved to " + stage.last_path);
      return false;
    }
  }
  return true;
}

bool TrainingRun::finish_epoch(const Stage& stage, StageState& s, NetImpl& model,
                               const torch::optim::Optimizer& opt, Clock::time_point epoch_start,
                               double seconds_before, double lr, Clock::time_point& last_save) {
  const StageConfig& st = *stage.config;
  dp_->sync_state(model);  // every rank evaluates the same model (rank 0's running buffers)
  if (st.bn_calib_batches > 0) {
    calibrate_bn(model, data_.train, data_.val_transform, c_.data, st.batch_size,
                 st.bn_calib_batches);
  }
  // Each rank evaluates its slice of every validation batch and every rank gets the summed
  // figures (same model everywhere); a stop request is agreed after it rather than polled
  // inside, where ranks could disagree.
  const EvalTotals ev =
      evaluate(model, data_.val, data_.val_transform, c_.data, st.batch_size, stage.name,
               o_.observer, dp_->distributed() ? nullptr : o_.stop, dp_->group());
  if (ev.interrupted) {
    s.epoch_seconds = seconds_before + seconds_since(epoch_start);
    save(stage.last_path, stage, s, model, opt);
    note("interrupted: state saved to " + stage.last_path);
    return false;
  }
  EpochRecord r;
  r.stage = stage.name;
  r.mode = st.mode;
  r.epoch = s.epoch + 1;
  r.iteration = s.iteration;
  r.lr = lr;
  r.train_loss = s.seen ? s.loss_sum / static_cast<double>(s.seen) : 0.0;
  r.train_top1 =
      s.seen ? 100.0 * static_cast<double>(s.correct) / static_cast<double>(s.seen) : 0.0;
  r.val_loss = ev.loss;
  r.val_top1 = ev.top1;
  r.val_top5 = ev.top5;
  r.seconds = seconds_before + seconds_since(epoch_start);
  s.history.push_back(r);
  s.final_top1 = ev.top1;
  s.final_top5 = ev.top5;
  ++s.epoch;
  s.batch = 0;
  s.loss_sum = 0;
  s.correct = s.seen = 0;
  s.epoch_seconds = 0;
  s.done = s.iteration >= stage.total;
  if (ev.top1 > s.best_top1) {
    s.best_top1 = ev.top1;
    s.best_top5 = ev.top5;
    s.best_loss = ev.loss;
    s.best_epoch = r.epoch;
    save(stage.best_path, stage, s, model, opt);
  }
  save(stage.last_path, stage, s, model, opt);
  last_save = Clock::now();
  write_metrics(s.history);
  if (o_.observer) o_.observer->epoch_done(r);
  if (stop_agreed() && !s.done) {
    note("interrupted: state saved to " + stage.last_path);
    return false;
  }
  return true;
}

}  // namespace f8net::qat::detail
