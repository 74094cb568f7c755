// The six reference deviations of issue 11 pinned one by one
// (docs/fidelity.md): the FC bias under pool compensation, the FC rescaling in
// float mode, the raw-image pre-quantization in every mode, the normalised
// first layer's fix_scaling, the configured fp_pact formats, and one
// normalisation computation for the training loader and the runtime. Each test
// fails on the old behaviour.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <random>

#include "f8net/data/batch-loader.h"
#include "f8net/data/dataset.h"
#include "f8net/data/error.h"
#include "f8net/data/open-dataset.h"
#include "f8net/data/transform.h"
#include "f8net/qat/modules.h"
#include "f8net/qat/quantize.h"
#include "f8net/rt/preprocess.h"

namespace f8net::qat {
namespace {

QuantOptions quant(Mode mode) {
  QuantOptions q;
  q.mode = mode;
  return q;
}

QLinear random_fc(const QuantOptions &q, int64_t in, int64_t out) {
  QLinearOptions o(in, out);
  o.quant(q);
  QLinear fc(o);
  torch::NoGradGuard no_grad;
  fc->bias.uniform_(-2.0, 2.0);
  fc->alpha.fill_(9.0);
  fc->input_fraclen.fill_(5.0);
  fc->eval();
  return fc;
}

// (1) With the pool compensation a folded into the FC weights, the bias codes
// must still encode the evaluation bias b / (s ws) with ws of the UNcompensated
// weights: the integer FC computes Q(aW) (sum / 2^k) = Q(aW) (mean / a) ~ Wq
// mean, so the bias must not grow by a.
TEST(Fidelity, FcBiasCodesIgnoreThePoolCompensation) {
  torch::manual_seed(11);
  QLinear fc = random_fc(quant(Mode::kFixed), 64, 10);
  const LayerCodes plain = fc->integer_codes(1.0);
  // ws from the uncompensated weight codes, computed independently here.
  torch::Tensor wq = torch::empty({10, 64}, torch::kDouble);
  for (int64_t i = 0; i < wq.numel(); ++i) {
    const int o = static_cast<int>(i / 64);
    wq.view({-1})[i] = std::ldexp(plain.weight[static_cast<size_t>(i)], -plain.weight_fl[o]);
  }
  const double ws = (1.0 / std::sqrt(10.0)) / wq.std().item<double>();
  const double s = fc->fix_scale_value();
  for (const double a : {1.0, 64.0 / 49.0, 16.0 / 9.0}) {
    const LayerCodes c = fc->integer_codes(a);
    for (int64_t o = 0; o < 10; ++o) {
      const int fl = c.input_fl + c.weight_fl[static_cast<size_t>(o)];
      const double want = fc->bias[o].item<double>() / (s * ws);
      const double got = std::ldexp(static_cast<double>(c.bias[static_cast<size_t>(o)]), -fl);
      // Half a bias step plus float32 slack in s and ws.
      EXPECT_NEAR(got, want, std::ldexp(0.5, -fl) + 1e-5 * std::abs(want))
          << "a=" << a << " o=" << o;
    }
  }
}

// (2) float mode keeps the FC rescaling y = (ws W) x + b, ws = (1/sqrt(out)) /
// std(W) (the reference's floating_wo_clip), so logits keep their scale when a
// float checkpoint goes fixed.
TEST(Fidelity, FloatModeFcKeepsTheRescaling) {
  torch::manual_seed(12);
  QLinear fc = random_fc(quant(Mode::kFloat), 32, 7);
  const torch::Tensor x = torch::rand({5, 32});
  torch::NoGradGuard no_grad;
  const double ws = (1.0 / std::sqrt(7.0)) / fc->weight.std().item<double>();
  const torch::Tensor want = torch::linear(x, fc->weight * ws, fc->bias);
  for (const bool training : {true, false}) {
    fc->train(training);
    EXPECT_TRUE(torch::allclose(fc->forward(x), want, 1e-5, 1e-6)) << "training=" << training;
  }
  EXPECT_DOUBLE_EQ(fc->logit_scale(), 1.0);
  QuantOptions q = quant(Mode::kFloat);
  q.rescale_forward = false;
  QLinear plain = random_fc(q, 32, 7);
  EXPECT_TRUE(torch::allclose(plain->forward(x), torch::linear(x, plain->weight, plain->bias)));
}

QConvBN raw_stem(const QuantOptions &q) {
  QConvBNOptions o(1, 4, 3);
  o.input_kind(InputKind::kRaw01).quant(q);
  QConvBN c(o);
  c->eval();
  return c;
}

// (3) The raw [0,1] image is pre-quantized rne(255 x)/256 in every mode
// (F8NET.md §14), not only in fixed mode: the stem sees the same values in
// pre-training as in deployment.
TEST(Fidelity, RawImageIsPreQuantizedInEveryMode) {
  torch::manual_seed(13);
  // Two images 0.4/255 apart around the same code k = rne(255 x): the stem must
  // not see the difference, because both pre-quantize to k/256.
  const torch::Tensor k = torch::randint(1, 255, {2, 1, 6, 6});
  const torch::Tensor lo = (k - 0.2) / 255.0, hi = (k + 0.2) / 255.0;
  ASSERT_TRUE(torch::equal(quantize_raw01(lo), quantize_raw01(hi)));
  for (const Mode m : {Mode::kFloat, Mode::kFpPact, Mode::kFixed}) {
    QConvBN stem = raw_stem(quant(m));
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(stem->forward(lo), stem->forward(hi))) << mode_name(m);
    EXPECT_DOUBLE_EQ(stem->fix_scale_value(), 1.0) << mode_name(m);  // weight_only: s = 1
  }
}

// (4) The normalised (signed, double_side) first layer uses s = 2^fx |alpha| /
// 127 like every other layer (reference), unless no_clipping.
TEST(Fidelity, NormalizedFirstLayerUsesItsAlpha) {
  for (const bool no_clip : {false, true}) {
    QuantOptions q = quant(Mode::kFixed);
    q.no_clipping = no_clip;
    q.normalize_input = true;
    QConvBNOptions o(3, 4, 3);
    o.input_kind(InputKind::kSigned).quant(q);
    QConvBN stem(o);
    stem->alpha.data().fill_(-6.0);
    stem->input_fraclen.fill_(4.6);  // used: 5
    const double want = no_clip ? 1.0 : 32.0 * 6.0 / 127.0;
    EXPECT_NEAR(stem->fix_scale_value(), want, 1e-6) << "no_clipping=" << no_clip;
  }
}

// (5) fp_pact clamps inputs and fused weights at the configured formats
// (input_format FL = initial_input_fl, weight_format FL = initial_weight_fl),
// not at hard-coded 6 and 7.
TEST(Fidelity, FpPactUsesTheConfiguredFormats) {
  torch::manual_seed(15);
  QuantOptions q = quant(Mode::kFpPact);
  q.initial_input_fl = 4;
  q.initial_weight_fl = 5;
  QConvBNOptions o(2, 3, 1);
  o.quant(q);
  QConvBN conv(o);
  conv->alpha.data().fill_(8.0);
  conv->eval();
  EXPECT_EQ(conv->input_fl_used(), 4);
  EXPECT_NEAR(conv->fix_scale_value(), 16.0 * 8.0 / 255.0, 1e-6);
  torch::NoGradGuard no_grad;
  conv->forward(torch::rand({1, 2, 3, 3}));
  EXPECT_EQ(conv->last_weight_fl(), std::vector<int32_t>{5});
  // Inputs clamp at 255 * 2^-4 (no rounding in fp_pact).
  QLinear fc = random_fc(q, 4, 2);
  fc->bias.data().zero_();
  const torch::Tensor big = torch::full({1, 4}, 100.0);
  const torch::Tensor clipped = torch::full({1, 4}, 255.0 / 16.0);
  EXPECT_TRUE(torch::allclose(fc->forward(big), fc->forward(clipped)));
  EXPECT_FALSE(torch::allclose(fc->forward(clipped * 0.5), fc->forward(clipped)));
  // The defaults stay the reference's floating ymls: input FL 6, weight FL 7.
  QuantOptions d = quant(Mode::kFpPact);
  QConvBN dconv(QConvBNOptions(2, 3, 1).quant(d));
  dconv->eval();
  dconv->forward(torch::rand({1, 2, 3, 3}));
  EXPECT_EQ(dconv->input_fl_used(), 6);
  EXPECT_EQ(dconv->last_weight_fl(), std::vector<int32_t>{7});
}

// (6) One normalisation computation: the training loader's (x - mean) / std is
// the runtime's, value for value (F8NET.md §15.3), so training, exact
// evaluation and deployment see the same input codes.
TEST(Fidelity, LoaderNormalizesExactlyLikeTheRuntime) {
  data::TransformOptions t;
  t.size = 16;
  t.train = false;
  t.normalize = true;
  t.out_channels = 3;
  t.mean = {0.485, 0.456, 0.406};
  t.std_dev = {0.229, 0.224, 0.225};
  data::Image img;
  img.channels = 3;
  img.height = 16;
  img.width = 16;
  img.hwc.resize(16 * 16 * 3);
  for (size_t i = 0; i < img.hwc.size(); ++i) img.hwc[i] = static_cast<uint8_t>(i / 3);
  std::vector<float> out(3 * 16 * 16);
  std::mt19937_64 rng(1);
  data::transform_image(img, t, rng, out.data());
  int64_t mismatches = 0;
  for (int c = 0; c < 3; ++c) {
    for (int p = 0; p < 256; ++p) {
      const float want = rt::normalized_pixel(
          static_cast<uint8_t>(p), static_cast<float>(t.mean[c]), static_cast<float>(t.std_dev[c]));
      mismatches += out[static_cast<size_t>(c * 256 + p)] != want;
    }
  }
  EXPECT_EQ(mismatches, 0);
}

}  // namespace
}  // namespace f8net::qat
