// The integer view of a trained F8Net model (F8NET.md decision 3, §15): a list of nodes of the
// integer runtime's op kinds, with the very weight/bias codes the float64 exact evaluation uses.
// Plain C++ (no LibTorch types) so an exporter can translate it 1:1. Nodes are in topological
// order; `inputs` index earlier nodes. Tensors are NCHW without the batch dimension.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace f8net::qat {

enum class IntegerOp {
  kInput,           // graph input: 8-bit codes (raw01: uint8 code = rne(255 x), FL 8; or int8)
  kRequantize,      // int32 (per-channel FL) -> 8-bit codes at one FL: fixed::requantize
  kConv2d,          // codes -> int32, FL[o] = input_fl + weight_fl[o]
  kFullyConnected,  // codes (flattened C*H*W) -> int32, FL[o] = input_fl + weight_fl[o]
  kRelu,            // int32 -> int32, max(x, 0); FLs unchanged
  kMaxPool,         // int32 -> int32, window max ignoring padding; FLs unchanged
  kAdd,             // int32 + int32: F = max(FLa, FLb) per channel, left-shift align, sum,
                    // saturate to +-(2^31-1)
  kGlobalSumPool,   // int32 [C,H,W] -> [C]: sum in int64, saturate +-(2^31-1), FL += shift
};

const char* integer_op_name(IntegerOp op);

struct IntegerNode {
  IntegerOp op = IntegerOp::kInput;
  std::string name;              // module path or role, for diagnostics
  std::vector<int> inputs;       // producer node indices (Add: two, Input: none, others: one)
  std::vector<int64_t> shape;    // output shape without batch: {C, H, W} or {C}
  // Output numbers. Codes nodes (Input, Requantize): is_signed and one FL in fl[0]. Int32 nodes:
  // one FL per channel (fl.size() == shape[0]); is_signed is true.
  bool codes = false;
  bool is_signed = true;
  std::vector<int> fl;
  bool raw01 = false;            // Input: raw [0,1] image, code = rne(255 x), value code/256
  int word_bits = 8;             // codes nodes: the codes' word length (2..8)

  // Conv2d / FullyConnected.
  std::vector<int8_t> weight;          // Conv2d [O, I/groups, kh, kw]; FC [O, K], row-major
  std::vector<int64_t> weight_shape;
  std::vector<int32_t> bias;           // [O], at FL input_fl + weight_fl[o]
  std::vector<int> weight_fl;          // [O] (a per-layer FL is repeated)
  int weight_bits = 8;                 // weight codes in +-(2^(weight_bits-1)-1)
  int input_fl = 0;                    // FL of the input codes
  bool input_signed = false;           // signedness of the input codes
  int stride = 1, padding = 0, dilation = 1, groups = 1;  // Conv2d (square); groups in {1, C_in}

  // MaxPool (square window; padding never wins the max).
  int kernel = 1;                      // with stride and padding above

  // GlobalSumPool.
  int shift = 0;
};

struct IntegerView {
  std::vector<IntegerNode> nodes;
  int output = -1;                 // the logits node (int32, per-class FL in nodes[output].fl)
};

}  // namespace f8net::qat
