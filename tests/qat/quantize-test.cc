// The quantizer and tensor FL rules (F8NET.md §4-§6, §22 TV1/TV2/TV4/TV5/TV11): forward values and
// STE masks of the fused kernel, per-channel broadcast, gradients = grad * mask exactly, and
// agreement with the core's fixed::quantize / fixed::ste_pass on random data.
#include "f8net/qat/quantize.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>

#include "f8net/fixed.h"

namespace f8net::qat {
namespace {

// Forward values and the gradient of sum(out * g) (= g * mask) for a per-tensor FL.
void check_rows(const std::vector<double>& x, int fl, bool is_signed,
                const std::vector<double>& value, const std::vector<int>& pass,
                torch::ScalarType dtype) {
  const int64_t n = static_cast<int64_t>(x.size());
  torch::Tensor xt =
      torch::tensor(x, torch::kDouble).to(dtype).view({1, n}).set_requires_grad(true);
  const torch::Tensor out = quantize_ste(xt, {fl}, is_signed, 1);
  const torch::Tensor g = torch::arange(1, n + 1, torch::kDouble).to(dtype).view({1, n});
  (out * g).sum().backward();
  const torch::Tensor od = out.detach().to(torch::kDouble).flatten();
  const torch::Tensor gd = xt.grad().to(torch::kDouble).flatten();
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(od[i].item<double>(), value[i]) << "x=" << x[i];
    EXPECT_EQ(gd[i].item<double>(), pass[i] ? static_cast<double>(i + 1) : 0.0) << "x=" << x[i];
  }
}

TEST(Quantize, TV1SignedFl7) {
  const std::vector<double> x = {3.0 / 256,   5.0 / 256, -3.0 / 256, 0.5,       255.0 / 256,
                                 253.0 / 256, -1.0,      1.5,        1.0 / 256, -1.0 / 256};
  const std::vector<double> v = {0.015625, 0.015625,   -0.015625, 0.5, 0.9921875,
                                 0.984375, -0.9921875, 0.9921875, 0.0, 0.0};
  const std::vector<int> pass = {1, 1, 1, 1, 0, 1, 0, 0, 1, 1};
  check_rows(x, 7, true, v, pass, torch::kFloat);
  check_rows(x, 7, true, v, pass, torch::kDouble);
}

TEST(Quantize, TV2UnsignedFl5) {
  const std::vector<double> x = {-0.25,      0.0,        1.0 / 64,   1.0 / 32,   3.0 / 64,
                                 201.0 / 64, 203.0 / 64, 509.0 / 64, 255.0 / 32, 8.0};
  const std::vector<double> v = {0, 0, 0, 0.03125, 0.0625, 3.125, 3.1875, 7.9375, 7.96875, 7.96875};
  const std::vector<int> pass = {0, 0, 0, 1, 1, 1, 1, 1, 0, 0};
  check_rows(x, 5, false, v, pass, torch::kFloat);
  check_rows(x, 5, false, v, pass, torch::kDouble);
}

TEST(Quantize, FloatingClampsWithoutRoundingAndMasksUnrounded) {
  // FL 6 unsigned: clip at 255/64 = 3.984375; 0.003 stays (no rounding) and passes.
  torch::Tensor x = torch::tensor({-0.5, 0.003, 1.2345, 3.98, 4.5}, torch::kDouble)
                        .view({1, 5})
                        .set_requires_grad(true);
  const torch::Tensor out = quantize_ste(x, {6}, false, 1, /*floating=*/true);
  out.sum().backward();
  const std::vector<double> want = {0.0, 0.003, 1.2345, 3.98, 3.984375};
  const std::vector<double> grad = {0, 1, 1, 1, 0};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(out[0][i].item<double>(), want[static_cast<size_t>(i)]);
    EXPECT_EQ(x.grad()[0][i].item<double>(), grad[static_cast<size_t>(i)]);
  }
  // Rounded mode masks 1/256 at FL 6 unsigned? 1/256 * 64 = 0.25 -> rounds to 0 -> blocked.
  torch::Tensor y = torch::tensor({1.0 / 256}, torch::kDouble).view({1, 1}).set_requires_grad(true);
  quantize_ste(y, {6}, false, 1, true).sum().backward();
  EXPECT_EQ(y.grad().item<double>(), 1.0) << "floating mask uses the unrounded value";
}

