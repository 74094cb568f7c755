// Word lengths other than 8 (issue 11): the quantizer at every width 2..8 against a scalar
// reference written here from F8NET.md §4 (codes +-(2^(n-1)-1) or 0..2^n-1, strict STE bounds on
// the rounded value), the ATen path bit-equal to the fused kernel at every width, FL rules over
// the narrower grid, and how make_model gives layers their widths (first/last 8, overrides).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "f8net/fixed.h"
#include "f8net/qat/models.h"
#include "f8net/qat/modules.h"
#include "f8net/qat/quantize.h"

namespace f8net::qat {
namespace {

// Q(v; f, n, sg) and its mask, the plain way (std::nearbyint is half-to-even by default).
std::pair<double, double> reference_q(double v, int f, int n, bool sg) {
  double r = std::nearbyint(v * std::ldexp(1.0, f));
  const double hi = sg ? std::ldexp(1.0, n - 1) - 1 : std::ldexp(1.0, n) - 1;
  const double lo = sg ? -hi : 0.0;
  const double pass = (sg ? std::fabs(r) < hi : (r > 0 && r < hi)) ? 1.0 : 0.0;
  r = std::min(std::max(r, lo), hi);
  return {r * std::ldexp(1.0, -f), pass};
}

// Values around every saturation edge and tie of the n-bit grid at FL f, plus random ones.
std::vector<double> edge_values(int f, int n, bool sg) {
  const double step = std::ldexp(1.0, -f);
  const double hi = (sg ? std::ldexp(1.0, n - 1) - 1 : std::ldexp(1.0, n) - 1) * step;
  std::vector<double> v;
  for (double base : {hi, -hi, 0.0, step, -step}) {
    for (double d : {-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 1.5}) v.push_back(base + d * step);
  }
  for (int k = -40; k <= 40; ++k) v.push_back((k + 0.5) * step);  // ties
  v.push_back(3 * hi);
  v.push_back(-3 * hi);
  return v;
}

TEST(WordBits, QuantizerEqualsScalarReferenceAtEveryWidth) {
  torch::manual_seed(11);
  for (int n = 2; n <= 8; ++n) {
    for (bool sg : {true, false}) {
      for (int f = 0; f <= (sg ? n - 1 : n); ++f) {
        std::vector<double> v = edge_values(f, n, sg);
        const torch::Tensor rnd = torch::randn({64}, torch::kDouble) * std::ldexp(4.0, n - f);
        for (int64_t i = 0; i < rnd.numel(); ++i) v.push_back(rnd[i].item<double>());
        for (torch::ScalarType dt : {torch::kFloat, torch::kDouble}) {
          const torch::Tensor x =
              torch::tensor(v, torch::kDouble).to(dt).view({1, static_cast<int64_t>(v.size())});
          torch::Tensor out = torch::empty_like(x), mask = torch::empty_like(x);
          quantize_kernel(x, {f}, sg, 1, false, out, mask, n);
          const torch::Tensor xd = x.to(torch::kDouble), od = out.to(torch::kDouble),
                              md = mask.to(torch::kDouble);
          for (int64_t i = 0; i < x.numel(); ++i) {
            const auto [q, pass] = reference_q(xd[0][i].item<double>(), f, n, sg);
            ASSERT_EQ(od[0][i].item<double>(), q)
                << "n=" << n << " sg=" << sg << " f=" << f << " x=" << xd[0][i].item<double>();
            ASSERT_EQ(md[0][i].item<double>(), pass) << "n=" << n << " f=" << f;
          }
          // The autograd wrapper gives the same values and grad * mask.
          torch::Tensor xg = x.clone().set_requires_grad(true);
          const torch::Tensor y = quantize_ste(xg, {f}, sg, 1, false, n);
          EXPECT_TRUE(torch::equal(y.detach(), out));
          y.sum().backward();
          EXPECT_TRUE(torch::equal(xg.grad(), mask));
        }
      }
    }
  }
}

TEST(WordBits, AtenPathEqualsTheFusedKernelAtEveryWidth) {
  torch::manual_seed(5);
  for (int n = 2; n <= 8; ++n) {
    for (bool sg : {true, false}) {
      for (bool floating : {false, true}) {
        const torch::Tensor x = torch::randn({3, 4, 5, 6}) * 4.0;
        const torch::Tensor g = torch::randn_like(x);
        const int max_fl = sg ? n - 1 : n;
        for (const std::vector<int32_t>& fl :
             {std::vector<int32_t>{max_fl / 2}, std::vector<int32_t>{0, max_fl, 1, max_fl / 2}}) {
          torch::Tensor out = torch::empty_like(x), mask = torch::empty_like(x);
          quantize_kernel(x, fl, sg, 1, floating, out, mask, n);
          const auto aten = quantize_aten(x, fl, sg, 1, floating, n);
          EXPECT_EQ(std::memcmp(aten.first.data_ptr(), out.data_ptr(), out.nbytes()), 0) << n;
          EXPECT_EQ(std::memcmp(aten.second.data_ptr(), mask.data_ptr(), mask.nbytes()), 0);
          EXPECT_TRUE(torch::equal(ste_gradient_aten(x, g, fl, sg, 1, floating, n),
                                   ste_gradient(x, g, fl, sg, 1, floating, n)));
        }
      }
    }
  }
}

TEST(WordBits, RejectsWidthsAndFlsOutsideTheWord) {
  const torch::Tensor x = torch::zeros({2, 3});
  EXPECT_THROW(quantize_ste(x, {4}, true, 1, false, 4), c10::Error);   // signed 4-bit: FL <= 3
  EXPECT_THROW(quantize_ste(x, {5}, false, 1, false, 4), c10::Error);  // unsigned: FL <= 4
  EXPECT_NO_THROW(quantize_ste(x, {4}, false, 1, false, 4));
  EXPECT_THROW(quantize_ste(x, {0}, true, 1, false, 1), c10::Error);
  EXPECT_THROW(quantize_ste(x, {0}, true, 1, false, 9), c10::Error);
  EXPECT_THROW(quantize_aten(x, {0}, true, 1, false, 9), c10::Error);
  EXPECT_THROW(activation_fl(x, true, fixed::Metric::kStd, false, 9), c10::Error);
}

TEST(WordBits, NarrowWidthsSearchTheirOwnGrid) {
  torch::manual_seed(3);
  const torch::Tensor u = torch::relu(torch::randn({4096}) * 2.0);
  const torch::Tensor s = torch::randn({4096}) * 0.3;
  for (int n = 2; n <= 8; ++n) {
    // Widths other than 8 always search the grid (the metric constants are for 8 bits), with
    // candidates 0..n-sg; at 8 the configured rule stands.
    for (bool sg : {false, true}) {
      const torch::Tensor& x = sg ? s : u;
      const int64_t want = fixed::fl_grid_search(x.data_ptr<float>(), 4096, sg, n);
      if (n != 8) {
        EXPECT_EQ(activation_fl(x, sg, fixed::Metric::kStd, false, n), want) << n;
      }
      EXPECT_EQ(activation_fl(x, sg, fixed::Metric::kStd, true, n), want) << n;
      EXPECT_LE(want, sg ? n - 1 : n);
    }
  }
  // At 8 bits the metric rule is unchanged (std 0.3 signed: floor(log2(40/0.3)) = 7).
  EXPECT_EQ(activation_fl(s, true, fixed::Metric::kStd, false, 8), 7);
  // Fewer bits cost range: the grid search gives up fractional bits to keep the clip.
  EXPECT_LT(activation_fl(s, true, fixed::Metric::kStd, false, 3),
            activation_fl(s, true, fixed::Metric::kStd, true, 8));
  // Weight FLs at 4 bits: one per layer (grid search), codes in +-7.
  const torch::Tensor w = torch::randn({8, 3, 3, 3}) * 0.2;
  const std::vector<int32_t> fl = weight_fls(w, true, fixed::Metric::kStd, false, 4);
  ASSERT_EQ(fl.size(), 1u);
  const torch::Tensor q = quantize_ste(w, fl, true, 0, false, 4) * std::ldexp(1.0, fl[0]);
  EXPECT_LE(q.abs().max().item<float>(), 7.0f);
  EXPECT_LE(fl[0], 3);
  EXPECT_EQ(fl[0], fixed::fl_grid_search(w.contiguous().data_ptr<float>(),
                                         static_cast<size_t>(w.numel()), true, 4));
}

std::vector<std::pair<std::string, QLayerImpl*>> layers_of(NetImpl& net) {
  std::vector<std::pair<std::string, QLayerImpl*>> out;
  for (const auto& m : net.named_modules("", false)) {
    if (auto* l = dynamic_cast<QLayerImpl*>(m.value().get())) out.emplace_back(m.key(), l);
  }
  return out;
}

ModelOptions resnet20(int wb, int ab) {
  ModelOptions o;
  o.arch = "resnet20";
  o.input_size = 28;
  o.width_mult = 0.25;
  o.quant.weight_bits = wb;
  o.quant.activation_bits = ab;
  return o;
}

TEST(WordBits, FirstAndLastLayersStayAt8AndOverridesApply) {
  Net net = make_model(resnet20(4, 6));
  const auto layers = layers_of(*net);
  ASSERT_GT(layers.size(), 10u);
  for (const auto& [name, l] : layers) {
    const bool edge = name == "stem" || name == "fc";
    EXPECT_EQ(l->weight_bits(), edge ? 8 : 4) << name;
    EXPECT_EQ(l->activation_bits(), edge ? 8 : 6) << name;
  }
  ModelOptions o = resnet20(4, 4);
  o.quant.first_last_8bit = false;
  o.quant.layer_bits = {{"blocks.2.convs.1", 6, 0}, {"fc", 0, 5}};
  net = make_model(o);
  for (const auto& [name, l] : layers_of(*net)) {
    if (name == "stem") {
      EXPECT_EQ(l->weight_bits(), 4);
      EXPECT_EQ(l->activation_bits(), 8) << "the raw image stays 8-bit";
    } else if (name == "blocks.2.convs.1") {
      EXPECT_EQ(l->weight_bits(), 6);
      EXPECT_EQ(l->activation_bits(), 4);
    } else if (name == "fc") {
      EXPECT_EQ(l->weight_bits(), 4);
      EXPECT_EQ(l->activation_bits(), 5);
    } else {
      EXPECT_EQ(l->weight_bits(), 4) << name;
      EXPECT_EQ(l->activation_bits(), 4) << name;
    }
  }
}

TEST(WordBits, BadOverridesAreRefusedNamingTheKey) {
  const auto message = [](const ModelOptions& o) -> std::string {
    try {
      make_model(o);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  ModelOptions o = resnet20(4, 4);
  o.quant.layer_bits = {{"blocks.99.convs.0", 4, 0}};
  EXPECT_NE(message(o).find("quant.layer_bits.blocks.99.convs.0"), std::string::npos);
  o.quant.layer_bits = {{"stem", 0, 4}};
  EXPECT_NE(message(o).find("8-bit image"), std::string::npos);
  // blocks.1 is an identity block whose first conv shares blocks.0's clip (§12.1): its input
  // width follows, and a different one is refused.
  o.quant.layer_bits = {{"blocks.1.convs.0", 0, 6}};
  const std::string m = message(o);
  EXPECT_NE(m.find("shares its clip level"), std::string::npos) << m;
  o.quant.layer_bits = {{"blocks.0.convs.0", 0, 6}};
  Net net = make_model(o);
  for (const auto& [name, l] : layers_of(*net)) {
    if (name == "blocks.1.convs.0" || name == "blocks.2.convs.0") {
      EXPECT_EQ(l->activation_bits(), 6) << name << " follows its master";
    }
  }
}

// A 4-bit training step: finite loss, gradients on the weights, and the evaluation's integer
// codes inside the 4-bit ranges (weights +-7, unsigned inputs 0..15) with FLs <= the word's.
TEST(WordBits, FourBitTrainingStepAndCodes) {
  torch::manual_seed(1);
  torch::set_num_threads(2);
  ModelOptions o;
  o.arch = "small_cnn";
  o.input_size = 28;
  o.width_mult = 0.5;
  o.quant.weight_bits = 4;
  o.quant.activation_bits = 4;
  Net net = make_model(o);
  net->train();
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.01));
  const torch::Tensor x = torch::rand({16, 1, 28, 28});
  const torch::Tensor y = torch::randint(0, 10, {16});
  double first = 0, last = 0;
  for (int step = 0; step < 8; ++step) {
    opt.zero_grad();
    const torch::Tensor loss = torch::cross_entropy_loss(net->forward(x), y);
    ASSERT_TRUE(std::isfinite(loss.item<double>()));
    loss.backward();
    if (step == 0) {
      first = loss.item<double>();
      for (const auto& p : net->named_parameters()) {
        if (p.key().find("weight") != std::string::npos && p.value().grad().defined()) {
          EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
        }
      }
    }
    opt.step();
    last = loss.item<double>();
  }
  EXPECT_LT(last, first) << "eight steps on one batch lower its loss";
  net->eval();
  for (const auto& [name, l] : layers_of(*net)) {
    LayerCodes codes;
    if (auto* c = dynamic_cast<QConvBNImpl*>(l)) codes = c->integer_codes();
    if (auto* f = dynamic_cast<QLinearImpl*>(l)) codes = f->integer_codes();
    const bool edge = name == "stem" || name == "fc";
    const int wb = edge ? 8 : 4, ab = edge ? 8 : 4;
    EXPECT_EQ(codes.weight_bits, wb) << name;
    EXPECT_EQ(codes.input_bits, ab) << name;
    for (int8_t w : codes.weight) ASSERT_LE(std::abs(int{w}), (1 << (wb - 1)) - 1) << name;
    for (int fl : codes.weight_fl) EXPECT_LE(fl, wb - 1) << name;
    EXPECT_LE(codes.input_fl, ab) << name;
  }
}

}  // namespace
}  // namespace f8net::qat
