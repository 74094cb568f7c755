// Whole-model parity (F8NET.md decision 3): for every model family, a fixed-mode model with random
// weights and warmed-up statistics gives float64 exact-evaluation logits equal, bit for bit, to an
// independent integer evaluation of the runtime graph it recorded: the int64 oracle of
// tests/support/naive-graph.h (products and sums in int64, tie-corrected shifts, saturating adds
// and pools), after the runtime's validation has proved every int32 accumulator in range.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <map>

#include "f8net/qat/export.h"
#include "f8net/qat/models.h"
#include "f8net/qat/runtime-model.h"
#include "qat/random-models.h"
#include "support/naive-graph.h"

namespace f8net::qat {
namespace {

// The input codes of sample `n`, computed here from the image (not taken from the evaluation):
// raw01 code = rne(255 x) in [0, 255]; otherwise clamp(rne(x 2^FL)) to the input's range.
std::vector<int64_t> input_codes(const ExactGraph& g, const torch::Tensor& x, int64_t n) {
  const torch::Tensor xs = x[n].to(torch::kDouble).contiguous();
  const double* p = xs.data_ptr<double>();
  const bool is_signed = g.model.input.dtype == rt::DType::kInt8;
  std::vector<int64_t> codes(static_cast<size_t>(xs.numel()));
  for (size_t k = 0; k < codes.size(); ++k) {
    const double scaled = g.raw01 ? 255.0 * p[k] : std::ldexp(p[k], g.model.input.fl);
    const int64_t c = static_cast<int64_t>(std::nearbyint(scaled));
    codes[k] = is_signed ? std::clamp<int64_t>(c, -127, 127) : std::clamp<int64_t>(c, 0, 255);
  }
  return codes;
}

using Case = testing::ModelCase;

torch::Tensor inputs(const ModelOptions& o, int64_t n) {
  const torch::Tensor x = torch::rand({n, o.in_channels, o.input_size, o.input_size});
  return o.quant.normalize_input ? (x - 0.45) / 0.225 : x;
}

void check_parity(const Case& c) {
  SCOPED_TRACE(c.arch + " " + std::to_string(c.channels) + "x" + std::to_string(c.size) + " " +
               c.variant);
  torch::manual_seed(2024);
  const ModelOptions o = testing::fixed_model_options(c);
  testing::Randomization wide;
  wide.bn_weight_max = 8.0;
  wide.fc_bias = true;
  Net net = testing::warm_random_model(c, wide, [&](int64_t n) { return inputs(o, n); });
  const torch::Tensor x = inputs(o, 2);
  const ExactResult r = exact_eval_with_graph(*net, x);
  ASSERT_EQ(r.logits.scalar_type(), torch::kDouble);
  ASSERT_EQ(r.logits.sizes(), (std::vector<int64_t>{2, o.num_classes}));
  const rt::ModelDef& model = r.graph.model;
  ASSERT_FALSE(model.ops.empty());
  ASSERT_EQ(model.ops.back().type, rt::OpType::kFullyConnected);
  // The runtime's validation: every FL and shape as the evaluation computed them, and the int32
  // accumulator bound proof (so the int64 oracle below never leaves int32).
  rt::Metadata meta;
  meta.preprocessing.mode = r.graph.raw01 ? rt::Preprocess::kRaw01 : rt::Preprocess::kCodes;
  ASSERT_NO_THROW(to_runtime_model(r.graph, meta));
  const std::vector<int32_t>& out_fl = r.graph.values.back().fl;
  int64_t mismatches = 0;
  for (int64_t n = 0; n < 2; ++n) {
    const testing::NaiveValue out = testing::naive_run(model, input_codes(r.graph, x, n));
    ASSERT_EQ(static_cast<int64_t>(out.data.size()), o.num_classes);
    for (int64_t k = 0; k < o.num_classes; ++k) {
      const size_t ks = static_cast<size_t>(k);
      EXPECT_EQ(out.fl[ks], out_fl[ks]);
      const double want = std::ldexp(static_cast<double>(out.data[ks]), -out_fl[ks]);
      if (r.logits[n][k].item<double>() != want) ++mismatches;
    }
  }
  EXPECT_EQ(mismatches, 0);
  // The logits must not be trivially zero (a broken chain would still "agree").
  EXPECT_GT(r.logits.abs().sum().item<double>(), 0.0);
  // Structure: ops the family must use.
  std::map<rt::OpType, int> count;
  bool per_channel_differs = false;
  for (const rt::OpDef& op : model.ops) {
    ++count[op.type];
    if (op.type == rt::OpType::kConv2d &&
        std::adjacent_find(op.weight_fl.begin(), op.weight_fl.end(),
                           std::not_equal_to<int32_t>()) != op.weight_fl.end()) {
      per_channel_differs = true;
    }
  }
  EXPECT_EQ(count[rt::OpType::kGlobalSumPool], 1);
  EXPECT_EQ(count[rt::OpType::kFullyConnected], 1);
  const bool residual = c.arch.rfind("resnet", 0) == 0 || c.arch == "mobilenet_v2";
  EXPECT_EQ(count[rt::OpType::kAdd] > 0, residual);
  if (o.quant.per_channel) {
    EXPECT_TRUE(per_channel_differs);
  }
  // Agreement with the float32 simulation is measured, not assumed (decision 3).
  torch::NoGradGuard no_grad;
  const torch::Tensor sim = net->forward(x).to(torch::kDouble);
  std::cout << "[parity] " << c.arch << " " << c.variant << ": ops " << model.ops.size()
            << ", max |exact - float32 sim| = " << (sim - r.logits).abs().max().item<double>()
            << ", argmax agree " << (sim.argmax(1) == r.logits.argmax(1)).sum().item<int64_t>()
            << "/2\n";
}

TEST(Parity, SmallCnn) { check_parity({"small_cnn", 1, 28, 1.0, ""}); }
TEST(Parity, SmallCnnPerChannel) { check_parity({"small_cnn", 1, 28, 1.0, "per_channel"}); }
TEST(Parity, SmallCnnQuantAvgpool) { check_parity({"small_cnn", 1, 28, 1.0, "quant_avgpool"}); }
TEST(Parity, Resnet20) { check_parity({"resnet20", 1, 28, 1.0, ""}); }
TEST(Parity, Resnet20PerChannel) { check_parity({"resnet20", 3, 32, 1.0, "per_channel"}); }
TEST(Parity, Resnet20GridSearch) { check_parity({"resnet20", 1, 28, 1.0, "grid_search"}); }
TEST(Parity, Resnet20Normalized) { check_parity({"resnet20", 3, 32, 1.0, "normalize"}); }
TEST(Parity, Resnet56) { check_parity({"resnet56", 3, 32, 0.5, ""}); }
TEST(Parity, Resnet18) { check_parity({"resnet18", 3, 32, 0.25, ""}); }
TEST(Parity, Resnet18LargeStemMaxPool) { check_parity({"resnet18", 3, 72, 0.125, ""}); }
TEST(Parity, Resnet50) { check_parity({"resnet50", 3, 32, 0.125, ""}); }
TEST(Parity, MobilenetV1) { check_parity({"mobilenet_v1", 3, 32, 0.25, ""}); }
TEST(Parity, MobilenetV1PerChannel) { check_parity({"mobilenet_v1", 1, 28, 0.25, "per_channel"}); }
TEST(Parity, MobilenetV2) { check_parity({"mobilenet_v2", 3, 32, 0.25, ""}); }
TEST(Parity, MobilenetV2GridSearch) { check_parity({"mobilenet_v2", 1, 28, 0.25, "grid_search"}); }

// Narrow codes (issue 11): the oracle saturates to the recorded word lengths.
TEST(Parity, Resnet20FourBit) { check_parity({"resnet20", 1, 28, 0.5, "w4a4"}); }
TEST(Parity, MobilenetV2SixBitEverywhere) {
  check_parity({"mobilenet_v2", 3, 32, 0.25, "w6a6-all"});
}

TEST(Parity, ExactGraphMatchesConfiguredInput) {
  torch::manual_seed(1);
  ModelOptions o;
  o.arch = "small_cnn";
  o.quant.mode = Mode::kFixed;
  Net net = make_model(o);
  const ExactGraph g = exact_graph(*net);
  ASSERT_EQ(g.values.size(), g.model.ops.size() + 1);
  EXPECT_TRUE(g.raw01);
  EXPECT_EQ(g.model.input.shape, (rt::Shape{1, 28, 28}));
  EXPECT_EQ(g.model.input.dtype, rt::DType::kUint8);
  EXPECT_EQ(g.values[0].shape, (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(g.values.back().shape, (std::vector<int64_t>{10}));
  // Pool compensation 64/49 went into the last conv (not a residual sum): its codes differ from
  // the uncompensated ones.
  o.quant.mode = Mode::kFloat;
  Net fnet = make_model(o);
  EXPECT_THROW(exact_graph(*fnet), c10::Error);
}

}  // namespace
}  // namespace f8net::qat
