// ExactContext (float64 versions of the integer runtime's ops, recording IntegerView nodes) and
// exact_eval / integer_view. Values are dyadic rationals whose codes fit int32, so every sum below
// is exact in float64; saturations mirror the runtime's (Add, GlobalSumPool).
#include "f8net/qat/export.h"

#include <cmath>
#include <limits>

#include "f8net/qat/quantize.h"

namespace f8net::qat {
namespace {

constexpr double kInt32Max = 2147483647.0;

std::vector<int64_t> chw(const torch::Tensor& v) {
  return std::vector<int64_t>(v.sizes().begin() + 1, v.sizes().end());
}

// Per-channel scale 2^-fl[c] as a tensor broadcastable over N x C x ... .
torch::Tensor channel_pow2(const std::vector<int>& fl, int64_t dims, int sign) {
  torch::Tensor t = torch::empty({static_cast<int64_t>(fl.size())}, torch::kDouble);
  double* p = t.data_ptr<double>();
  for (size_t c = 0; c < fl.size(); ++c) p[c] = std::ldexp(1.0, sign * fl[c]);
  std::vector<int64_t> shape(static_cast<size_t>(dims), 1);
  shape[1] = static_cast<int64_t>(fl.size());
  return t.view(shape);
}

torch::Tensor saturate_int32(const torch::Tensor& v, const std::vector<int>& fl) {
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

IntegerNode layer_node(IntegerOp op, const LayerCodes& c, int input, const std::string& name) {
  IntegerNode n;
  n.op = op;
  n.name = name;
  n.inputs = {input};
  n.weight = c.weight;
  n.weight_shape = c.weight_shape;
  n.bias = c.bias;
  n.weight_fl = c.weight_fl;
  n.weight_bits = c.weight_bits;
  n.input_fl = c.input_fl;
  n.input_signed = c.input_signed;
  n.fl.resize(c.weight_fl.size());
  for (size_t o = 0; o < c.weight_fl.size(); ++o) n.fl[o] = c.input_fl + c.weight_fl[o];
  return n;
}

}  // namespace

const char* integer_op_name(IntegerOp op) {
  switch (op) {
    case IntegerOp::kInput: return "Input";
    case IntegerOp::kRequantize: return "Requantize";
    case IntegerOp::kConv2d: return "Conv2d";
    case IntegerOp::kFullyConnected: return "FullyConnected";
    case IntegerOp::kRelu: return "Relu";
    case IntegerOp::kMaxPool: return "MaxPool";
    case IntegerOp::kAdd: return "Add";
    case IntegerOp::kGlobalSumPool: return "GlobalSumPool";
  }
  return "?";
}

int pool_shift(int64_t height, int64_t width) {
  TORCH_CHECK(height > 0 && width > 0, "pool_shift: empty input");
  return static_cast<int>(std::nearbyint(std::log2(static_cast<double>(height * width))));
}

int ExactContext::push(IntegerNode node) {
  for (int i : node.inputs) {
    TORCH_CHECK(i >= 0 && i < static_cast<int>(view.nodes.size()), "bad integer-view input");
  }
  view.nodes.push_back(std::move(node));
  return static_cast<int>(view.nodes.size()) - 1;
}

ExactTensor ExactContext::input_raw01(const torch::Tensor& x) {
  const torch::Tensor v = quantize_raw01(x.detach().to(torch::kDouble));
  IntegerNode n;
  n.op = IntegerOp::kInput;
  n.name = "input";
  n.shape = chw(v);
  n.codes = true;
  n.is_signed = false;
  n.raw01 = true;
  n.fl = {8};
  return {v, push(std::move(n))};
}

ExactTensor ExactContext::input_codes(const torch::Tensor& x, int fl, bool is_signed) {
  const torch::Tensor xd = x.detach().to(torch::kDouble).contiguous();
  torch::Tensor v = torch::empty_like(xd);
  quantize_kernel(xd, {fl}, is_signed, 1, false, v, torch::Tensor());
  IntegerNode n;
  n.op = IntegerOp::kInput;
  n.name = "input";
  n.shape = chw(v);
  n.codes = true;
  n.is_signed = is_signed;
  n.fl = {fl};
  return {v, push(std::move(n))};
}

ExactTensor ExactContext::requantize(const ExactTensor& in, int fl, bool is_signed,
                                     const std::string& name, int word_bits) {
  TORCH_CHECK(!node(in.node).codes, name, ": requantize takes an int32 tensor");
  const torch::Tensor xd = in.value.contiguous();
  torch::Tensor v = torch::empty_like(xd);
  quantize_kernel(xd, {fl}, is_signed, 1, false, v, torch::Tensor(), word_bits);
  IntegerNode n;
  n.op = IntegerOp::kRequantize;
  n.name = name;
  n.inputs = {in.node};
  n.shape = chw(v);
  n.codes = true;
  n.is_signed = is_signed;
  n.fl = {fl};
  n.word_bits = word_bits;
  return {v, push(std::move(n))};
}

ExactTensor ExactContext::conv2d(const ExactTensor& in, const LayerCodes& codes, int stride,
                                 int padding, int dilation, int groups, const std::string& name) {
  TORCH_CHECK(node(in.node).codes, name, ": conv takes 8-bit codes");
  TORCH_CHECK(groups == 1 || groups == in.value.size(1), name, ": groups must be 1 or C_in");
  auto [w, b] = real_weights(codes);
  const torch::Tensor v = torch::conv2d(in.value, w, b, stride, padding, dilation, groups);
  IntegerNode n = layer_node(IntegerOp::kConv2d, codes, in.node, name);
  n.shape = chw(v);
  n.stride = stride;
  n.padding = padding;
  n.dilation = dilation;
  n.groups = groups;
  return {v, push(std::move(n))};
}

ExactTensor ExactContext::fully_connected(const ExactTensor& in, const LayerCodes& codes,
                                          const std::string& name) {
  TORCH_CHECK(node(in.node).codes, name, ": fully connected takes 8-bit codes");
  auto [w, b] = real_weights(codes);
  const torch::Tensor v = torch::linear(in.value.flatten(1), w, b);
  IntegerNode n = layer_node(IntegerOp::kFullyConnected, codes, in.node, name);
  n.shape = chw(v);
  return {v, push(std::move(n))};
}

ExactTensor ExactContext::relu(const ExactTensor& in, const std::string& name) {
  const IntegerNode& src = node(in.node);
  TORCH_CHECK(!src.codes, name, ": relu takes an int32 tensor");
  IntegerNode n;
  n.op = IntegerOp::kRelu;
  n.name = name;
  n.inputs = {in.node};
  n.shape = src.shape;
  n.fl = src.fl;
  return {torch::relu(in.value), push(std::move(n))};
}

ExactTensor ExactContext::max_pool(const ExactTensor& in, int kernel, int stride, int padding,
                                   const std::string& name) {
  const IntegerNode& src = node(in.node);
  TORCH_CHECK(!src.codes, name, ": max pool takes an int32 tensor");
  const torch::Tensor v = torch::max_pool2d(in.value, kernel, stride, padding);
  IntegerNode n;
  n.op = IntegerOp::kMaxPool;
  n.name = name;
  n.inputs = {in.node};
  n.shape = chw(v);
  n.fl = src.fl;
  n.kernel = kernel;
  n.stride = stride;
  n.padding = padding;
  return {v, push(std::move(n))};
}

ExactTensor ExactContext::add(const ExactTensor& a, const ExactTensor& b, const std::string& name) {
  const IntegerNode& na = node(a.node);
  const IntegerNode& nb = node(b.node);
  TORCH_CHECK(!na.codes && !nb.codes && na.shape == nb.shape, name,
              ": add takes two int32 tensors of one shape");
  IntegerNode n;
  n.op = IntegerOp::kAdd;
  n.name = name;
  n.inputs = {a.node, b.node};
  n.shape = na.shape;
  n.fl.resize(na.fl.size());
  for (size_t c = 0; c < n.fl.size(); ++c) n.fl[c] = std::max(na.fl[c], nb.fl[c]);
  const torch::Tensor v = saturate_int32(a.value + b.value, n.fl);
  return {v, push(std::move(n))};
}

ExactTensor ExactContext::global_sum_pool(const ExactTensor& in, int shift,
                                          const std::string& name) {
  const IntegerNode& src = node(in.node);
  TORCH_CHECK(!src.codes && in.value.dim() == 4, name, ": global pool takes int32 N x C x H x W");
  const torch::Tensor sum = saturate_int32(in.value.sum({2, 3}), src.fl);
  IntegerNode n;
  n.op = IntegerOp::kGlobalSumPool;
  n.name = name;
  n.inputs = {in.node};
  n.shape = {src.shape.at(0)};
  n.shift = shift;
  n.fl = src.fl;
  for (int& f : n.fl) f += shift;
  return {sum * std::ldexp(1.0, -shift), push(std::move(n))};
}

ExactResult exact_eval_with_view(NetImpl& net, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  ExactContext ctx;
  ExactResult r;
  r.logits = net.exact_forward(ctx, x);
  r.fc_input = ctx.fc_input;
  r.view = std::move(ctx.view);
  return r;
}

torch::Tensor exact_eval(NetImpl& net, const torch::Tensor& x) {
  return exact_eval_with_view(net, x).logits;
}

IntegerView integer_view(NetImpl& net) {
  const ModelOptions& o = net.options();
  return exact_eval_with_view(net, torch::zeros({1, o.in_channels, o.input_size, o.input_size}))
      .view;
}

}  // namespace f8net::qat