// Random data against the core, element by element, per tensor and per channel, float and double.
TEST(Quantize, FusedKernelEqualsCoreOnRandomData) {
  torch::manual_seed(7);
  torch::set_num_threads(2);
  for (torch::ScalarType dt : {torch::kFloat, torch::kDouble}) {
    for (bool sg : {true, false}) {
      for (int64_t axis : {0, 1}) {
        const torch::Tensor x = (torch::randn({5, 6, 7, 9}) * 3.0).to(dt);
        // ties: put exact half-grid values in
        x.view(-1).slice(0, 0, 40).copy_(torch::arange(-20, 20).to(dt) * 0.5 / 32);
        const int64_t channels = x.size(axis);
        std::vector<int32_t> fl(static_cast<size_t>(channels));
        for (int64_t c = 0; c < channels; ++c) fl[static_cast<size_t>(c)] = (c * 3) % (sg ? 8 : 9);
        for (bool per_channel : {false, true}) {
          const std::vector<int32_t> used = per_channel ? fl : std::vector<int32_t>{5};
          torch::Tensor xg = x.clone().set_requires_grad(true);
          const torch::Tensor out = quantize_ste(xg, used, sg, axis);
          const torch::Tensor g = torch::randn_like(x);
          (out * g).sum().backward();
          const torch::Tensor xd = x.to(torch::kDouble).contiguous();
          const torch::Tensor od = out.detach().to(torch::kDouble).contiguous();
          const torch::Tensor gd = xg.grad().to(torch::kDouble).contiguous();
          const torch::Tensor gg = g.to(torch::kDouble).contiguous();
          int64_t inner = 1;
          for (int64_t d = axis + 1; d < x.dim(); ++d) inner *= x.size(d);
          int64_t bad = 0;
          for (int64_t i = 0; i < x.numel(); ++i) {
            const int64_t c = (i / inner) % channels;
            const fixed::Format f{
                8, static_cast<int>(per_channel ? used[static_cast<size_t>(c)] : used[0]), sg};
            const double v = xd.data_ptr<double>()[i];
            const double want = fixed::fake_quantize(v, f);
            const double want_grad = fixed::ste_pass(v, f) ? gg.data_ptr<double>()[i] : 0.0;
            if (od.data_ptr<double>()[i] != want || gd.data_ptr<double>()[i] != want_grad) ++bad;
          }
          EXPECT_EQ(bad, 0) << "dtype " << dt << " signed " << sg << " axis " << axis
                            << " per_channel " << per_channel;
        }
      }
    }
  }
}

// The fused backward recomputes the mask from x: it must equal grad * the forward kernel's mask,
// bit for bit, NaN/inf inputs and gradients included (NaN * 0 stays NaN, as in grad * mask), for
// a non-contiguous input too.
TEST(Quantize, SteGradientEqualsGradTimesKernelMask) {
  torch::manual_seed(11);
  for (bool floating : {false, true}) {
    for (bool sg : {true, false}) {
      torch::Tensor x = (torch::randn({6, 4, 5}) * 4.0).transpose(0, 2);  // non-contiguous
      x.select(0, 0).select(0, 0).copy_(
          torch::tensor({NAN, INFINITY, -INFINITY, 0.0f, 1.99f, -1.99f}));
      torch::Tensor g = torch::randn_like(x).contiguous();
      g.view(-1).index_put_({0}, NAN);
      g.view(-1).index_put_({1}, INFINITY);
      for (const std::vector<int32_t>& fl :
           {std::vector<int32_t>{6}, std::vector<int32_t>{1, 7, 3, 0}}) {
        const torch::Tensor xc = x.contiguous();
        torch::Tensor mask = torch::empty_like(xc);
        quantize_kernel(xc, fl, sg, 1, floating, torch::Tensor(), mask);
        const torch::Tensor want = g * mask;
        const torch::Tensor got = ste_gradient(x, g, fl, sg, 1, floating);
        EXPECT_TRUE(torch::equal(got.isnan(), want.isnan()));
        EXPECT_TRUE(torch::equal(torch::nan_to_num(got, 7.0), torch::nan_to_num(want, 7.0)))
            << "floating " << floating << " signed " << sg << " FLs " << fl.size();
      }
    }
  }
  EXPECT_THROW(ste_gradient(torch::zeros({2, 3}), torch::zeros({3, 2}), {1}, true, 1, false),
               c10::Error);
}

