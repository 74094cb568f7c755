// Random runtime models shaped like every qat family (small CNN, ResNet-20, ResNet-18/50,
// MobileNet-V1/V2) at any input size, for tests and benchmarks without LibTorch. They mirror what
// src/qat/runtime-model.cc emits: each conv reads requantize(in) codes (signed where the qat layer
// is kSigned), blocks add int32 values then ReLU, global sum pool -> requantize -> FC. Weights are
// scaled by 1/sqrt(K) and FLs chosen from a tracked magnitude, so codes are neither all 0 nor all
// saturated; every model passes validate_model (accumulator bound < 2^31).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "f8net/rt/model.h"

namespace f8net::testing {

struct ZooOptions {
  int32_t size = 224;  // input H = W
  double width = 1.0;  // channel multiplier (tests use < 1 to stay fast)
  int32_t classes = 1000;
  uint64_t seed = 1;
};

class ZooBuilder {
 public:
  struct Val {
    int32_t id = 0;
    rt::Shape shape;
    int32_t fl = 0;     // FL of channel 0 (per-channel FLs differ by at most the wfl spread)
    double real = 1.0;  // typical magnitude in real units (value * 2^-fl)
    bool codes = false;
    bool is_signed = false;
  };

  ZooBuilder(const std::string& name, rt::Shape in, bool signed_input, uint64_t seed) : rng_(seed) {
    m_.metadata.name = name;
    m_.metadata.preprocessing.mode = signed_input ? rt::Preprocess::kCodes : rt::Preprocess::kRaw01;
    m_.input = {in, signed_input ? rt::DType::kInt8 : rt::DType::kUint8, signed_input ? 6 : 8};
    input_.id = 0;
    input_.shape = in;
    input_.fl = m_.input.fl;
    input_.real = signed_input ? 0.6 : 0.4;
    input_.codes = true;
    input_.is_signed = signed_input;
  }

  const Val& input() const { return input_; }
  int32_t ch(double c, double width) const {
    return std::max<int32_t>(1, static_cast<int32_t>(std::lround(c * width)));
  }

  // requantize(v) to codes whose typical magnitude is ~40 codes.
  Val requant(const Val& v, bool is_signed) {
    const int32_t hi = is_signed ? 7 : 8;
    const int32_t fl = std::clamp<int32_t>(
        static_cast<int32_t>(std::lround(std::log2(40.0 / std::max(v.real, 1e-9)))), 0, hi);
    Val out = v;
    out.id = rt::add_requantize(&m_, v.id, fl, is_signed);
    out.fl = fl;
    out.codes = true;
    out.is_signed = is_signed;
    out.real = std::min(v.real, (is_signed ? 127.0 : 255.0) * std::ldexp(1.0, -fl));
    return out;
  }

  // conv reading requantize(in) (or `in` itself when it is already codes).
  Val conv(const Val& in, int32_t out_c, int32_t k, int32_t stride, bool depthwise = false,
           bool signed_input = false, int32_t dilation = 1) {
    const Val x = in.codes ? in : requant(in, signed_input);
    rt::Conv2dParams p;
    p.out_channels = depthwise ? x.shape.c : out_c;
    p.kernel_h = p.kernel_w = k;
    p.stride_h = p.stride_w = stride;
    p.pad_h = p.pad_w = dilation * (k - 1) / 2;
    p.dilation_h = p.dilation_w = dilation;
    p.groups = depthwise ? x.shape.c : 1;
    const int32_t cin = depthwise ? 1 : x.shape.c;
    const int64_t kk = int64_t{cin} * k * k;
    const int32_t oh = (x.shape.h + 2 * p.pad_h - dilation * (k - 1) - 1) / stride + 1;
    const int32_t ow = (x.shape.w + 2 * p.pad_w - dilation * (k - 1) - 1) / stride + 1;
    return weighted(x, p.out_channels, kk, rt::Shape{p.out_channels, oh, ow}, &p, depthwise);
  }

  Val fc(const Val& in, int32_t out_c) {
    const Val x = in.codes ? in : requant(in, false);
    return weighted(x, out_c, x.shape.elements(), rt::Shape{out_c, 1, 1}, nullptr, false);
  }

  Val relu(const Val& v) {
    Val out = v;
    out.id = rt::add_relu(&m_, v.id);
    out.real = v.real * 0.6;
    return out;
  }
  Val max_pool(const Val& v, int32_t k, int32_t s, int32_t p) {
    Val out = v;
    out.id = rt::add_max_pool(&m_, v.id, k, s, p);
    out.shape = {v.shape.c, (v.shape.h + 2 * p - k) / s + 1, (v.shape.w + 2 * p - k) / s + 1};
    out.real = v.real * 1.5;
    return out;
  }
  Val add(const Val& a, const Val& b) {
    Val out = a;
    out.id = rt::add_add(&m_, a.id, b.id);
    out.fl = std::max(a.fl, b.fl);
    out.real = std::sqrt(a.real * a.real + b.real * b.real);
    return out;
  }
  Val global_sum_pool(const Val& v) {
    const int64_t hw = int64_t{v.shape.h} * v.shape.w;
    const int32_t shift = static_cast<int32_t>(std::lround(std::log2(static_cast<double>(hw))));
    Val out = v;
    out.id = rt::add_global_sum_pool(&m_, v.id, shift);
    out.shape = {v.shape.c, 1, 1};
    out.fl = v.fl + shift;
    out.real = v.real * 0.5 * static_cast<double>(hw) * std::ldexp(1.0, -shift);
    return out;
  }

