// Every model family builds for 1x28x28, 3x32x32 and 3x224x224 inputs and runs a training-mode
// forward/backward and an evaluation forward (fixed mode; float mode at 32x32), F8NET.md §17.
// Small widths and batch 2 keep the 224-pixel cases within seconds.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "f8net/qat/models.h"

namespace f8net::qat {
namespace {

void run_family(const std::string& arch, int64_t channels, int64_t size, double width, Mode mode) {
  SCOPED_TRACE(arch + " " + std::to_string(channels) + "x" + std::to_string(size) + " " +
               mode_name(mode));
  torch::set_num_threads(2);
  torch::manual_seed(3);
  ModelOptions o;
  o.arch = arch;
  o.in_channels = channels;
  o.input_size = size;
  o.width_mult = width;
  o.num_classes = 7;
  o.quant.mode = mode;
  Net net = make_model(o);
  net->train();
  const torch::Tensor x = torch::rand({2, channels, size, size});
  const torch::Tensor logits = net->forward(x);
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{2, 7}));
  torch::nn::functional::cross_entropy(logits, torch::tensor({1, 4})).backward();
  int64_t with_grad = 0, total = 0;
  for (const auto& p : net->named_parameters()) {
    ++total;
    if (p.value().grad().defined() && p.value().grad().abs().sum().item<double>() > 0) ++with_grad;
  }
  // Every conv weight, gamma, beta and the FC get gradients; alphas of layers with a master or of
  // the input layer (s = 1) do not, nor does anything in float mode's alpha.
  EXPECT_GT(with_grad, total / 2);
  EXPECT_TRUE(net->named_parameters()["stem.weight"].grad().defined());
  EXPECT_TRUE(net->named_parameters()["fc.weight"].grad().defined());
  net->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor e = net->forward(x);
  EXPECT_EQ(e.sizes(), (std::vector<int64_t>{2, 7}));
  EXPECT_TRUE(torch::isfinite(e).all().item<bool>());
}

class Families : public ::testing::TestWithParam<std::string> {};

TEST_P(Families, Fashion28Fixed) { run_family(GetParam(), 1, 28, 0.5, Mode::kFixed); }
TEST_P(Families, Cifar32Fixed) { run_family(GetParam(), 3, 32, 0.5, Mode::kFixed); }
TEST_P(Families, Cifar32Float) { run_family(GetParam(), 3, 32, 0.5, Mode::kFloat); }
TEST_P(Families, Cifar32FpPact) { run_family(GetParam(), 3, 32, 0.25, Mode::kFpPact); }
TEST_P(Families, ImageNet224Fixed) { run_family(GetParam(), 3, 224, 0.125, Mode::kFixed); }

INSTANTIATE_TEST_SUITE_P(All, Families,
                         ::testing::Values("small_cnn", "resnet20", "resnet56", "resnet18",
                                           "resnet50", "mobilenet_v1", "mobilenet_v2"));

}  // namespace
}  // namespace f8net::qat
