// The quantized layers (F8NET.md §6-§12, §22 TV6-TV9): the activation-FL EMA through a layer, PACT
// equivalence of fix_scaling, exact Conv+BN folding and integer execution, residual alignment,
// the double-forward training step (running statistics with the unbiased variance, gradients to
// W, gamma, beta and alpha), and loading a checkpoint by name intersection.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>

#include "f8net/qat/export.h"
#include "f8net/qat/modules.h"
#include "f8net/qat/quantize.h"
#include "state-io.h"

namespace f8net::qat {
namespace {

QuantOptions fixed_quant() {
  QuantOptions q;
  q.mode = Mode::kFixed;
  return q;
}

QConvBN conv1x1(int64_t in, int64_t out, const QuantOptions& q) {
  QConvBNOptions o(in, out, 1);
  o.quant(q);
  return QConvBN(o);
}

TEST(Layers, TV6EmaThroughTheLayer) {
  torch::manual_seed(3);
  QConvBN layer = conv1x1(2, 2, fixed_quant());
  layer->train();
  const std::vector<int> batch_fl = {8, 8, 8, 8, 8, 8, 8, 5, 5, 5, 5};
  const std::vector<double> stored = {6.2,      6.38,     6.542,    6.6878,   6.81902, 6.937118,
                                      7.043406, 6.839066, 6.655159, 6.489643, 6.340679};
  const std::vector<int> used = {6, 6, 7, 7, 7, 7, 7, 7, 7, 6, 6};
  for (size_t i = 0; i < batch_fl.size(); ++i) {
    // unsigned std rule: std 0.1 -> FL 8 (cap), std 1.5 -> floor(log2(70/1.5)) = 5
    const torch::Tensor x = torch::randn({8, 2, 6, 6}) * (batch_fl[i] == 8 ? 0.1 : 1.5);
    layer->forward(x);
    EXPECT_EQ(layer->last_batch_fl(), batch_fl[i]) << "step " << i;
    EXPECT_NEAR(layer->input_fraclen.item<float>(), stored[i], 2e-6) << "step " << i;
    EXPECT_EQ(layer->input_fl_used(), used[i]) << "step " << i;
  }
}

TEST(Layers, TV7PactEquivalence) {
  QConvBN layer = conv1x1(1, 1, fixed_quant());
  layer->alpha.data().fill_(6.0);
  layer->input_fraclen.fill_(4.0);
  const double s = layer->fix_scale_value();
  EXPECT_FLOAT_EQ(static_cast<float>(s),
                  static_cast<float>(16.0 * 6.0 / 255.0));  // alpha is float32
  const std::vector<double> z = {-1.0, 0.05, 0.5, 2.0, 5.99, 7.0};
  const std::vector<double> pact = {0, 2, 21, 85, 255, 255};
  for (size_t i = 0; i < z.size(); ++i) {
    const torch::Tensor xt = torch::tensor({z[i] / s}, torch::kDouble).view({1, 1});
    const double code = quantize_ste(xt, {layer->input_fl_used()}, false, 1).item<double>() * 16;
    EXPECT_EQ(code, pact[i]) << "z=" << z[i];
    const double want = std::nearbyint(std::min(std::max(z[i], 0.0), 6.0) * 255.0 / 6.0);
    EXPECT_EQ(code, want) << "z=" << z[i];
  }
}

// TV8: layer A (unsigned, alpha 4, F 6) followed by layer B (unsigned, alpha 3, F 5).
struct Tv8 {
  QConvBN a, b;
  explicit Tv8(const QuantOptions& q = fixed_quant()) : a(conv1x1(2, 2, q)), b(conv1x1(2, 2, q)) {
    torch::NoGradGuard no_grad;
    a->weight.copy_(torch::tensor({0.5f, -0.25f, 0.125f, 0.75f}).view({2, 2, 1, 1}));
    a->bn_weight.copy_(torch::tensor({1.2f, 0.8f}));
    a->bn_bias.copy_(torch::tensor({0.1f, -0.3f}));
    a->running_mean.copy_(torch::tensor({0.4f, -0.2f}));
    a->running_var.copy_(torch::tensor({0.25f, 1.5f}));
    a->alpha.fill_(4.0);
    a->input_fraclen.fill_(6.0);
    b->alpha.fill_(3.0);
    b->input_fraclen.fill_(5.0);
    a->set_following(b.ptr().get());
    a->eval();
    b->eval();
  }
};

TEST(Layers, TV8FoldingCodes) {
  Tv8 t;
  EXPECT_NEAR(t.a->fix_scale_value(), 1.00392157, 1e-6);
  EXPECT_NEAR(t.b->fix_scale_value(), 0.37647059, 1e-6);
  auto [wf, bf] = t.a->fused_eval();
  const std::vector<double> wf_want = {3.199936, -1.599968, 0.217732, 1.306390};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(wf.flatten()[i].item<double>(), wf_want[i], 2e-6);
  EXPECT_NEAR(bf[0].item<double>(), -2.284324, 2e-6);
  EXPECT_NEAR(bf[1].item<double>(), -0.449865, 2e-6);
  const LayerCodes c = t.a->integer_codes();
  EXPECT_EQ(c.weight, (std::vector<int8_t>{51, -26, 3, 21}));
  EXPECT_EQ(c.weight_fl, (std::vector<int>{4, 4}));
  EXPECT_EQ(c.input_fl, 6);
  EXPECT_EQ(c.bias, (std::vector<int32_t>{-2339, -461}));
}

TEST(Layers, TV8IntegerExecutionAndFloatSimulation) {
  Tv8 t;
  const torch::Tensor x = torch::tensor({0.8125f, 2.015625f}).view({1, 2, 1, 1});
  // Exact path: input codes [52, 129] at FL 6 -> acc [-3041, 2404] at FL 10 -> B codes [0, 75].
  ExactContext ctx;
  const ExactTensor in = ctx.input_codes(x, 6, false);
  const ExactTensor acc = t.a->exact(ctx, in, 1.0, "a");
  EXPECT_EQ(acc.value[0][0][0][0].item<double>(), -3041.0 / 1024);
  EXPECT_EQ(acc.value[0][1][0][0].item<double>(), 2404.0 / 1024);
  EXPECT_EQ(ctx.node(acc.node).fl, (std::vector<int>{10, 10}));
  const ExactTensor next = ctx.requantize(acc, t.b->input_fl_used(), false, "b.input");
  EXPECT_EQ(next.value[0][0][0][0].item<double>() * 32, 0.0);
  EXPECT_EQ(next.value[0][1][0][0].item<double>() * 32, 75.0);
  // Float simulation (quant_bias): the same accumulator, and Q of the float output gives [0, 75].
  QuantOptions q = fixed_quant();
  q.quant_bias = true;
  Tv8 tb(q);
  torch::NoGradGuard no_grad;
  const torch::Tensor y = tb.a->forward(x);
  EXPECT_EQ(y[0][0][0][0].item<float>(), -3041.0f / 1024);
  EXPECT_EQ(y[0][1][0][0].item<float>(), 2404.0f / 1024);
  const torch::Tensor codes = quantize_ste(y, {5}, false, 1) * 32;
  EXPECT_EQ(codes[0][0][0][0].item<float>(), 0.0f);
  EXPECT_EQ(codes[0][1][0][0].item<float>(), 75.0f);
}

// An int32 node holding `code` at FL `fl`: a 1x1 conv of the graph's one input (a single code
// at FL 0) with weight 0 and bias `code`.
ExactTensor int32_node(ExactContext& ctx, int32_t code, int fl) {
  const ExactTensor in = ctx.graph.values.empty()
                             ? ctx.input_codes(torch::ones({1, 1, 1, 1}), 0, false)
                             : ExactTensor{torch::ones({1, 1, 1, 1}, torch::kDouble), 0};
  LayerCodes c;
  c.weight = {0};
  c.weight_shape = {1, 1, 1, 1};
  c.bias = {code};
  c.weight_fl = {fl};
  c.input_fl = 0;
  return ctx.conv2d(in, c, 1, 0, 1, 1, "const");
}

TEST(Layers, TV9ResidualAlignment) {
  ExactContext ctx;
  const ExactTensor body = int32_node(ctx, 5000, 11);
  const ExactTensor skip = int32_node(ctx, -700, 9);
  const ExactTensor sum = ctx.add(body, skip, "add");
  EXPECT_EQ(ctx.node(sum.node).fl, std::vector<int>{11});
  EXPECT_EQ(sum.value.item<double>(), 1.07421875);
  const ExactTensor r = ctx.relu(sum, "relu");
  const ExactTensor q = ctx.requantize(r, 4, false, "next");
  EXPECT_EQ(q.value.item<double>() * 16, 17.0);
  // Saturation at +-(2^31-1) in units of the aligned FL.
  const ExactTensor big =
      ctx.add(int32_node(ctx, 2147483647, 11), int32_node(ctx, 2147483647, 9), "sat");
  EXPECT_EQ(big.value.item<double>(), std::ldexp(2147483647.0, -11));
}

TEST(Layers, DoubleForwardTrainingStep) {
  torch::manual_seed(11);
  torch::set_num_threads(2);
  QuantOptions q = fixed_quant();
  QConvBNOptions oa(3, 4, 3);
  oa.quant(q);
  QConvBN a(oa);
  QConvBN b = conv1x1(4, 4, q);
  a->set_following(b.ptr().get());
  {
    torch::NoGradGuard no_grad;
    a->bn_weight.uniform_(0.5, 1.5);
    a->bn_bias.uniform_(-0.5, 0.5);
    a->alpha.fill_(5.0);
    b->alpha.fill_(3.0);
  }
  a->train();
  const torch::Tensor x = torch::randn({6, 3, 8, 8});
  const torch::Tensor rm0 = a->running_mean.clone(), rv0 = a->running_var.clone();
  const torch::Tensor y = a->forward(x);
  // Independent statistics: y0 = conv(s_self * xq, W) with the batch FL just used.
  torch::NoGradGuard guard_off;  // values only from here; gradients checked below with a new pass
  const double s_self = a->fix_scale_value();
  const torch::Tensor xq = quantize_ste(x, {a->last_batch_fl()}, false, 1);
  const torch::Tensor y0 = torch::conv2d(xq * s_self, a->weight, {}, 1, 1);
  const torch::Tensor mean = y0.mean({0, 2, 3});
  const torch::Tensor var_u = y0.var({0, 2, 3}, /*unbiased=*/true);
  EXPECT_TRUE(torch::allclose(a->running_mean, rm0 * 0.9 + mean * 0.1, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(a->running_var, rv0 * 0.9 + var_u * 0.1, 1e-5, 1e-6));
  EXPECT_FALSE(
      torch::allclose(a->running_var, rv0 * 0.9 + y0.var({0, 2, 3}, false) * 0.1, 1e-7, 1e-9))
      << "running variance must use the unbiased batch variance";
  // The output is BN(y0) / s_next up to the weight quantization (folding with the biased variance).
  const torch::Tensor bn = (y0 - mean.view({1, 4, 1, 1})) /
                               torch::sqrt(y0.var({0, 2, 3}, false) + 1e-5).view({1, 4, 1, 1}) *
                               a->bn_weight.view({1, 4, 1, 1}) +
                           a->bn_bias.view({1, 4, 1, 1});
  const double s_next = b->fix_scale_value();
  const double err = (y.detach() - bn / s_next).abs().max().item<double>();
  const double scale = (bn / s_next).abs().max().item<double>();
  EXPECT_LT(err, 0.05 * scale);
}

TEST(Layers, DoubleForwardGradientsReachEveryParameter) {
  torch::manual_seed(12);
  QuantOptions q = fixed_quant();
  QConvBNOptions oa(3, 4, 3);
  oa.quant(q);
  QConvBN a(oa);
  QConvBN b = conv1x1(4, 4, q);
  a->set_following(b.ptr().get());
  a->train();
  b->train();
  const torch::Tensor x = torch::randn({4, 3, 8, 8});
  const torch::Tensor y = b->forward(a->forward(x));
  (y * torch::randn_like(y)).sum().backward();
  for (const auto& p : a->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
  EXPECT_GT(b->alpha.grad().abs().item<double>(), 0.0);
}

TEST(Layers, BatchStatsMatchVarMeanWithGradients) {
  torch::manual_seed(21);
  const torch::Tensor y =
      (torch::randn({5, 3, 4, 6}, torch::kDouble) * 2 + 1).set_requires_grad(true);
  const torch::Tensor gm = torch::randn({3}, torch::kDouble),
                      gv = torch::randn({3}, torch::kDouble);
  auto [mean, var] = batch_stats(y);
  ((mean * gm).sum() + (var * gv).sum()).backward();
  const torch::Tensor grad = y.grad().clone();
  y.grad().zero_();
  const auto ref = torch::var_mean(y, {0, 2, 3}, /*unbiased=*/false, false);
  ((std::get<1>(ref) * gm).sum() + (std::get<0>(ref) * gv).sum()).backward();
  EXPECT_TRUE(torch::allclose(mean, std::get<1>(ref), 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(var, std::get<0>(ref), 1e-12, 1e-12)) << "biased variance";
  EXPECT_TRUE(torch::allclose(grad, y.grad(), 1e-10, 1e-12));
}

TEST(Layers, MasterSharesAlphaWithPrivateFl) {
  QConvBN m = conv1x1(2, 2, fixed_quant());
  QConvBN l = conv1x1(2, 2, fixed_quant());
  l->set_master(m.ptr().get());
  {
    torch::NoGradGuard no_grad;
    m->alpha.fill_(10.0);
    l->alpha.fill_(1.0);
    m->input_fraclen.fill_(5.0);
    l->input_fraclen.fill_(3.0);
  }
  EXPECT_FLOAT_EQ(static_cast<float>(l->fix_scale_value()), static_cast<float>(8.0 * 10.0 / 255.0));
  EXPECT_FLOAT_EQ(static_cast<float>(m->fix_scale_value()),
                  static_cast<float>(32.0 * 10.0 / 255.0));
}

TEST(Layers, LoadByIntersectionAcrossModes) {
  torch::manual_seed(5);
  QuantOptions fq;
  fq.mode = Mode::kFloat;
  QConvBN src = conv1x1(2, 3, fq);
  {
    torch::NoGradGuard no_grad;
    src->running_mean.fill_(0.25);
    src->alpha.fill_(2.5);
  }
  const std::string path = ::testing::TempDir() + "/qat-layers-state.pt";
  save_state(*src, path);
  QConvBN dst = conv1x1(2, 3, fixed_quant());
  {
    torch::NoGradGuard no_grad;
    dst->input_fraclen.fill_(4.0);
  }
  // Make the file lack input_fraclen: save from a module without it.
  struct Partial : torch::nn::Module {
    Partial(const QConvBN& c) {
      register_parameter("weight", c->weight.detach().clone());
      register_buffer("running_mean", c->running_mean.clone());
      register_parameter("bn_bias", torch::zeros({7}));  // wrong shape
    }
  };
  Partial partial(src);
  const std::string path2 = ::testing::TempDir() + "/qat-layers-partial.pt";
  save_state(partial, path2);
  LoadReport full = load_state_by_intersection(*dst, path);
  EXPECT_TRUE(torch::equal(dst->weight, src->weight));
  EXPECT_EQ(dst->alpha.item<float>(), 2.5f);
  EXPECT_EQ(dst->running_mean[0].item<float>(), 0.25f);
  EXPECT_TRUE(full.missing.empty());
  QConvBN dst2 = conv1x1(2, 3, fixed_quant());
  LoadReport part = load_state_by_intersection(*dst2, path2);
  EXPECT_TRUE(torch::equal(dst2->weight, src->weight));
  EXPECT_EQ(part.loaded.size(), 2u);
  EXPECT_EQ(part.shape_mismatch, std::vector<std::string>{"bn_bias"});
  EXPECT_EQ(dst2->input_fraclen.item<float>(), 6.0f);  // missing: keeps the initial FL
  std::remove(path.c_str());
  std::remove(path2.c_str());
}

}  // namespace
}  // namespace f8net::qat
