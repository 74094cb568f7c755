// A runtime-only ResNet-18-shaped model with random weights (no LibTorch): 7x7/2 stem, ReLU,
// 3x3/2 max pool, four stages of two basic blocks (1x1 shortcut conv where the shape changes),
// global sum pool, FC. Weight ranges keep every accumulator below 2^24; each requantize FL is
// chosen from a running estimate of the value's spread so codes are neither all 0 nor saturated.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "f8net/rt/model.h"

namespace f8net::testing {

struct ShapedBuilder {
  rt::ModelDef m;
  std::mt19937_64 rng;
  std::vector<double> spread;  // per value: a typical |real value|

  explicit ShapedBuilder(uint64_t seed) : rng(seed) {}

  int32_t requant(int32_t v, bool is_signed) {
    // Aim the typical magnitude at ~40 codes.
    const double s = std::max(spread[static_cast<size_t>(v)], 1e-6);
    const int fl =
        std::clamp(static_cast<int>(std::floor(std::log2(40.0 / s))), 0, is_signed ? 7 : 8);
    const int32_t out = rt::add_requantize(&m, v, fl, is_signed);
    spread.push_back(40.0 * std::ldexp(1.0, -fl) * (is_signed ? 1.0 : 0.6));
    return out;
  }
  int32_t conv(int32_t codes, int32_t in_c, int32_t out_c, int32_t k, int32_t stride,
               int wfl_lo = 5, int wfl_hi = 6) {
    rt::Conv2dParams p;
    p.out_channels = out_c;
    p.kernel_h = p.kernel_w = k;
    p.stride_h = p.stride_w = stride;
    p.pad_h = p.pad_w = k / 2;
    const int32_t taps = in_c * k * k;
    // sum|w| * 255 + |b| < 2^21 per channel: room for residual sums aligned by a few bits.
    const int limit = std::clamp(static_cast<int>((1 << 24) / (16 * 255 * taps)), 1, 127);
    std::uniform_int_distribution<int> wd(-limit, limit);
    std::vector<int8_t> w(static_cast<size_t>(out_c * taps));
    for (int8_t& x : w) x = static_cast<int8_t>(wd(rng));
    std::uniform_int_distribution<int> bd(-limit * 64, limit * 64);
    std::vector<int32_t> b(static_cast<size_t>(out_c));
    for (int32_t& x : b) x = bd(rng);
    std::vector<int32_t> wfl(static_cast<size_t>(out_c));
    std::uniform_int_distribution<int> fd(wfl_lo, wfl_hi);
    for (int32_t& f : wfl) f = static_cast<int32_t>(fd(rng));
    const int32_t v = rt::add_conv2d(&m, codes, p, std::move(w), std::move(b), std::move(wfl));
    const double x = spread[static_cast<size_t>(codes)];
    spread.push_back(std::sqrt(static_cast<double>(taps)) * x * (limit / 2.0) *
                     std::ldexp(1.0, -wfl_lo));
    return v;
  }
  int32_t relu(int32_t v) {
    spread.push_back(spread[static_cast<size_t>(v)] * 0.6);
    return rt::add_relu(&m, v);
  }
  int32_t add(int32_t a, int32_t b) {
    spread.push_back(std::hypot(spread[static_cast<size_t>(a)], spread[static_cast<size_t>(b)]));
    return rt::add_add(&m, a, b);
  }
};

inline rt::ModelDef resnet18_shaped(uint64_t seed, int32_t size = 64, int32_t width = 8) {
  ShapedBuilder sb(seed);
  sb.m.metadata.name = "resnet18-shaped";
  sb.m.input = {rt::Shape{3, size, size}, rt::DType::kUint8, 8};
  sb.spread.push_back(0.5);
  int32_t v = sb.relu(sb.conv(0, 3, width, 7, 2, 1, 1));  // FL 9: near the blocks' FLs
  v = rt::add_max_pool(&sb.m, v, 3, 2, 1);
  sb.spread.push_back(sb.spread.back() * 1.5);
  int32_t c = width;
  for (int stage = 0; stage < 4; ++stage) {
    const int32_t out_c = width << stage;
    for (int block = 0; block < 2; ++block) {
      const int32_t stride = stage > 0 && block == 0 ? 2 : 1;
      const int32_t in = sb.requant(v, false);
      const int32_t c0 = sb.conv(in, c, out_c, 3, stride);
      const int32_t c1 = sb.conv(sb.requant(c0, false), out_c, out_c, 3, 1);
      const int32_t skip = stride != 1 || c != out_c ? sb.conv(in, c, out_c, 1, stride) : v;
      v = sb.relu(sb.add(c1, skip));
      c = out_c;
    }
  }
  const int32_t hw = (size / 32) * (size / 32);
  const int shift = static_cast<int>(std::lround(std::log2(static_cast<double>(hw))));
  v = rt::add_global_sum_pool(&sb.m, v, shift);
  sb.spread.push_back(sb.spread.back() * hw / std::ldexp(1.0, shift));
  v = sb.requant(v, false);
  std::uniform_int_distribution<int> wd(-127, 127);
  std::vector<int8_t> w(static_cast<size_t>(10 * c));
  for (int8_t& x : w) x = static_cast<int8_t>(wd(sb.rng));
  rt::add_fully_connected(&sb.m, v, 10, std::move(w), std::vector<int32_t>(10, 0), {7});
  return sb.m;
}

}  // namespace f8net::testing
