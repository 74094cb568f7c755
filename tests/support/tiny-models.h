// Tiny hand-built runtime models for tests: the F8NET.md test vectors TV8 (1x1 conv +
// requantize), TV9 (residual alignment) and TV10 (average pool), and a seeded random small CNN
// that uses every op. Each TV model ends in an identity FC so its output is int32 logits.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "f8net/rt/model.h"

namespace f8net::testing {

// FC with identity weights (codes pass through unchanged, FL kept): a way to read codes out.
inline int32_t add_identity_fc(rt::ModelDef* m, int32_t src, int32_t n) {
  std::vector<int8_t> w(static_cast<size_t>(n * n), 0);
  for (int32_t i = 0; i < n; ++i) w[static_cast<size_t>(i * n + i)] = 1;
  return rt::add_fully_connected(m, src, n, w, std::vector<int32_t>(static_cast<size_t>(n), 0),
                                 {0});
}

// TV8: input codes [52, 129] at FL 6 -> 1x1 conv (wfl 4) -> acc [-3041, 2404] at FL 10
// -> requantize unsigned FL 5 -> [0, 75] -> identity FC -> logits [0, 75] at FL 5.
inline rt::ModelDef tv8_model() {
  rt::ModelDef m;
  m.metadata.name = "tv8";
  m.metadata.preprocessing.mode = rt::Preprocess::kCodes;  // FL 6 input: not an image
  m.input = {rt::Shape{2, 1, 1}, rt::DType::kUint8, 6};
  rt::Conv2dParams p;
  p.out_channels = 2;
  const int32_t acc = rt::add_conv2d(&m, 0, p, {51, -26, 3, 21}, {-2339, -461}, {4});
  const int32_t codes = rt::add_requantize(&m, acc, 5, false);
  add_identity_fc(&m, codes, 2);
  return m;
}

// TV9: body 5000 @ FL 11 + skip -700 @ FL 9 = 2200 @ FL 11 -> ReLU -> unsigned FL 4 -> 17.
// Input code 10 at FL 8; body = 5 * 10 + 4950 (wfl 3), skip = -7 * 10 - 630 (wfl 1).
inline rt::ModelDef tv9_model() {
  rt::ModelDef m;
  m.metadata.name = "tv9";
  m.input = {rt::Shape{1, 1, 1}, rt::DType::kUint8, 8};
  rt::Conv2dParams p;
  p.out_channels = 1;
  const int32_t body = rt::add_conv2d(&m, 0, p, {5}, {4950}, {3});
  const int32_t skip = rt::add_conv2d(&m, 0, p, {-7}, {-630}, {1});
  const int32_t sum = rt::add_add(&m, body, skip);
  const int32_t relu = rt::add_relu(&m, sum);
  const int32_t codes = rt::add_requantize(&m, relu, 4, false);
  add_identity_fc(&m, codes, 1);
  return m;
}

// TV10: 7x7 input codes (48 x 100, one 149) at FL 8, 1x1 conv weight 1 (wfl 2) -> FL 10,
// global sum (shift 6) -> 4949 @ FL 16; with `to_fc`: requantize unsigned FL 4 -> 1 -> FC.
inline rt::ModelDef tv10_model(bool to_fc) {
  rt::ModelDef m;
  m.metadata.name = "tv10";
  m.input = {rt::Shape{1, 7, 7}, rt::DType::kUint8, 8};
  rt::Conv2dParams p;
  p.out_channels = 1;
  const int32_t acc = rt::add_conv2d(&m, 0, p, {1}, {0}, {2});
  const int32_t pooled = rt::add_global_sum_pool(&m, acc, 6);
  if (to_fc) add_identity_fc(&m, rt::add_requantize(&m, pooled, 4, false), 1);
  return m;
}

inline std::vector<int8_t> random_weights(std::mt19937_64& rng, size_t n, int limit) {
  std::uniform_int_distribution<int> d(-limit, limit);
  std::vector<int8_t> w(n);
  for (int8_t& v : w) v = static_cast<int8_t>(d(rng));
  return w;
}
inline std::vector<int32_t> random_bias(std::mt19937_64& rng, size_t n, int32_t limit) {
  std::uniform_int_distribution<int32_t> d(-limit, limit);
  std::vector<int32_t> b(n);
  for (int32_t& v : b) v = d(rng);
  return b;
}

// A small CNN with every op: conv3x3 -> relu -> maxpool -> requant -> depthwise 3x3 (per-channel
// wfl) -> requant -> 1x1 conv -> add (skip from the depthwise output) -> relu -> requant ->
// conv 3x3 stride 2 dilated -> global sum -> requant -> FC. Input [1 or 3, 12, 12].
inline rt::ModelDef random_cnn(uint64_t seed, int32_t in_channels = 1, int32_t classes = 10) {
  std::mt19937_64 rng(seed);
  rt::ModelDef m;
  m.metadata.name = "random-cnn";
  m.metadata.preprocessing.mode = rt::Preprocess::kRaw01;
  m.metadata.preprocessing.replicate_gray = in_channels == 3;
  for (int32_t i = 0; i < classes; ++i)
    m.metadata.class_names.push_back("class" + std::to_string(i));
  m.metadata.provenance = {{"config", "tests/support/tiny-models.h"}, {"git", "test"}};
  m.input = {rt::Shape{in_channels, 12, 12}, rt::DType::kUint8, 8};
  const int32_t c1 = 6;
  rt::Conv2dParams p;
  p.out_channels = c1;
  p.kernel_h = p.kernel_w = 3;
  p.pad_h = p.pad_w = 1;
  int32_t v =
      rt::add_conv2d(&m, 0, p, random_weights(rng, static_cast<size_t>(c1 * in_channels * 9), 127),
                     random_bias(rng, c1, 100000), {5});
  v = rt::add_relu(&m, v);
  v = rt::add_max_pool(&m, v, 3, 2, 1);  // 6x6
  v = rt::add_requantize(&m, v, 3, false);
  rt::Conv2dParams dw = p;
  dw.groups = c1;
  std::vector<int32_t> wfl(c1);
  for (int32_t i = 0; i < c1; ++i) wfl[static_cast<size_t>(i)] = i % 8;
  const int32_t dwv =
      rt::add_conv2d(&m, v, dw, random_weights(rng, static_cast<size_t>(c1 * 9), 127),
                     random_bias(rng, c1, 50000), wfl);
  v = rt::add_requantize(&m, dwv, 4, true);
  rt::Conv2dParams pw;
  pw.out_channels = c1;
  v = rt::add_conv2d(&m, v, pw, random_weights(rng, static_cast<size_t>(c1 * c1), 127),
                     random_bias(rng, c1, 20000), {2});
  v = rt::add_add(&m, v, dwv);
  v = rt::add_relu(&m, v);
  v = rt::add_requantize(&m, v, 5, false);
  rt::Conv2dParams c3;
  c3.out_channels = 8;
  c3.kernel_h = c3.kernel_w = 3;
  c3.stride_h = c3.stride_w = 2;
  c3.pad_h = c3.pad_w = 2;
  c3.dilation_h = c3.dilation_w = 2;
  v = rt::add_conv2d(&m, v, c3, random_weights(rng, static_cast<size_t>(8 * c1 * 9), 127),
                     random_bias(rng, 8, 30000), {6});
  v = rt::add_global_sum_pool(&m, v, 4);
  v = rt::add_requantize(&m, v, 6, false);
  rt::add_fully_connected(&m, v, classes,
                          random_weights(rng, static_cast<size_t>(classes * 8), 127),
                          random_bias(rng, static_cast<size_t>(classes), 10000), {7});
  return m;
}

}  // namespace f8net::testing
