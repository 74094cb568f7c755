// The training pipeline on generated Fashion-MNIST-style data: the LR schedule, a short run
// whose loss decreases and whose run directory is complete, exact resume after an interruption
// (identical loss sequence across the stage boundary), and errors that leave nothing behind.
#include "f8net/qat/trainer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>

#include "f8net/data/batch-loader.h"
#include "f8net/data/dataset.h"
#include "f8net/data/error.h"
#include "f8net/data/open-dataset.h"
#include "f8net/data/transform.h"
#include "f8net/qat/checkpoint.h"
#include "f8net/qat/models.h"
#include "f8net/qat/schedule.h"
#include "file-io.h"
#include "qat/data-fixtures.h"

namespace f8net::qat {
namespace {

using testing::TempDir;
using json = nlohmann::json;
namespace fs = std::filesystem;

TEST(TrainerSchedule, WarmupThenCosine) {
  StageConfig s;
  s.warmup_start = 0.125;
  EXPECT_DOUBLE_EQ(lr_factor(s, 0, 10, 110), 0.125);
  EXPECT_DOUBLE_EQ(lr_factor(s, 5, 10, 110), 0.125 + 0.875 * 0.5);
  EXPECT_DOUBLE_EQ(lr_factor(s, 10, 10, 110), 1.0);
  EXPECT_NEAR(lr_factor(s, 60, 10, 110), 0.5, 1e-12);
  EXPECT_NEAR(lr_factor(s, 109, 10, 110), 0.5 * (1 + std::cos(M_PI * 99 / 100)), 1e-12);
  EXPECT_DOUBLE_EQ(lr_factor(s, 7, 0, 10), 0.5 * (1 + std::cos(M_PI * 0.7)));
  s.lr_schedule = "constant";
  EXPECT_DOUBLE_EQ(lr_factor(s, 60, 10, 110), 1.0);
}

TrainConfig small_config(const std::string& data_dir) {
  TrainConfig c = default_config();
  c.data.dir = data_dir;
  c.data.workers = 2;
  c.model.width_mult = 0.5;
  c.threads = 1;
  c.seed = 5;
  for (StageConfig* s : {&c.pretrain, &c.train}) {
    s->epochs = 2;
    s->batch_size = 16;
    s->lr = 0.05;
  }
  c.pretrain.mode = "float";
  c.pretrain.epochs = 1;
  c.train.lr = 0.02;
  return c;
}

// Records every iteration's running loss and can request a stop after `stop_at` iterations.
class Recorder : public TrainObserver {
 public:
  void iteration(const IterationInfo& info) override {
    losses.push_back(info.stage + ":" + std::to_string(info.iteration) + ":" +
                     std::to_string(info.loss));
    raw.push_back(info.loss);
    if (stop_at > 0 && static_cast<int64_t>(losses.size()) >= stop_at) stop.store(2);
  }
  std::vector<std::string> losses;
  std::vector<double> raw;
  int64_t stop_at = 0;
  std::atomic<int> stop{0};
};

std::vector<std::string> lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(Trainer, ShortRunLearnsAndWritesTheRunDirectory) {
  TempDir dir;
  testing::write_fashion_dir(dir / "data", 320, 80);
  TrainConfig c = small_config(dir / "data");
  c.pretrain.enabled = false;
  c.train.mode = "float";
  c.train.epochs = 3;
  c.train.lr = 0.1;
  Recorder rec;
  RunOptions o;
  o.out_dir = dir / "run";
  o.observer = &rec;
  const TrainResult r = run_training(c, o);
  EXPECT_FALSE(r.interrupted);
  ASSERT_EQ(r.stages.size(), 2u);
  EXPECT_FALSE(r.stages[0].ran);
  const StageResult& s = r.stages[1];
  EXPECT_EQ(s.epochs, 3);
  EXPECT_EQ(s.iterations, 60);
  ASSERT_EQ(rec.raw.size(), 60u);
  // The loss falls, and the model beats chance clearly on the validation split.
  EXPECT_LT(rec.raw.back(), 0.7 * rec.raw.front()) << rec.raw.front() << " -> " << rec.raw.back();
  EXPECT_GT(s.best_top1, 30.0);
  for (const char* f : {"config.yaml", "metrics.jsonl", "train-last.pt", "train-best.pt"}) {
    EXPECT_TRUE(fs::exists(dir / ("run/" + std::string(f)))) << f;
  }
  EXPECT_EQ(lines(dir / "run/metrics.jsonl").size(), 3u);
  EXPECT_EQ(load_run_config(dir / "run").train.epochs, 3);
  // Evaluating the kept checkpoint reproduces its validation accuracy.
  EvalOptions eo;
  eo.checkpoint = s.best_checkpoint;
  eo.threads = 1;
  const EvalResult e = evaluate_checkpoint(eo);
  EXPECT_EQ(e.images, 80);
  EXPECT_DOUBLE_EQ(e.top1, s.best_top1);
  EXPECT_EQ(e.mode, "float");
}

// metrics.jsonl with the wall-clock "seconds" fields blanked: the only part of an epoch record
// that legitimately differs between two runs of the same training.
std::string without_seconds(const std::string& text) {
  static const std::regex seconds_field("\"seconds\":[-+.0-9eE]+");
  return std::regex_replace(text, seconds_field, "\"seconds\":_");
}

TEST(Trainer, ResumeAfterInterruptionRepeatsTheExactLossSequence) {
  TempDir dir;
  testing::write_fashion_dir(dir / "data", 160, 32);
  const TrainConfig c = small_config(dir / "data");  // pretrain float 1 epoch, train fixed 2

  Recorder full;
  RunOptions o;
  o.out_dir = dir / "full";
  o.observer = &full;
  const TrainResult a = run_training(c, o);
  ASSERT_FALSE(a.interrupted);
  ASSERT_EQ(full.raw.size(), 30u);  // 10 + 2 x 10 iterations
  EXPECT_FALSE(a.layers.empty()) << "fixed-point layer formats";

  Recorder first;
  first.stop_at = 14;  // mid-epoch in the fixed stage
  o.out_dir = dir / "split";
  o.observer = &first;
  o.stop = &first.stop;
  const TrainResult b = run_training(c, o);
  ASSERT_TRUE(b.interrupted);
  EXPECT_EQ(first.losses.size(), 14u);
  EXPECT_TRUE(fs::exists(dir / "split/train-last.pt"));

  Recorder second;
  o.observer = &second;
  o.stop = &second.stop;
  o.resume = true;
  const TrainResult r = run_training(TrainConfig{}, o);  // the config comes from the run dir
  ASSERT_FALSE(r.interrupted);
  std::vector<std::string> joined = first.losses;
  joined.insert(joined.end(), second.losses.begin(), second.losses.end());
  EXPECT_EQ(joined, full.losses);
  EXPECT_EQ(r.stages[1].best_top1, a.stages[1].best_top1);
  // Every epoch record agrees except its wall time.
  EXPECT_EQ(without_seconds(read_file(dir / "split/metrics.jsonl")),
            without_seconds(read_file(dir / "full/metrics.jsonl")));
  EXPECT_EQ(lines(dir / "split/metrics.jsonl").size(), 3u);
}

TEST(Trainer, BadRunsFailWithoutTouchingTheOutput) {
  TempDir dir;
  testing::write_fashion_dir(dir / "data", 64, 16);
  TrainConfig c = small_config(dir / "data");
  RunOptions o;
  // Unknown model: no directory is created.
  c.model.arch = "vgg";
  o.out_dir = dir / "run1";
  try {
    run_training(c, o);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("model.arch"), std::string::npos) << e.what();
  }
  // Missing data: no directory is created either.
  c = small_config(dir / "nodata");
  EXPECT_THROW(run_training(c, o), data::DataError);
  EXPECT_FALSE(fs::exists(dir / "run1/config.yaml"));
  // A directory holding a run is not overwritten.
  fs::create_directories(dir / "run2");
  write_file_atomic(dir / "run2/config.yaml", "mine");
  write_file_atomic(dir / "run2/metrics.jsonl", "mine");
  c = small_config(dir / "data");
  o.out_dir = dir / "run2";
  EXPECT_THROW(run_training(c, o), std::runtime_error);
  EXPECT_EQ(read_file(dir / "run2/config.yaml"), "mine");
  // Resume needs a run directory.
  o.out_dir = dir / "run3";
  o.resume = true;
  EXPECT_THROW(run_training(c, o), std::runtime_error);
  // A batch larger than the data set names the key.
  o.resume = false;
  c.pretrain.batch_size = 1000;
  try {
    run_training(c, o);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("pretrain.batch_size"), std::string::npos) << e.what();
  }
}

