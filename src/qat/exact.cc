// ExactContext: float64 versions of the integer runtime's ops, each recorded as one rt::OpDef
// (through the runtime's own rt::add_* builders) plus the ExactValue it is expected to produce.
// Values are dyadic rationals whose codes fit int32, so every sum below is exact in float64;
// saturations mirror the runtime's (Add, GlobalSumPool).
#include "f8net/qat/exact.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "f8net/qat/quantize.h"

namespace f8net::qat {
namespace {

constexpr double kInt32Max = 2147483647.0;

std::vector<int64_t> chw(const torch::Tensor& v) {
  return std::vector<int64_t>(v.sizes().begin() + 1, v.sizes().end());
}

// Per-channel scale 2^-fl[c] as a tensor broadcastable over N x C x ... .
torch::Tensor channel_pow2(const std::vector<int32_t>& fl, int64_t dims, int sign) {
  torch::Tensor t = torch::empty({static_cast<int64_t>(fl.size())}, torch::kDouble);
  double* p = t.data_ptr<double>();
  for (size_t c = 0; c < fl.size(); ++c) p[c] = std::ldexp(1.0, sign * fl[c]);
  std::vector<int64_t> shape(static_cast<size_t>(dims), 1);
  shape[1] = static_cast<int64_t>(fl.size());
  return t.view(shape);
}

torch::Tensor saturate_int32(const torch::Tensor& v, const std::vector<int32_t>& fl) {
  const torch::Tensor lim = channel_pow2(fl, v.dim(), -1) * kInt32Max;
  return torch::max(torch::min(v, lim), -lim);
}

// Weight codes * 2^-wfl[o] and bias codes * 2^-(input_fl + wfl[o]) as float64 tensors.
std::pair<torch::Tensor, torch::Tensor> real_weights(const LayerCodes& c) {
  torch::Tensor w = torch::empty(c.weight_shape, torch::kDouble);
  torch::Tensor b = torch::empty({static_cast<int64_t>(c.bias.size())}, torch::kDouble);
  double* pw = w.data_ptr<double>();
  double* pb = b.data_ptr<double>();
  const size_t out = c.bias.size();
  const size_t inner = out ? c.weight.size() / out : 0;
  for (size_t o = 0; o < out; ++o) {
    for (size_t i = 0; i < inner; ++i) {
      pw[o * inner + i] = std::ldexp(static_cast<double>(c.weight[o * inner + i]), -c.weight_fl[o]);
    }
    pb[o] = std::ldexp(static_cast<double>(c.bias[o]), -(c.input_fl + c.weight_fl[o]));
  }
  return {w, b};
}

// A dimension as the runtime's int32 (shapes beyond it are refused by validation anyway).
int32_t dim32(int64_t v) { return static_cast<int32_t>(std::min<int64_t>(v, 2147483647)); }

// The int32 result of a conv/FC: one FL per output channel, input FL + weight FL.
ExactValue accumulator(const std::string& name, const torch::Tensor& v, const LayerCodes& c) {
  ExactValue out;
  out.name = name;
  out.shape = chw(v);
  for (int32_t f : c.weight_fl) out.fl.push_back(c.input_fl + f);
  return out;
}

}  // namespace

int pool_shift(int64_t height, int64_t width) {
  TORCH_CHECK(height > 0 && width > 0, "pool_shift: empty input");
  return static_cast<int>(std::nearbyint(std::log2(static_cast<double>(height * width))));
}

const ExactValue& ExactContext::source(const ExactTensor& in) const {
  TORCH_CHECK(in.node >= 0 && in.node < static_cast<int>(graph.values.size()),
              "exact evaluation: a tensor from another evaluation");
  return node(in.node);
}

ExactTensor ExactContext::record(int32_t id, const torch::Tensor& v, ExactValue value) {
  TORCH_CHECK(id == static_cast<int32_t>(graph.values.size()),
              "exact evaluation: values out of order at '", value.name, "'");
  graph.values.push_back(std::move(value));
  return {v, id};
}

ExactTensor ExactContext::input(const torch::Tensor& v, int fl, bool is_signed, bool raw01) {
  TORCH_CHECK(graph.values.empty(), "exact evaluation: the graph has one input, recorded first");
  const std::vector<int64_t> shape = chw(v);
  TORCH_CHECK(shape.size() == 3, "exact evaluation: the input must be N x C x H x W");
  graph.raw01 = raw01;
  graph.model.input.shape = {dim32(shape[0]), dim32(shape[1]), dim32(shape[2])};
  graph.model.input.dtype = is_signed ? rt::DType::kInt8 : rt::DType::kUint8;
  graph.model.input.fl = fl;
  ExactValue in;
  in.name = "input";
  in.shape = shape;
  in.codes = true;
  in.is_signed = is_signed;
  in.fl = {fl};
  return record(0, v, std::move(in));
}

ExactTensor ExactContext::input_raw01(const torch::Tensor& x) {
  return input(quantize_raw01(x.detach().to(torch::kDouble)), 8, false, true);
}

ExactTensor ExactContext::input_codes(const torch::Tensor& x, int fl, bool is_signed) {
  const torch::Tensor xd = x.detach().to(torch::kDouble).contiguous();
  torch::Tensor v = torch::empty_like(xd);
  quantize_kernel(xd, {fl}, is_signed, 1, false, v, torch::Tensor());
  return input(v, fl, is_signed, false);
}

ExactTensor ExactContext::requantize(const ExactTensor& in, int fl, bool is_signed,
                                     const std::string& name, int word_bits) {
  TORCH_CHECK(!source(in).codes, name, ": requantize takes an int32 tensor");
  const torch::Tensor xd = in.value.contiguous();
  torch::Tensor v = torch::empty_like(xd);
  quantize_kernel(xd, {fl}, is_signed, 1, false, v, torch::Tensor(), word_bits);
  ExactValue out;
  out.name = name;
  out.shape = chw(v);
  out.codes = true;
  out.is_signed = is_signed;
  out.word_bits = word_bits;
  out.fl = {fl};
  return record(rt::add_requantize(&graph.model, in.node, fl, is_signed, word_bits), v,
                std::move(out));
}

// Appends a Conv2d (conv != null) or FullyConnected op carrying `codes`; returns its value id.
int32_t ExactContext::conv_like(const ExactTensor& in, const LayerCodes& codes,
                                const std::string& name, const rt::Conv2dParams* conv) {
  std::vector<int32_t> wfl;
  wfl.reserve(codes.weight_fl.size());
  for (int32_t f : codes.weight_fl) {
    if ((f < 0 || f > 7) && graph.problem.empty()) {
      graph.problem = "layer '" + name + "' has weight FL " + std::to_string(f);
    }
    wfl.push_back(std::clamp(f, 0, 7));
  }
  const int32_t out_channels = dim32(codes.weight_shape.at(0));
  const int32_t id =
      conv ? rt::add_conv2d(&graph.model, in.node, *conv, codes.weight, codes.bias, std::move(wfl))
           : rt::add_fully_connected(&graph.model, in.node, out_channels, codes.weight, codes.bias,
                                     std::move(wfl));
  graph.model.ops.back().code_bits = codes.weight_bits;
  return id;
}

ExactTensor ExactContext::conv2d(const ExactTensor& in, const LayerCodes& codes, int stride,
                                 int padding, int dilation, int groups, const std::string& name) {
  TORCH_CHECK(source(in).codes, name, ": conv takes 8-bit codes");
  TORCH_CHECK(groups == 1 || groups == in.value.size(1), name, ": groups must be 1 or C_in");
  TORCH_CHECK(codes.weight_shape.size() == 4, name, ": conv needs a 4-D weight");
  auto [w, b] = real_weights(codes);
  const torch::Tensor v = torch::conv2d(in.value, w, b, stride, padding, dilation, groups);
  rt::Conv2dParams p;
  p.out_channels = dim32(codes.weight_shape[0]);
  p.kernel_h = dim32(codes.weight_shape[2]);
  p.kernel_w = dim32(codes.weight_shape[3]);
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = padding;
  p.dilation_h = p.dilation_w = dilation;
  p.groups = groups;
  return record(conv_like(in, codes, name, &p), v, accumulator(name, v, codes));
}

ExactTensor ExactContext::fully_connected(const ExactTensor& in, const LayerCodes& codes,
                                          const std::string& name) {
  TORCH_CHECK(source(in).codes, name, ": fully connected takes 8-bit codes");
  TORCH_CHECK(codes.weight_shape.size() == 2, name, ": FC needs a 2-D weight");
  auto [w, b] = real_weights(codes);
  const torch::Tensor v = torch::linear(in.value.flatten(1), w, b);
  return record(conv_like(in, codes, name, nullptr), v, accumulator(name, v, codes));
}

ExactTensor ExactContext::relu(const ExactTensor& in, const std::string& name) {
  ExactValue out = source(in);
  TORCH_CHECK(!out.codes, name, ": relu takes an int32 tensor");
  out.name = name;
  return record(rt::add_relu(&graph.model, in.node), torch::relu(in.value), std::move(out));
}

ExactTensor ExactContext::max_pool(const ExactTensor& in, int kernel, int stride, int padding,
                                   const std::string& name) {
  ExactValue out = source(in);
  TORCH_CHECK(!out.codes, name, ": max pool takes an int32 tensor");
  const torch::Tensor v = torch::max_pool2d(in.value, kernel, stride, padding);
  out.name = name;
  out.shape = chw(v);
  return record(rt::add_max_pool(&graph.model, in.node, kernel, stride, padding), v,
                std::move(out));
}

ExactTensor ExactContext::add(const ExactTensor& a, const ExactTensor& b, const std::string& name) {
  const ExactValue& va = source(a);
  const ExactValue& vb = source(b);
  TORCH_CHECK(!va.codes && !vb.codes && va.shape == vb.shape, name,
              ": add takes two int32 tensors of one shape");
  ExactValue out;
  out.name = name;
  out.shape = va.shape;
  out.fl.resize(va.fl.size());
  for (size_t c = 0; c < out.fl.size(); ++c) out.fl[c] = std::max(va.fl[c], vb.fl[c]);
  const torch::Tensor v = saturate_int32(a.value + b.value, out.fl);
  return record(rt::add_add(&graph.model, a.node, b.node), v, std::move(out));
}

ExactTensor ExactContext::global_sum_pool(const ExactTensor& in, int shift,
                                          const std::string& name) {
  const ExactValue& src = source(in);
  TORCH_CHECK(!src.codes && in.value.dim() == 4, name, ": global pool takes int32 N x C x H x W");
  const torch::Tensor sum = saturate_int32(in.value.sum({2, 3}), src.fl);
  ExactValue out;
  out.name = name;
  out.shape = {src.shape.at(0)};
  out.fl = src.fl;
  for (int32_t& f : out.fl) f += shift;
  return record(rt::add_global_sum_pool(&graph.model, in.node, shift),
                sum * std::ldexp(1.0, -shift), std::move(out));
}

}  // namespace f8net::qat
