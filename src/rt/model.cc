// The add_* helpers that build a ModelDef by hand, and the names of the pinned enums.
// The helpers only append; validate_model() decides whether the result is a usable model.
#include "f8net/rt/model.h"

namespace f8net::rt {

const char* dtype_name(DType d) {
  switch (d) {
    case DType::kUint8:
      return "uint8";
    case DType::kInt8:
      return "int8";
    case DType::kInt32:
      return "int32";
  }
  return "invalid";
}

const char* op_type_name(OpType t) {
  switch (t) {
    case OpType::kConv2d:
      return "Conv2d";
    case OpType::kFullyConnected:
      return "FullyConnected";
    case OpType::kRequantize:
      return "Requantize";
    case OpType::kRelu:
      return "Relu";
    case OpType::kMaxPool:
      return "MaxPool";
    case OpType::kAdd:
      return "Add";
    case OpType::kGlobalSumPool:
      return "GlobalSumPool";
  }
  return "invalid";
}

namespace {
int32_t append(ModelDef* m, OpDef op) {
  m->ops.push_back(std::move(op));
  return static_cast<int32_t>(m->ops.size());
}
}  // namespace

int32_t add_conv2d(ModelDef* m, int32_t src, const Conv2dParams& p, std::vector<int8_t> weights,
                   std::vector<int32_t> bias, std::vector<int32_t> weight_fl) {
  OpDef op;
  op.type = OpType::kConv2d;
  op.inputs[0] = src;
  op.out_channels = p.out_channels;
  op.kernel_h = p.kernel_h;
  op.kernel_w = p.kernel_w;
  op.stride_h = p.stride_h;
  op.stride_w = p.stride_w;
  op.pad_h = p.pad_h;
  op.pad_w = p.pad_w;
  op.dilation_h = p.dilation_h;
  op.dilation_w = p.dilation_w;
  op.groups = p.groups;
  op.weights = std::move(weights);
  op.bias = std::move(bias);
  op.weight_fl = std::move(weight_fl);
  return append(m, std::move(op));
}

int32_t add_fully_connected(ModelDef* m, int32_t src, int32_t out_channels,
                            std::vector<int8_t> weights, std::vector<int32_t> bias,
                            std::vector<int32_t> weight_fl) {
  OpDef op;
  op.type = OpType::kFullyConnected;
  op.inputs[0] = src;
  op.out_channels = out_channels;
  op.weights = std::move(weights);
  op.bias = std::move(bias);
  op.weight_fl = std::move(weight_fl);
  return append(m, std::move(op));
}

int32_t add_requantize(ModelDef* m, int32_t src, int32_t out_fl, bool out_signed,
                       int32_t out_bits) {
  OpDef op;
  op.type = OpType::kRequantize;
  op.inputs[0] = src;
  op.out_fl = out_fl;
  op.out_signed = out_signed;
  op.code_bits = out_bits;
  return append(m, std::move(op));
}

int32_t add_relu(ModelDef* m, int32_t src) {
  OpDef op;
  op.type = OpType::kRelu;
  op.inputs[0] = src;
  return append(m, std::move(op));
}

int32_t add_max_pool(ModelDef* m, int32_t src, int32_t kernel, int32_t stride, int32_t pad) {
  OpDef op;
  op.type = OpType::kMaxPool;
  op.inputs[0] = src;
  op.kernel_h = op.kernel_w = kernel;
  op.stride_h = op.stride_w = stride;
  op.pad_h = op.pad_w = pad;
  return append(m, std::move(op));
}

int32_t add_add(ModelDef* m, int32_t a, int32_t b) {
  OpDef op;
  op.type = OpType::kAdd;
  op.inputs = {{a, b}};
  return append(m, std::move(op));
}

int32_t add_global_sum_pool(ModelDef* m, int32_t src, int32_t shift) {
  OpDef op;
  op.type = OpType::kGlobalSumPool;
  op.inputs[0] = src;
  op.shift = shift;
  return append(m, std::move(op));
}

}  // namespace f8net::rt