// SIGKILL loses at most one checkpoint interval: the files on disk at the moment of the kill
// (copied from inside the run, right after a periodic mid-epoch save) resume to exactly the
// uninterrupted run's losses and metrics. A start that failed before any checkpoint (only
// config.yaml written) does not block a retry, and stale temporary files are removed.
TEST(Trainer, PeriodicCheckpointsResumeExactlyAfterAKill) {
  TempDir dir;
  testing::write_fashion_dir(dir / "data", 160, 32);
  TrainConfig c = small_config(dir / "data");  // pretrain float 1 epoch, train fixed 2 (10 each)
  c.checkpoint.every_iterations = 3;
  c.checkpoint.every_seconds = 0;

  Recorder full;
  RunOptions o;
  o.out_dir = dir / "full";
  o.observer = &full;
  ASSERT_FALSE(run_training(c, o).interrupted);

  // Watches the run and, at iteration 16 of the stage sequence (train iteration 6, mid-epoch,
  // just saved), copies the run directory as a SIGKILL would leave it.
  class Snapshotter : public Recorder {
   public:
    explicit Snapshotter(fs::path from, fs::path to) : from_(std::move(from)), to_(std::move(to)) {}
    void iteration(const IterationInfo& info) override {
      Recorder::iteration(info);
      if (info.stage == "train" && info.iteration == 6) {
        fs::copy(from_, to_, fs::copy_options::recursive);
        at_kill = losses;
      }
    }
    std::vector<std::string> at_kill;

   private:
    fs::path from_, to_;
  };
  Snapshotter watch(dir / "live", dir / "killed");
  o.out_dir = dir / "live";
  o.observer = &watch;
  ASSERT_FALSE(run_training(c, o).interrupted);
  ASSERT_EQ(watch.at_kill.size(), 16u);
  const json meta = json::parse(read_checkpoint_info(dir / "killed/train-last.pt").meta_json);
  EXPECT_EQ(meta.at("state").at("iteration").get<int64_t>(), 6);  // nothing lost
  EXPECT_EQ(meta.at("state").at("batch").get<int64_t>(), 6);
  fs::remove(dir / "killed/.f8net-lock");  // the killed process's lock died with it
  write_file_atomic(dir / "killed/dummy", "x");
  fs::rename(dir / "killed/dummy", dir / "killed/.train-last.pt.tmp-AbC123");  // a torn write

  Recorder resumed;
  o.out_dir = dir / "killed";
  o.observer = &resumed;
  o.resume = true;
  ASSERT_FALSE(run_training(TrainConfig{}, o).interrupted);
  std::vector<std::string> joined = watch.at_kill;
  joined.insert(joined.end(), resumed.losses.begin(), resumed.losses.end());
  EXPECT_EQ(joined, full.losses);
  EXPECT_EQ(without_seconds(read_file(dir / "killed/metrics.jsonl")),
            without_seconds(read_file(dir / "full/metrics.jsonl")));
  EXPECT_FALSE(fs::exists(dir / "killed/.train-last.pt.tmp-AbC123"));

  // A resume point of another stage (here the pretrain file renamed) is refused.
  fs::copy_file(dir / "full/pretrain-last.pt", dir / "full/train-last.pt",
                fs::copy_options::overwrite_existing);
  RunOptions wrong;
  wrong.out_dir = dir / "full";
  wrong.resume = true;
  try {
    run_training(TrainConfig{}, wrong);
    FAIL() << "resumed from another stage's checkpoint";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("resume point of stage 'pretrain'"), std::string::npos)
        << e.what();
  }

  // A failed start leaves only config.yaml: the same --out can be used again.
  fs::create_directories(dir / "failed");
  write_file_atomic(dir / "failed/config.yaml", "from a start that failed\n");
  TrainConfig quick = small_config(dir / "data");
  quick.pretrain.enabled = false;
  quick.train.epochs = 1;
  RunOptions retry;
  retry.out_dir = dir / "failed";
  EXPECT_FALSE(run_training(quick, retry).interrupted);
  EXPECT_NE(read_file(dir / "failed/config.yaml"), "from a start that failed\n");
}

