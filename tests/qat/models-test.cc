// Model factory tests (F8NET.md §17): names, modes, argument errors, and a small_cnn training step
// in every mode. Whole-family build/run tests live in models-slow-test.cc.
#include "f8net/qat/models.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <stdexcept>

#include "f8net/qat/modules.h"
#include "state-io.h"

namespace f8net::qat {
namespace {

ModelOptions small_options(Mode mode) {
  ModelOptions o;
  o.arch = "small_cnn";
  o.quant.mode = mode;
  return o;
}

TEST(Models, ModeNamesRoundTrip) {
  for (Mode m : {Mode::kFloat, Mode::kFpPact, Mode::kFixed}) EXPECT_EQ(parse_mode(mode_name(m)), m);
  EXPECT_THROW(parse_mode("int8"), std::invalid_argument);
}

TEST(Models, FactoryRejectsBadArguments) {
  ModelOptions o = small_options(Mode::kFloat);
  o.arch = "vgg16";
  EXPECT_THROW(make_model(o), std::invalid_argument);
  o = small_options(Mode::kFloat);
  o.width_mult = 0.0;
  EXPECT_THROW(make_model(o), std::invalid_argument);
  o = small_options(Mode::kFloat);
  o.input_size = 2;  // three stride-2/3x3 convs cannot run on 2 pixels... but padding keeps 1x1
  EXPECT_NO_THROW(make_model(o));
  o.arch = "resnet18";
  o.input_size = 0;
  EXPECT_THROW(make_model(o), std::invalid_argument);
  EXPECT_EQ(model_names().size(), 10u);
}

TEST(Models, SmallCnnTrainsInEveryMode) {
  torch::set_num_threads(2);
  for (Mode mode : {Mode::kFloat, Mode::kFpPact, Mode::kFixed}) {
    torch::manual_seed(1);
    Net net = make_model(small_options(mode));
    torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
    const torch::Tensor x = torch::rand({16, 1, 28, 28});
    const torch::Tensor y = torch::randint(0, 10, {16}, torch::kLong);
    net->train();
    float first = 0, last = 0;
    for (int step = 0; step < 8; ++step) {
      opt.zero_grad();
      const torch::Tensor logits = net->forward(x);
      ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{16, 10}));
      const torch::Tensor loss = torch::nn::functional::cross_entropy(logits, y);
      loss.backward();
      opt.step();
      if (step == 0) first = loss.item<float>();
      last = loss.item<float>();
    }
    EXPECT_TRUE(std::isfinite(last)) << mode_name(mode);
    EXPECT_LT(last, first) << mode_name(mode) << ": memorising 16 images must lower the loss";
    net->eval();
    torch::NoGradGuard no_grad;
    const torch::Tensor logits = net->forward(x);
    EXPECT_EQ(logits.size(1), 10);
    EXPECT_TRUE(torch::isfinite(logits).all().item<bool>()) << mode_name(mode);
  }
}

TEST(Models, ParameterNamesIdenticalAcrossModes) {
  auto names = [](Mode mode) {
    std::vector<std::string> n;
    Net net = make_model(small_options(mode));
    for (const auto& p : net->named_parameters()) n.push_back(p.key());
    for (const auto& b : net->named_buffers()) n.push_back(b.key());
    return n;
  };
  const auto f = names(Mode::kFloat);
  EXPECT_EQ(f, names(Mode::kFpPact));
  EXPECT_EQ(f, names(Mode::kFixed));
  EXPECT_NE(std::find(f.begin(), f.end(), "stem.weight"), f.end());
  EXPECT_NE(std::find(f.begin(), f.end(), "blocks.0.convs.0.input_fraclen"), f.end());
  EXPECT_NE(std::find(f.begin(), f.end(), "fc.alpha"), f.end());
}

}  // namespace
}  // namespace f8net::qat

namespace f8net::qat {
namespace {

TEST(Models, FixedModelLoadsFloatCheckpointByIntersection) {
  torch::manual_seed(9);
  ModelOptions fo;
  fo.arch = "resnet20";
  fo.width_mult = 0.5;
  fo.quant.mode = Mode::kFloat;
  Net src = make_model(fo);
  src->train();
  src->forward(torch::rand({4, 1, 28, 28}));  // running statistics move
  const std::string path = ::testing::TempDir() + "/qat-models-float.pt";
  save_state(*src, path);
  ModelOptions xo = fo;
  xo.quant.mode = Mode::kFixed;
  torch::manual_seed(10);
  Net dst = make_model(xo);
  const LoadReport r = load_state_by_intersection(*dst, path);
  EXPECT_TRUE(r.missing.empty());
  EXPECT_TRUE(r.shape_mismatch.empty());
  EXPECT_EQ(r.loaded.size(), dst->named_parameters().size() + dst->named_buffers().size());
  auto sp = src->named_parameters();
  for (const auto& p : dst->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), sp[p.key()])) << p.key();
  auto sb = src->named_buffers();
  for (const auto& b : dst->named_buffers())
    EXPECT_TRUE(torch::equal(b.value(), sb[b.key()])) << b.key();
  std::remove(path.c_str());
}

TEST(Models, EvalLogitScaleRecoversTrainingScale) {
  torch::manual_seed(4);
  ModelOptions o;
  o.quant.mode = Mode::kFixed;
  Net net = make_model(o);
  net->eval();
  const double scale = net->logit_scale();
  EXPECT_GT(scale, 0.0);
  EXPECT_NE(scale, 1.0);
  ModelOptions f = o;
  f.quant.mode = Mode::kFloat;
  Net fnet = make_model(f);
  fnet->eval();
  EXPECT_EQ(fnet->logit_scale(), 1.0);
}

}  // namespace
}  // namespace f8net::qat