  rt::ModelDef finish(int32_t classes) {
    m_.metadata.class_names.clear();
    for (int32_t i = 0; i < classes && classes <= 16; ++i)
      m_.metadata.class_names.push_back("class" + std::to_string(i));
    m_.metadata.provenance = {{"config", "tests/support/model-zoo.h"}, {"git", "zoo"}};
    return m_;
  }

 private:
  Val weighted(const Val& x, int32_t out_c, int64_t k_count, rt::Shape out_shape,
               const rt::Conv2dParams* p, bool depthwise) {
    // Weight FL 5..7 (per channel for depthwise, as the qat per-channel option emits); codes
    // uniform in +-limit with limit ~ 2.5 * 2^wfl / sqrt(K), so the real output scale stays near
    // the input's (as trained weights do) and sum|w|*255 stays far below 2^31.
    std::uniform_int_distribution<int> fd(5, 7);
    std::vector<int32_t> wfl(depthwise ? static_cast<size_t>(out_c) : 1);
    for (int32_t& f : wfl) f = static_cast<int32_t>(fd(rng_));
    const int limit =
        std::clamp<int>(static_cast<int>(std::lround(2.5 * std::ldexp(1.0, wfl[0]) /
                                                     std::sqrt(static_cast<double>(k_count)))),
                        1, 127);
    std::uniform_int_distribution<int> wd(-limit, limit);
    std::vector<int8_t> w(static_cast<size_t>(out_c * k_count));
    for (int8_t& v : w) v = static_cast<int8_t>(wd(rng_));
    const double rms_w = limit / std::sqrt(3.0);
    const double rms_x = x.real * std::ldexp(1.0, x.fl);  // codes
    const double acc_std = std::sqrt(static_cast<double>(k_count)) * rms_w * rms_x;
    std::normal_distribution<double> bd(0.0, acc_std * 0.3);
    std::vector<int32_t> b(static_cast<size_t>(out_c));
    for (int32_t& v : b) v = static_cast<int32_t>(std::clamp(bd(rng_), -1e8, 1e8));
    Val out;
    out.fl = x.fl + wfl[0];
    out.id = p != nullptr
                 ? rt::add_conv2d(&m_, x.id, *p, std::move(w), std::move(b), wfl)
                 : rt::add_fully_connected(&m_, x.id, out_c, std::move(w), std::move(b), wfl);
    out.shape = out_shape;
    out.real = acc_std * std::ldexp(1.0, -out.fl);
    return out;
  }

