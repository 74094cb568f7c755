// A whole-model oracle: evaluates a ModelDef value by value with the int64 ops of naive-ops.h
// (no arena, no kernels, no threads), tracking per-channel FLs itself. Used to check the
// interpreter end to end on random models.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "f8net/rt/model.h"
#include "support/naive-ops.h"

namespace f8net::testing {

struct NaiveValue {
  rt::Shape shape;
  std::vector<int64_t> data;
  std::vector<int> fl;  // per channel
};

// `input` holds input.shape.elements() codes. Returns the last value.
inline NaiveValue naive_run(const rt::ModelDef& m, const std::vector<int64_t>& input) {
  std::vector<NaiveValue> v;
  v.push_back(
      {m.input.shape, input, std::vector<int>(static_cast<size_t>(m.input.shape.c), m.input.fl)});
  for (const rt::OpDef& op : m.ops) {
    const NaiveValue& a = v[static_cast<size_t>(op.inputs[0])];
    NaiveValue out;
    auto wfl = [&](int o) {
      return op.weight_fl.size() == 1 ? op.weight_fl[0] : op.weight_fl[static_cast<size_t>(o)];
    };
    switch (op.type) {
      case rt::OpType::kConv2d: {
        NaiveConv p{a.shape.c,     a.shape.h,     a.shape.w,   op.out_channels, op.kernel_h,
                    op.kernel_w,   op.stride_h,   op.stride_w, op.pad_h,        op.pad_w,
                    op.dilation_h, op.dilation_w, op.groups};
        int oh = 0, ow = 0;
        out.data =
            naive_conv2d(a.data, p, std::vector<int64_t>(op.weights.begin(), op.weights.end()),
                         std::vector<int64_t>(op.bias.begin(), op.bias.end()), &oh, &ow);
        out.shape = {op.out_channels, oh, ow};
        for (int o = 0; o < op.out_channels; ++o) out.fl.push_back(a.fl[0] + wfl(o));
        break;
      }
      case rt::OpType::kFullyConnected:
        out.data = naive_fc(a.data, op.out_channels,
                            std::vector<int64_t>(op.weights.begin(), op.weights.end()),
                            std::vector<int64_t>(op.bias.begin(), op.bias.end()));
        out.shape = {op.out_channels, 1, 1};
        for (int o = 0; o < op.out_channels; ++o) out.fl.push_back(a.fl[0] + wfl(o));
        break;
      case rt::OpType::kRequantize: {
        out = a;
        const int64_t plane = int64_t{a.shape.h} * a.shape.w;
        for (size_t i = 0; i < out.data.size(); ++i)
          out.data[i] =
              naive_requantize(a.data[i], a.fl[i / plane], op.out_fl, op.out_signed, op.code_bits);
        std::fill(out.fl.begin(), out.fl.end(), op.out_fl);
        break;
      }
      case rt::OpType::kRelu:
        out = a;
        for (int64_t& x : out.data) x = std::max<int64_t>(x, 0);
        break;
      case rt::OpType::kMaxPool: {
        int oh = 0, ow = 0;
        out.data = naive_maxpool(a.data, a.shape.c, a.shape.h, a.shape.w, op.kernel_h, op.stride_h,
                                 op.pad_h, &oh, &ow);
        out.shape = {a.shape.c, oh, ow};
        out.fl = a.fl;
        break;
      }
      case rt::OpType::kAdd: {
        const NaiveValue& b = v[static_cast<size_t>(op.inputs[1])];
        out = a;
        const int64_t plane = int64_t{a.shape.h} * a.shape.w;
        for (size_t i = 0; i < out.data.size(); ++i) {
          const size_t c = static_cast<size_t>(static_cast<int64_t>(i) / plane);
          const int f = std::max(a.fl[c], b.fl[c]);
          out.data[i] = naive_sat32(a.data[i] * (int64_t{1} << (f - a.fl[c])) +
                                    b.data[i] * (int64_t{1} << (f - b.fl[c])));
          out.fl[c] = f;
        }
        break;
      }
      case rt::OpType::kGlobalSumPool: {
        const int64_t plane = int64_t{a.shape.h} * a.shape.w;
        out.shape = {a.shape.c, 1, 1};
        for (int c = 0; c < a.shape.c; ++c) {
          int64_t s = 0;
          for (int64_t i = 0; i < plane; ++i) s += a.data[static_cast<size_t>(c * plane + i)];
          out.data.push_back(naive_sat32(s));
          out.fl.push_back(a.fl[static_cast<size_t>(c)] + op.shift);
        }
        break;
      }
    }
    v.push_back(std::move(out));
  }
  return v.back();
}

}  // namespace f8net::testing
