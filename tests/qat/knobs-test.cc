// The reference's remaining knobs (issue 11): multistep and exp_decaying LR
// schedules, the only_no_depthwise / only_no_bn weight-decay schemes,
// drop_last, ResNet-34/101/152, the selectable stem, and BN re-calibration
// (cumulative average, per layer, in a run and on a checkpoint). Each test
// fails without its knob.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "f8net/qat/checkpoint.h"
#include "f8net/qat/config.h"
#include "f8net/qat/models.h"
#include "f8net/qat/modules.h"
#include "f8net/qat/quantize.h"
#include "f8net/qat/schedule.h"
#include "f8net/qat/trainer.h"
#include "qat/data-fixtures.h"

namespace f8net::qat {
namespace {

using testing::TempDir;

TEST(Knobs, MultistepSchedule) {
  StageConfig s;
  s.lr_schedule = "multistep";
  s.lr_milestones = {2, 4};
  s.lr_gamma = 0.1;
  // 10 iterations per epoch, no warm-up: x1 in epochs 0-1, x0.1 in 2-3, x0.01
  // from 4 on.
  EXPECT_DOUBLE_EQ(lr_factor(s, 0, 0, 100, 10), 1.0);
  EXPECT_DOUBLE_EQ(lr_factor(s, 19, 0, 100, 10), 1.0);
  EXPECT_NEAR(lr_factor(s, 20, 0, 100, 10), 0.1, 1e-15);
  EXPECT_NEAR(lr_factor(s, 39, 0, 100, 10), 0.1, 1e-15);
  EXPECT_NEAR(lr_factor(s, 40, 0, 100, 10), 0.01, 1e-15);
  EXPECT_NEAR(lr_factor(s, 99, 0, 100, 10), 0.01, 1e-15);
  // The warm-up still comes first.
  s.warmup_start = 0.5;
  EXPECT_DOUBLE_EQ(lr_factor(s, 5, 10, 100, 10), 0.75);
}

TEST(Knobs, ExpDecayingSchedule) {
  StageConfig s;
  s.lr_schedule = "exp_decaying";
  s.lr_gamma = 0.5;
  s.lr_decay_period = 2;
  const double want[] = {1, 1, 0.5, 0.5, 0.25, 0.25, 0.125};
  for (int e = 0; e < 7; ++e) {
    EXPECT_DOUBLE_EQ(lr_factor(s, e * 8 + 3, 0, 100, 8), want[e]) << "epoch " << e;
  }
}

TEST(Knobs, WeightDecaySchemes) {
  const std::vector<int64_t> dw = {8, 1, 3, 3}, conv = {8, 4, 3, 3}, fc = {10, 8}, bn = {8},
                             alpha = {1};
  struct Row {
    const char *scheme;
    bool dw, conv, fc, bn;
  };
  const Row rows[] = {{"all", true, true, true, true},
                      {"no_depthwise_no_bn", false, true, true, false},
                      {"only_no_depthwise", false, true, true, true},
                      {"only_no_bn", true, true, true, false}};
  for (const Row &r : rows) {
    EXPECT_EQ(weight_decay_applies(r.scheme, dw), r.dw) << r.scheme;
    EXPECT_EQ(weight_decay_applies(r.scheme, conv), r.conv) << r.scheme;
    EXPECT_EQ(weight_decay_applies(r.scheme, fc), r.fc) << r.scheme;
    EXPECT_EQ(weight_decay_applies(r.scheme, bn), r.bn) << r.scheme;
    EXPECT_EQ(weight_decay_applies(r.scheme, alpha), r.bn) << r.scheme;  // alpha: 1-D like BN
  }
}

TEST(Knobs, ConfigKeysParseAndValidate) {
  const TrainConfig c = parse_config(
      "model: {stem: cifar}\ntrain: {lr_schedule: multistep, "
      "lr_milestones: [30, 60], "
      "lr_gamma: 0.2, wd_scheme: only_no_bn, drop_last: false, "
      "bn_calib_batches: 5}\n"
      "pretrain: {lr_schedule: exp_decaying, lr_decay_period: 3, "
      "wd_scheme: only_no_depthwise}",
      {});
  EXPECT_EQ(c.model.stem, "cifar");
  EXPECT_EQ(c.train.lr_milestones, (std::vector<double>{30, 60}));
  EXPECT_DOUBLE_EQ(c.train.lr_gamma, 0.2);
  EXPECT_FALSE(c.train.drop_last);
  EXPECT_EQ(c.train.bn_calib_batches, 5);
  EXPECT_EQ(c.pretrain.lr_decay_period, 3);
  // Round trip through the effective config.
  const TrainConfig back = parse_config(config_to_yaml(c), {});
  EXPECT_EQ(back.train.lr_milestones, c.train.lr_milestones);
  EXPECT_EQ(back.model.stem, "cifar");
  for (const char *o : {"model.stem=tiny", "train.lr_milestones=[5, 2]", "train.lr_gamma=0",
                        "train.lr_decay_period=0", "train.bn_calib_batches=-1",
                        "train.wd_scheme=no_bias", "train.lr_schedule=poly"}) {
    const std::string key = std::string(o).substr(0, std::string(o).find('='));
    try {
      parse_config("", {o});
      ADD_FAILURE() << o;
    } catch (const ConfigError &e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
}

int64_t count_convs(NetImpl &net) {
  int64_t n = 0;
  for (const auto &m : net.modules(false)) n += dynamic_cast<QConvBNImpl *>(m.get()) != nullptr;
  return n;
}

TEST(Knobs, DeeperResnets) {
  torch::manual_seed(1);
  // convs: stem + blocks x (2 basic | 3 bottleneck) + 3 or 4 projection
  // shortcuts.
  const std::pair<const char *, int64_t> cases[] = {
      {"resnet34", 1 + 16 * 2 + 3}, {"resnet101", 1 + 33 * 3 + 4}, {"resnet152", 1 + 50 * 3 + 4}};
  for (const auto &[arch, convs] : cases) {
    ModelOptions o;
    o.arch = arch;
    o.in_channels = 3;
    o.input_size = 32;
    o.width_mult = 0.0625;
    o.quant.mode = Mode::kFixed;
    Net net = make_model(o);
    EXPECT_EQ(count_convs(*net), convs) << arch;
    net->eval();
    torch::NoGradGuard no_grad;
    EXPECT_EQ(net->forward(torch::rand({2, 3, 32, 32})).sizes(), (std::vector<int64_t>{2, 10}));
  }
}

TEST(Knobs, SelectableStem) {
  auto stem_of = [](const std::string &arch, int64_t size, const std::string &stem) {
    ModelOptions o;
    o.arch = arch;
    o.in_channels = 3;
    o.input_size = size;
    o.width_mult = 0.125;
    o.stem = stem;
    Net net = make_model(o);
    auto s = std::dynamic_pointer_cast<QConvBNImpl>(net->named_modules()["stem"]);
    return std::make_pair(s->options().kernel_size(), s->options().stride());
  };
  using P = std::pair<int64_t, int64_t>;
  EXPECT_EQ(stem_of("resnet18", 32, "auto"), P(3, 1));
  EXPECT_EQ(stem_of("resnet18", 224, "auto"), P(7, 2));
  EXPECT_EQ(stem_of("resnet18", 64, "imagenet"), P(7, 2));  // ImageNet-style at a small size
  EXPECT_EQ(stem_of("resnet18", 96, "cifar"), P(3, 1));
  EXPECT_EQ(stem_of("mobilenet_v2", 64, "imagenet"), P(3, 2));
  EXPECT_EQ(stem_of("mobilenet_v1", 96, "cifar"), P(3, 1));
  // The ImageNet stem reduces 64 -> 2 after the max pool and three strided
  // stages.
  ModelOptions o;
  o.arch = "resnet18";
  o.in_channels = 3;
  o.input_size = 64;
  o.width_mult = 0.125;
  o.stem = "imagenet";
  EXPECT_EQ(make_model(o)->pool_fold(64).spatial, 2);
  o.stem = "cifar";
  EXPECT_EQ(make_model(o)->pool_fold(64).spatial, 8);
  o.stem = "bad";
  EXPECT_THROW(make_model(o), std::invalid_argument);
}

// The reference's bn_calib: statistics reset, then batch n weighs 1/n
// (cumulative average).
TEST(Knobs, BnCalibrationIsACumulativeAverage) {
  torch::manual_seed(4);
  for (const Mode m : {Mode::kFixed, Mode::kFloat}) {
    QuantOptions q;
    q.mode = m;
    QConvBNOptions co(2, 3, 1);
    co.quant(q);
    QConvBN conv(co);
    conv->train();
    conv->forward(torch::randn({4, 2, 5, 5}));  // some ordinary (momentum 0.1) history first
    conv->begin_bn_calibration();
    torch::Tensor mean_sum = torch::zeros({3}, torch::kDouble), var_sum = mean_sum.clone();
    for (int b = 0; b < 3; ++b) {
      const torch::Tensor x = torch::randn({4, 2, 5, 5}) * (b + 1) + b;
      conv->forward(x);
      // The batch statistics of this layer's BN input, computed independently.
      torch::NoGradGuard no_grad;
      const torch::Tensor xin =
          m == Mode::kFixed ? quantize_ste(x, {conv->last_batch_fl()}, false, 1) : torch::relu(x);
      const torch::Tensor y =
          torch::conv2d(xin, conv->weight.detach()).to(torch::kDouble) * conv->fix_scale_value();
      mean_sum += y.mean({0, 2, 3});
      var_sum += y.transpose(0, 1).reshape({3, -1}).var(1, /*unbiased=*/true);
      EXPECT_TRUE(conv->calibrating());
    }
    conv->end_bn_calibration();
    EXPECT_FALSE(conv->calibrating());
    EXPECT_TRUE(torch::allclose(conv->running_mean.to(torch::kDouble), mean_sum / 3, 1e-4, 1e-5))
        << mode_name(m);
    EXPECT_TRUE(torch::allclose(conv->running_var.to(torch::kDouble), var_sum / 3, 1e-4, 1e-5))
        << mode_name(m);
  }
}

TrainConfig tiny_config(const std::string &data_dir) {
  TrainConfig c = default_config();
  c.data.dir = data_dir;
  c.data.workers = 1;
  c.model.width_mult = 0.5;
  c.threads = 1;
  c.pretrain.enabled = false;
  c.train.epochs = 1;
  c.train.batch_size = 16;
  c.train.lr = 0.02;
  return c;
}

TEST(Knobs, DropLastFalseTrainsTheLastPartialBatch) {
  TempDir dir;
  testing::write_fashion_dir(dir / "data", 70, 16);
  TrainConfig c = tiny_config(dir / "data");
  RunOptions o;
  o.out_dir = dir / "keep";
  c.train.drop_last = false;
  EXPECT_EQ(run_training(c, o).stages[1].iterations,
            5);  // 4 full batches + 6 images
  c.train.drop_last = true;
  o.out_dir = dir / "drop";
  EXPECT_EQ(run_training(c, o).stages[1].iterations, 4);
}

TEST(Knobs, CalibrateCheckpointAndCalibrationBeforeTest) {
  TempDir dir;
  testing::write_fashion_dir(dir / "data", 64, 16);
  TrainConfig c = tiny_config(dir / "data");
  RunOptions o;
  o.out_dir = dir / "run";
  const TrainResult tr = run_training(c, o);
  CalibrateOptions co;
  co.checkpoint = tr.stages[1].best_checkpoint;
  co.out = dir / "calib.pt";
  co.batches = 2;
  co.threads = 1;
  const CalibrateResult r = calibrate_checkpoint(co);
  EXPECT_EQ(r.images, 32);
  ModelOptions mo;
  mo.input_size = 12;
  mo.width_mult = 0.5;
  Net before = make_model(mo), after = make_model(mo);
  load_checkpoint(co.checkpoint, *before, nullptr, false);
  load_checkpoint(co.out, *after, nullptr, false);
  for (const auto &p : before->named_parameters()) {
    EXPECT_TRUE(torch::equal(p.value(), after->named_parameters()[p.key()])) << p.key();
  }
  EXPECT_FALSE(torch::equal(before->named_buffers()["stem.running_mean"],
                            after->named_buffers()["stem.running_mean"]));
  // The calibrated checkpoint evaluates like any other, and calibration is
  // deterministic.
  EvalOptions eo;
  eo.checkpoint = co.out;
  eo.threads = 1;
  EXPECT_DOUBLE_EQ(evaluate_checkpoint(eo).top1, r.after);
  co.out = dir / "calib2.pt";
  calibrate_checkpoint(co);
  Net again = make_model(mo);
  load_checkpoint(co.out, *again, nullptr, false);
  for (const auto &b : after->named_buffers()) {
    EXPECT_TRUE(torch::equal(b.value(), again->named_buffers()[b.key()])) << b.key();
  }
  // In a run: bn_calib_batches re-estimates before each validation.
  c.train.bn_calib_batches = 2;
  o.out_dir = dir / "run-calib";
  const TrainResult tc = run_training(c, o);
  EXPECT_EQ(tc.stages[1].epochs, 1);
}

}  // namespace
}  // namespace f8net::qat