// The ATen-only path (what runs off the CPU, issue 14) equals the fused kernel bit for bit on
// the CPU: values, masks and STE gradients, compared as raw bytes (so -0 vs +0 and NaN payloads
// count), for float32/float64, signed/unsigned, floating or not, per tensor and per channel, on
// random data with exact ties, huge values, +-0, +-inf and NaN.
TEST(Quantize, AtenPathEqualsTheFusedKernelBitForBit) {
  torch::manual_seed(23);
  const auto same_bytes = [](const torch::Tensor& a, const torch::Tensor& b) {
    const torch::Tensor ac = a.contiguous(), bc = b.contiguous();
    return ac.scalar_type() == bc.scalar_type() && ac.sizes() == bc.sizes() &&
           std::memcmp(ac.data_ptr(), bc.data_ptr(), ac.nbytes()) == 0;
  };
  for (torch::ScalarType dt : {torch::kFloat, torch::kDouble}) {
    for (bool sg : {true, false}) {
      for (bool floating : {false, true}) {
        torch::Tensor x = (torch::randn({4, 6, 5, 7}) * 3.0).to(dt);
        auto flat = x.view(-1);
        flat.slice(0, 0, 48).copy_(torch::arange(-24, 24).to(dt) * 0.5 / 16);  // ties
        const std::vector<double> special = {0.0,      -0.0,      1e30,         -1e30,
                                             HUGE_VAL, -HUGE_VAL, std::nan(""), -0.001};
        flat.slice(0, 48, 56).copy_(torch::tensor(special, torch::kDouble).to(dt));
        const torch::Tensor g = torch::randn_like(x);
        g.view(-1).index_put_({0}, NAN);
        for (const std::vector<int32_t>& fl :
             {std::vector<int32_t>{5}, std::vector<int32_t>{0, 7, 3, 6, 1, 2}}) {
          torch::Tensor out = torch::empty_like(x), mask = torch::empty_like(x);
          quantize_kernel(x, fl, sg, 1, floating, out, mask);
          const auto aten = quantize_aten(x, fl, sg, 1, floating);
          EXPECT_TRUE(same_bytes(aten.first, out))
              << dt << " signed " << sg << " floating " << floating << " FLs " << fl.size();
          EXPECT_TRUE(same_bytes(aten.second, mask));
          EXPECT_TRUE(same_bytes(ste_gradient_aten(x, g, fl, sg, 1, floating),
                                 ste_gradient(x, g, fl, sg, 1, floating)));
        }
      }
    }
  }
}

TEST(Quantize, RejectsBadFls) {
  const torch::Tensor x = torch::zeros({2, 3});
  EXPECT_THROW(quantize_ste(x, {8}, true, 1), c10::Error);
  EXPECT_THROW(quantize_ste(x, {9}, false, 1), c10::Error);
  EXPECT_THROW(quantize_ste(x, {1, 2}, true, 1), c10::Error);  // 2 FLs for 3 channels
  EXPECT_THROW(quantize_ste(x.to(torch::kInt), {1}, true, 1), c10::Error);
}

TEST(Quantize, TV11RawInput) {
  const torch::Tensor x = torch::tensor({0.0f, 1.0f / 255, 128.0f / 255, 1.0f});
  const torch::Tensor q = quantize_raw01(x);
  const std::vector<float> want = {0.0f, 0.00390625f, 0.5f, 0.99609375f};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(q[i].item<float>(), want[static_cast<size_t>(i)]);
}

TEST(Quantize, TV4MetricRuleOnTensors) {
  // Weight vector of TV4: unbiased std 0.210594 -> FL 7, codes [15,-40,6,28,-9,51,-23,1,12].
  const torch::Tensor w =
      torch::tensor({0.12f, -0.31f, 0.05f, 0.22f, -0.07f, 0.40f, -0.18f, 0.01f, 0.09f});
  const std::vector<int32_t> fl = weight_fls(w.view({1, 9}), false, fixed::Metric::kStd, false);
  ASSERT_EQ(fl, (std::vector<int32_t>{7}));
  const torch::Tensor q = quantize_ste(w.view({1, 9}), fl, true, 0) * 128;
  const std::vector<float> codes = {15, -40, 6, 28, -9, 51, -23, 1, 12};
  for (int i = 0; i < 9; ++i) EXPECT_EQ(q[0][i].item<float>(), codes[static_cast<size_t>(i)]);
  // Per-channel: one row with std 1.0-ish scaled so FLs differ per row.
  const torch::Tensor w2 = torch::stack({w, w * 8});
  EXPECT_EQ(weight_fls(w2, true, fixed::Metric::kStd, false), (std::vector<int32_t>{7, 4}));
  EXPECT_EQ(weight_fls(w2, false, fixed::Metric::kStd, false).size(), 1u);
  // Grid search is always per layer (§5.4).
  EXPECT_EQ(weight_fls(w2, true, fixed::Metric::kStd, true).size(), 1u);
}

TEST(Quantize, TV5GridSearchAndMetricOnActivations) {
  const torch::Tensor u = torch::tensor({0.1f, 0.5f, 1.2f, 3.7f, 0.02f, 2.2f, -0.4f, 0.9f});
  EXPECT_EQ(activation_fl(u, false, fixed::Metric::kStd, true), 6);
  EXPECT_EQ(activation_fl(u, false, fixed::Metric::kStd, false), 5);
  const torch::Tensor s = torch::tensor({0.1f, -0.5f, 1.2f, -3.7f, 0.02f, 2.2f, -0.4f, 0.9f});
  EXPECT_EQ(activation_fl(s, true, fixed::Metric::kStd, true), 5);
  EXPECT_EQ(activation_fl(s, true, fixed::Metric::kStd, false), 4);
  EXPECT_EQ(activation_fl(torch::zeros({4, 4}), false, fixed::Metric::kStd, true), 0);
  EXPECT_EQ(activation_fl(torch::zeros({4, 4}), false, fixed::Metric::kStd, false), 8);
  // Double tensors use the metric on the same values.
  EXPECT_EQ(activation_fl(u.to(torch::kDouble), false, fixed::Metric::kStd, false), 5);
}

}  // namespace
}  // namespace f8net::qat