  rt::ModelDef m_;
  std::mt19937_64 rng_;
  Val input_;
};

// The Fashion-MNIST main model's shape: 5 convs (stem + 4 blocks), global sum pool, FC.
inline rt::ModelDef zoo_small_cnn(const ZooOptions& o) {
  ZooBuilder b("zoo-small-cnn", rt::Shape{1, o.size, o.size}, false, o.seed);
  const int32_t c1 = b.ch(16 * 1.25, o.width), c2 = b.ch(32 * 1.25, o.width),
                c3 = b.ch(64 * 1.25, o.width);
  ZooBuilder::Val t = b.relu(b.conv(b.input(), c1, 3, 1));
  t = b.conv(t, c2, 3, 2);
  t = b.conv(t, c2, 3, 1);
  t = b.conv(t, c3, 3, 2);
  t = b.relu(b.conv(t, c3, 3, 1));
  return (b.fc(b.global_sum_pool(t), o.classes), b.finish(o.classes));
}

inline ZooBuilder::Val zoo_basic_block(ZooBuilder& b, const ZooBuilder::Val& in, int32_t out,
                                       int32_t stride) {
  ZooBuilder::Val t = b.conv(b.conv(in, out, 3, stride), out, 3, 1);
  const ZooBuilder::Val skip = stride != 1 || in.shape.c != out ? b.conv(in, out, 1, stride) : in;
  return b.relu(b.add(t, skip));
}

inline ZooBuilder::Val zoo_bottleneck(ZooBuilder& b, const ZooBuilder::Val& in, int32_t mid,
                                      int32_t stride) {
  ZooBuilder::Val t = b.conv(b.conv(b.conv(in, mid, 1, 1), mid, 3, stride), mid * 4, 1, 1);
  const ZooBuilder::Val skip =
      stride != 1 || in.shape.c != mid * 4 ? b.conv(in, mid * 4, 1, stride) : in;
  return b.relu(b.add(t, skip));
}

// ResNet-20 (CIFAR style: 3x3 stem, 3 stages of 3 basic blocks, 16/32/64 channels).
inline rt::ModelDef zoo_resnet20(const ZooOptions& o) {
  ZooBuilder b("zoo-resnet20", rt::Shape{3, o.size, o.size}, false, o.seed);
  ZooBuilder::Val t = b.relu(b.conv(b.input(), b.ch(16, o.width), 3, 1));
  for (int stage = 0; stage < 3; ++stage) {
    for (int i = 0; i < 3; ++i) {
      t = zoo_basic_block(b, t, b.ch(16 << stage, o.width), i == 0 && stage > 0 ? 2 : 1);
    }
  }
  return (b.fc(b.global_sum_pool(t), o.classes), b.finish(o.classes));
}

// ResNet-18 (bottleneck = false) or ResNet-50: 7x7 s2 stem, 3x3 s2 max pool, 4 stages.
inline rt::ModelDef zoo_imagenet_resnet(const ZooOptions& o, bool bottleneck) {
  ZooBuilder b(bottleneck ? "zoo-resnet50" : "zoo-resnet18", rt::Shape{3, o.size, o.size}, false,
               o.seed);
  ZooBuilder::Val t = b.max_pool(b.relu(b.conv(b.input(), b.ch(64, o.width), 7, 2)), 3, 2, 1);
  const int layers[4] = {bottleneck ? 3 : 2, bottleneck ? 4 : 2, bottleneck ? 6 : 2,
                         2 + bottleneck};
  for (int stage = 0; stage < 4; ++stage) {
    for (int i = 0; i < layers[stage]; ++i) {
      const int32_t stride = i == 0 && stage > 0 ? 2 : 1;
      const int32_t width = b.ch(64 << stage, o.width);
      t = bottleneck ? zoo_bottleneck(b, t, width, stride) : zoo_basic_block(b, t, width, stride);
    }
  }
  return (b.fc(b.global_sum_pool(t), o.classes), b.finish(o.classes));
}
inline rt::ModelDef zoo_resnet18(const ZooOptions& o) { return zoo_imagenet_resnet(o, false); }
inline rt::ModelDef zoo_resnet50(const ZooOptions& o) { return zoo_imagenet_resnet(o, true); }

// MobileNet-V1: 3x3 s2 stem, 13 depthwise-separable blocks.
inline rt::ModelDef zoo_mobilenet_v1(const ZooOptions& o) {
  ZooBuilder b("zoo-mobilenet-v1", rt::Shape{3, o.size, o.size}, false, o.seed);
  ZooBuilder::Val t = b.relu(b.conv(b.input(), b.ch(32, o.width), 3, 2));
  const int settings[5][3] = {{64, 1, 1}, {128, 2, 2}, {256, 2, 2}, {512, 6, 2}, {1024, 2, 2}};
  for (const auto& st : settings) {
    for (int i = 0; i < st[1]; ++i) {
      t = b.conv(t, 0, 3, i == 0 ? st[2] : 1, true);
      t = b.relu(b.conv(t, b.ch(st[0], o.width), 1, 1));
    }
  }
  return (b.fc(b.global_sum_pool(t), o.classes), b.finish(o.classes));
}

// MobileNet-V2: inverted residuals; block inputs are requantized to SIGNED codes.
inline rt::ModelDef zoo_mobilenet_v2(const ZooOptions& o) {
  ZooBuilder b("zoo-mobilenet-v2", rt::Shape{3, o.size, o.size}, false, o.seed);
  ZooBuilder::Val t = b.relu(b.conv(b.input(), b.ch(32, o.width), 3, 2));
  const int settings[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                              {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  for (const auto& st : settings) {
    for (int i = 0; i < st[2]; ++i) {
      const int32_t stride = i == 0 ? st[3] : 1;
      const int32_t out = b.ch(st[1], o.width);
      ZooBuilder::Val h = t;
      if (st[0] != 1) h = b.conv(h, t.shape.c * st[0], 1, 1, false, true);
      h = b.conv(h, 0, 3, stride, true);
      h = b.conv(h, out, 1, 1);
      t = stride == 1 && t.shape.c == out ? b.add(h, t) : h;
    }
  }
  t = b.relu(b.conv(t, b.ch(1280, o.width), 1, 1, false, true));
  return (b.fc(b.global_sum_pool(t), o.classes), b.finish(o.classes));
}

// name: small-cnn, resnet20, resnet18, resnet50, mobilenet-v1, mobilenet-v2.
inline std::vector<std::string> zoo_names() {
  return {"small-cnn", "resnet20", "resnet18", "resnet50", "mobilenet-v1", "mobilenet-v2"};
}
inline bool zoo_model(const std::string& name, const ZooOptions& o, rt::ModelDef* out) {
  if (name == "small-cnn")
    *out = zoo_small_cnn(o);
  else if (name == "resnet20")
    *out = zoo_resnet20(o);
  else if (name == "resnet18")
    *out = zoo_resnet18(o);
  else if (name == "resnet50")
    *out = zoo_resnet50(o);
  else if (name == "mobilenet-v1")
    *out = zoo_mobilenet_v1(o);
  else if (name == "mobilenet-v2")
    *out = zoo_mobilenet_v2(o);
  else
    return false;
  return true;
}

}  // namespace f8net::testing
