// Whole-model parity (F8NET.md decision 3): for every model family, a fixed-mode model with random
// weights and warmed-up statistics gives float64 exact-evaluation logits equal, bit for bit, to an
// independent integer evaluation of its integer view written here (int8 x 8-bit products, int32
// accumulators checked for range, tie-corrected shifts, saturating adds and pools).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <map>

#include "f8net/qat/export.h"
#include "f8net/qat/models.h"
#include "qat/random-models.h"

namespace f8net::qat {
namespace {

constexpr int64_t kI32Max = 2147483647;

// rne(a / 2^d) for d > 0 by F8NET.md §3's tie-corrected arithmetic shift; a << -d for d <= 0.
int64_t shift_rne(int64_t a, int d) {
  if (d <= 0) return a * (int64_t{1} << -d);
  const int64_t h = int64_t{1} << (d - 1);
  const int64_t t = a + h;
  if ((a & ((int64_t{1} << d) - 1)) == h) return (t >> (d + 1)) << 1;
  return t >> d;
}

int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

struct IntTensor {
  std::vector<int64_t> v;
  std::vector<int64_t> shape;  // C, H, W or C
  int64_t channels() const { return shape[0]; }
  int64_t plane() const { return shape.size() == 3 ? shape[1] * shape[2] : 1; }
};

// Evaluates the view on sample `n` of x; returns the int32 logits. Counts accumulators that would
// overflow int32 in `overflow` (the runtime refuses such models, so there must be none).
std::vector<int64_t> run_integer(const IntegerView& view, const torch::Tensor& x, int64_t n,
                                 int64_t* overflow) {
  std::vector<IntTensor> val(view.nodes.size());
  const torch::Tensor xs = x[n].to(torch::kDouble).contiguous();
  for (size_t i = 0; i < view.nodes.size(); ++i) {
    const IntegerNode& node = view.nodes[i];
    IntTensor& out = val[i];
    out.shape = node.shape;
    switch (node.op) {
      case IntegerOp::kInput: {
        const double* p = xs.data_ptr<double>();
        out.v.resize(static_cast<size_t>(xs.numel()));
        for (size_t k = 0; k < out.v.size(); ++k) {
          if (node.raw01) {
            out.v[k] = clamp64(static_cast<int64_t>(std::nearbyint(255.0 * p[k])), 0, 255);
          } else {
            const int64_t c = static_cast<int64_t>(std::nearbyint(std::ldexp(p[k], node.fl[0])));
            out.v[k] = node.is_signed ? clamp64(c, -127, 127) : clamp64(c, 0, 255);
          }
        }
        break;
      }
      case IntegerOp::kRequantize: {
        const IntegerNode& src = view.nodes[static_cast<size_t>(node.inputs[0])];
        const IntTensor& in = val[static_cast<size_t>(node.inputs[0])];
        out.v.resize(in.v.size());
        for (int64_t c = 0; c < in.channels(); ++c) {
          for (int64_t k = 0; k < in.plane(); ++k) {
            const size_t idx = static_cast<size_t>(c * in.plane() + k);
            const int64_t r = shift_rne(in.v[idx], src.fl[static_cast<size_t>(c)] - node.fl[0]);
            out.v[idx] = node.is_signed ? clamp64(r, -127, 127) : clamp64(r, 0, 255);
          }
        }
        break;
      }
      case IntegerOp::kConv2d: {
        const IntTensor& in = val[static_cast<size_t>(node.inputs[0])];
        const int64_t O = node.weight_shape[0], IG = node.weight_shape[1];
        const int64_t KH = node.weight_shape[2], KW = node.weight_shape[3];
        const int64_t H = in.shape[1], W = in.shape[2];
        const int64_t OH = node.shape[1], OW = node.shape[2];
        const int64_t opg = O / node.groups;
        out.v.assign(static_cast<size_t>(O * OH * OW), 0);
        for (int64_t o = 0; o < O; ++o) {
          const int64_t g = o / opg;
          for (int64_t oy = 0; oy < OH; ++oy) {
            for (int64_t ox = 0; ox < OW; ++ox) {
              int64_t acc = node.bias[static_cast<size_t>(o)];
              for (int64_t ic = 0; ic < IG; ++ic) {
                const int64_t c = g * IG + ic;
                for (int64_t ky = 0; ky < KH; ++ky) {
                  const int64_t iy = oy * node.stride - node.padding + ky * node.dilation;
                  if (iy < 0 || iy >= H) continue;
                  for (int64_t kx = 0; kx < KW; ++kx) {
                    const int64_t ix = ox * node.stride - node.padding + kx * node.dilation;
                    if (ix < 0 || ix >= W) continue;
                    const int64_t w = node.weight[static_cast<size_t>(((o * IG + ic) * KH + ky) * KW + kx)];
                    acc += w * in.v[static_cast<size_t>((c * H + iy) * W + ix)];
                  }
                }
              }
              if (acc > kI32Max || acc < -kI32Max) ++*overflow;
              out.v[static_cast<size_t>((o * OH + oy) * OW + ox)] = acc;
            }
          }
        }
        break;
      }
      case IntegerOp::kFullyConnected: {
        const IntTensor& in = val[static_cast<size_t>(node.inputs[0])];
        const int64_t O = node.weight_shape[0], K = node.weight_shape[1];
        EXPECT_EQ(static_cast<int64_t>(in.v.size()), K);
        out.v.assign(static_cast<size_t>(O), 0);
        for (int64_t o = 0; o < O; ++o) {
          int64_t acc = node.bias[static_cast<size_t>(o)];
          for (int64_t k = 0; k < K; ++k) {
            acc += int64_t{node.weight[static_cast<size_t>(o * K + k)]} * in.v[static_cast<size_t>(k)];
          }
          if (acc > kI32Max || acc < -kI32Max) ++*overflow;
          out.v[static_cast<size_t>(o)] = acc;
        }
        break;
      }
      case IntegerOp::kRelu: {
        out.v = val[static_cast<size_t>(node.inputs[0])].v;
        for (int64_t& v : out.v) v = std::max<int64_t>(v, 0);
        break;
      }
      case IntegerOp::kMaxPool: {
        const IntTensor& in = val[static_cast<size_t>(node.inputs[0])];
        const int64_t C = in.shape[0], H = in.shape[1], W = in.shape[2];
        const int64_t OH = node.shape[1], OW = node.shape[2];
        out.v.assign(static_cast<size_t>(C * OH * OW), 0);
        for (int64_t c = 0; c < C; ++c) {
          for (int64_t oy = 0; oy < OH; ++oy) {
            for (int64_t ox = 0; ox < OW; ++ox) {
              int64_t m = std::numeric_limits<int64_t>::min();
              for (int64_t ky = 0; ky < node.kernel; ++ky) {
                for (int64_t kx = 0; kx < node.kernel; ++kx) {
                  const int64_t iy = oy * node.stride - node.padding + ky;
                  const int64_t ix = ox * node.stride - node.padding + kx;
                  if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                  m = std::max(m, in.v[static_cast<size_t>((c * H + iy) * W + ix)]);
                }
              }
              out.v[static_cast<size_t>((c * OH + oy) * OW + ox)] = m;
            }
          }
        }
        break;
      }
      case IntegerOp::kAdd: {
        const IntTensor& a = val[static_cast<size_t>(node.inputs[0])];
        const IntTensor& b = val[static_cast<size_t>(node.inputs[1])];
        const IntegerNode& na = view.nodes[static_cast<size_t>(node.inputs[0])];
        const IntegerNode& nb = view.nodes[static_cast<size_t>(node.inputs[1])];
        out.v.resize(a.v.size());
        for (int64_t c = 0; c < a.channels(); ++c) {
          const int fa = na.fl[static_cast<size_t>(c)], fb = nb.fl[static_cast<size_t>(c)];
          const int f = std::max(fa, fb);
          EXPECT_EQ(node.fl[static_cast<size_t>(c)], f);
          for (int64_t k = 0; k < a.plane(); ++k) {
            const size_t idx = static_cast<size_t>(c * a.plane() + k);
            const int64_t s = a.v[idx] * (int64_t{1} << (f - fa)) + b.v[idx] * (int64_t{1} << (f - fb));
            out.v[idx] = clamp64(s, -kI32Max, kI32Max);
          }
        }
        break;
      }
      case IntegerOp::kGlobalSumPool: {
        const IntTensor& in = val[static_cast<size_t>(node.inputs[0])];
        out.v.resize(static_cast<size_t>(in.channels()));
        for (int64_t c = 0; c < in.channels(); ++c) {
          int64_t s = 0;
          for (int64_t k = 0; k < in.plane(); ++k) s += in.v[static_cast<size_t>(c * in.plane() + k)];
          out.v[static_cast<size_t>(c)] = clamp64(s, -kI32Max, kI32Max);
        }
        break;
      }
    }
  }
  return val[static_cast<size_t>(view.output)].v;
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
  const ExactResult r = exact_eval_with_view(*net, x);
  ASSERT_EQ(r.logits.scalar_type(), torch::kDouble);
  ASSERT_EQ(r.logits.sizes(), (std::vector<int64_t>{2, o.num_classes}));
  const IntegerNode& out = r.view.nodes.at(static_cast<size_t>(r.view.output));
  ASSERT_EQ(out.op, IntegerOp::kFullyConnected);
  int64_t overflow = 0, mismatches = 0;
  for (int64_t n = 0; n < 2; ++n) {
    const std::vector<int64_t> codes = run_integer(r.view, x, n, &overflow);
    ASSERT_EQ(static_cast<int64_t>(codes.size()), o.num_classes);
    for (int64_t k = 0; k < o.num_classes; ++k) {
      const double want = std::ldexp(static_cast<double>(codes[static_cast<size_t>(k)]),
                                     -out.fl[static_cast<size_t>(k)]);
      if (r.logits[n][k].item<double>() != want) ++mismatches;
    }
  }
  EXPECT_EQ(overflow, 0);
  EXPECT_EQ(mismatches, 0);
  // The logits must not be trivially zero (a broken chain would still "agree").
  EXPECT_GT(r.logits.abs().sum().item<double>(), 0.0);
  // Structure: ops the family must use.
  std::map<IntegerOp, int> count;
  bool per_channel_differs = false;
  for (const IntegerNode& node : r.view.nodes) {
    ++count[node.op];
    if (node.op == IntegerOp::kConv2d &&
        std::adjacent_find(node.weight_fl.begin(), node.weight_fl.end(),
                           std::not_equal_to<int>()) != node.weight_fl.end()) {
      per_channel_differs = true;
    }
  }
  EXPECT_EQ(count[IntegerOp::kInput], 1);
  EXPECT_EQ(count[IntegerOp::kGlobalSumPool], 1);
  EXPECT_EQ(count[IntegerOp::kFullyConnected], 1);
  const bool residual = c.arch.rfind("resnet", 0) == 0 || c.arch == "mobilenet_v2";
  EXPECT_EQ(count[IntegerOp::kAdd] > 0, residual);
  if (o.quant.per_channel) {
    EXPECT_TRUE(per_channel_differs);
  }
  // Agreement with the float32 simulation is measured, not assumed (decision 3).
  torch::NoGradGuard no_grad;
  const torch::Tensor sim = net->forward(x).to(torch::kDouble);
  std::cout << "[parity] " << c.arch << " " << c.variant << ": nodes " << r.view.nodes.size()
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

TEST(Parity, IntegerViewMatchesConfiguredInput) {
  torch::manual_seed(1);
  ModelOptions o;
  o.arch = "small_cnn";
  o.quant.mode = Mode::kFixed;
  Net net = make_model(o);
  const IntegerView v = integer_view(*net);
  ASSERT_FALSE(v.nodes.empty());
  EXPECT_EQ(v.nodes[0].op, IntegerOp::kInput);
  EXPECT_TRUE(v.nodes[0].raw01);
  EXPECT_EQ(v.nodes[0].shape, (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(v.nodes[static_cast<size_t>(v.output)].shape, (std::vector<int64_t>{10}));
  // Pool compensation 64/49 went into the last conv (not a residual sum): its codes differ from
  // the uncompensated ones.
  o.quant.mode = Mode::kFloat;
  Net fnet = make_model(o);
  EXPECT_THROW(integer_view(*fnet), c10::Error);
}

}  // namespace
}  // namespace f8net::qat