// Two processes on one --out used to mix silently (config from one, checkpoints from the other).
// A run directory whose lock another process holds is refused, and nothing in it is written.
TEST(Trainer, ASecondWriterOfARunDirectoryIsRefused) {
  TempDir dir;
  testing::write_fashion_dir(dir / "data", 64, 16);
  fs::create_directories(dir / "run");
  const int fd = ::open((dir / "run/.f8net-lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "4242\n", 5, 0), 5);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);  // "the other process"
  RunOptions o;
  o.out_dir = dir / "run";
  try {
    run_training(small_config(dir / "data"), o);
    FAIL() << "a locked run directory was written";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("another f8net process (pid 4242)"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  EXPECT_FALSE(fs::exists(dir / "run/config.yaml"));
  ::close(fd);  // released: the same run now starts
  TrainConfig c = small_config(dir / "data");
  c.pretrain.enabled = false;
  c.train.epochs = 1;
  c.train.mode = "float";
  EXPECT_FALSE(run_training(c, o).interrupted);
  EXPECT_TRUE(fs::exists(dir / "run/config.yaml"));
}

}  // namespace
}  // namespace f8net::qat

namespace f8net::qat {
namespace {

// Tiny fine-tuning as calibration (F8NET.md §20): lr 0 for a few iterations from a float
// checkpoint keeps every parameter and re-estimates the buffers (BN statistics, FL averages).
TEST(Trainer, CalibrationWithZeroLrKeepsParametersAndMovesBuffers) {
  TempDir dir;
  testing::write_fashion_dir(dir / "data", 64, 16);
  TrainConfig c = small_config(dir / "data");
  c.pretrain.enabled = false;
  c.train.mode = "float";
  c.train.epochs = 1;
  RunOptions o;
  o.out_dir = dir / "float";
  run_training(c, o);

  c.train.mode = "fixed";
  c.train.epochs = 0;
  c.train.iterations = 3;
  c.train.lr = 0;
  c.train.weight_decay = 1e-3;
  c.train.init = dir / "float/train-best.pt";
  o.out_dir = dir / "calib";
  const TrainResult r = run_training(c, o);
  EXPECT_EQ(r.stages[1].iterations, 3);

  ModelOptions mo;
  mo.in_channels = 1;
  mo.input_size = 12;
  mo.width_mult = 0.5;
  mo.quant.mode = Mode::kFixed;
  Net before = make_model(mo), after = make_model(mo);
  load_checkpoint(dir / "float/train-best.pt", *before, nullptr, false);
  load_checkpoint(dir / "calib/train-best.pt", *after, nullptr, false);
  for (const auto& p : before->named_parameters()) {
    EXPECT_TRUE(torch::equal(p.value(), after->named_parameters()[p.key()])) << p.key();
  }
  int moved = 0;
  for (const auto& b : before->named_buffers()) {
    moved += !torch::equal(b.value(), after->named_buffers()[b.key()]);
  }
  EXPECT_GT(moved, 0) << "no BN statistic or FL buffer changed";
}

}  // namespace
}  // namespace f8net::qat

namespace f8net::qat {
namespace {

// The evaluation loss is the cross-entropy of the training-scale logits: fixed-mode evaluation
// logits times s_fc * ws (F8NET.md decision 2, §11), so validation and training losses compare.
TEST(Trainer, EvaluationLossUsesTrainingScaleLogits) {
  TempDir dir;
  testing::write_fashion_dir(dir / "data", 64, 24);
  TrainConfig c = small_config(dir / "data");
  c.pretrain.enabled = false;
  c.train.epochs = 1;
  RunOptions o;
  o.out_dir = dir / "run";
  const TrainResult r = run_training(c, o);
  EvalOptions eo;
  eo.checkpoint = r.stages[1].best_checkpoint;
  eo.threads = 1;
  const EvalResult e = evaluate_checkpoint(eo);
  ASSERT_EQ(e.images, 24);

  ModelOptions mo;
  mo.in_channels = 1;
  mo.input_size = 12;
  mo.width_mult = 0.5;
  mo.quant.mode = Mode::kFixed;
  Net net = make_model(mo);
  load_checkpoint(eo.checkpoint, *net, nullptr, false);
  net->eval();
  torch::NoGradGuard no_grad;
  const auto ds = data::open_dataset(c.data, data::Split::kVal);
  const data::TransformOptions t = data::make_transform(c.data, *ds, false);
  torch::Tensor x = torch::empty({ds->size(), 1, 12, 12});
  torch::Tensor y = torch::empty({ds->size()}, torch::kLong);
  std::mt19937_64 rng(0);
  for (int64_t i = 0; i < ds->size(); ++i) {
    data::Image img;
    ds->image(i, img);
    data::transform_image(img, t, rng, x[i].data_ptr<float>());
    y[i] = ds->label(i);
  }
  const torch::Tensor logits = net->forward(x);
  const double scale = net->logit_scale();
  ASSERT_GT(std::abs(scale - 1.0), 0.1) << "the test needs a non-trivial logit scale";
  const double want = torch::nn::functional::cross_entropy(logits * scale, y).item<double>();
  const double unscaled = torch::nn::functional::cross_entropy(logits, y).item<double>();
  EXPECT_NEAR(e.loss, want, 1e-5);
  EXPECT_GT(std::abs(e.loss - unscaled), 1e-3);
}

}  // namespace
}  // namespace f8net::qat
