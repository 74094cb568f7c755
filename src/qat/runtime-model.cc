// IntegerView -> rt::ModelDef. Node i of the view becomes runtime value value_of[i]; the input node
// is value 0. Shapes and FLs are not copied but re-derived by the runtime's validation and then
// compared with the view's, which proves both sides agree on every op's semantics.
#include "f8net/qat/runtime-model.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace f8net::qat {
namespace {

// The CLI adds the command's name ("export: ..."); the library names only the problem.
[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

int32_t to_i32(int64_t v, const std::string& what) {
  if (v < 0 || v > 2147483647) fail(what + " out of range: " + std::to_string(v));
  return static_cast<int32_t>(v);
}

rt::Shape shape_of(const IntegerNode& node) {
  if (node.shape.size() == 3) {
    return {to_i32(node.shape[0], "C"), to_i32(node.shape[1], "H"), to_i32(node.shape[2], "W")};
  }
  if (node.shape.size() == 1) return {to_i32(node.shape[0], "C"), 1, 1};
  fail("node '" + node.name + "' has a shape of rank " + std::to_string(node.shape.size()));
}

std::vector<int8_t> narrow_fls(const std::vector<int>& fls, const std::string& name) {
  std::vector<int8_t> out;
  out.reserve(fls.size());
  for (int f : fls) {
    if (f < 0 || f > 7) fail("node '" + name + "' has weight FL " + std::to_string(f));
    out.push_back(static_cast<int8_t>(f));
  }
  return out;
}

}  // namespace

rt::ModelDef to_runtime_model(const IntegerView& view, const rt::Metadata& metadata) {
  if (view.nodes.empty() || view.nodes[0].op != IntegerOp::kInput) {
    fail("the integer view does not start with its input");
  }
  if (view.output != static_cast<int>(view.nodes.size()) - 1) {
    fail("the integer view's output is not its last node");
  }
  rt::ModelDef model;
  model.metadata = metadata;
  const IntegerNode& in = view.nodes[0];
  if (in.fl.size() != 1) fail("the input node needs exactly one FL");
  model.input.shape = shape_of(in);
  model.input.dtype = in.is_signed ? rt::DType::kInt8 : rt::DType::kUint8;
  model.input.frac_bits = in.fl[0];
  const rt::Preprocess pre = metadata.preprocessing.mode;
  if (in.raw01 && pre != rt::Preprocess::kRaw01) {
    fail("the model takes raw [0,1] images but the metadata says otherwise");
  }
  if (!in.raw01 && pre == rt::Preprocess::kRaw01) {
    fail("the model takes normalized input but the metadata says raw [0,1] images");
  }

  std::vector<int32_t> value_of(view.nodes.size(), -1);
  value_of[0] = 0;
  for (size_t i = 1; i < view.nodes.size(); ++i) {
    const IntegerNode& n = view.nodes[i];
    std::vector<int32_t> src;
    for (int k : n.inputs) {
      if (k < 0 || static_cast<size_t>(k) >= i) fail("node '" + n.name + "' reads a later node");
      src.push_back(value_of[static_cast<size_t>(k)]);
    }
    const size_t want_inputs = n.op == IntegerOp::kAdd ? 2 : 1;
    if (src.size() != want_inputs) fail("node '" + n.name + "' has the wrong number of inputs");
    int32_t v = -1;
    switch (n.op) {
      case IntegerOp::kInput:
        fail("a second input node '" + n.name + "'");
      case IntegerOp::kRequantize:
        if (n.fl.size() != 1) fail("requantize node '" + n.name + "' needs one FL");
        v = rt::add_requantize(&model, src[0], n.fl[0], n.is_signed, n.word_bits);
        break;
      case IntegerOp::kConv2d: {
        if (n.weight_shape.size() != 4) fail("conv node '" + n.name + "' needs a 4-D weight");
        rt::Conv2dParams p;
        p.out_channels = to_i32(n.weight_shape[0], "out channels");
        p.kernel_h = to_i32(n.weight_shape[2], "kernel");
        p.kernel_w = to_i32(n.weight_shape[3], "kernel");
        p.stride_h = p.stride_w = n.stride;
        p.pad_h = p.pad_w = n.padding;
        p.dilation_h = p.dilation_w = n.dilation;
        p.groups = n.groups;
        v = rt::add_conv2d(&model, src[0], p, n.weight, n.bias, narrow_fls(n.weight_fl, n.name));
        model.ops.back().code_bits = n.weight_bits;
        break;
      }
      case IntegerOp::kFullyConnected:
        if (n.weight_shape.size() != 2) fail("FC node '" + n.name + "' needs a 2-D weight");
        v = rt::add_fully_connected(&model, src[0], to_i32(n.weight_shape[0], "out features"),
                                    n.weight, n.bias, narrow_fls(n.weight_fl, n.name));
        model.ops.back().code_bits = n.weight_bits;
        break;
      case IntegerOp::kRelu:
        v = rt::add_relu(&model, src[0]);
        break;
      case IntegerOp::kMaxPool:
        v = rt::add_max_pool(&model, src[0], n.kernel, n.stride, n.padding);
        break;
      case IntegerOp::kAdd:
        v = rt::add_add(&model, src[0], src[1]);
        break;
      case IntegerOp::kGlobalSumPool:
        v = rt::add_global_sum_pool(&model, src[0], n.shift);
        break;
    }
    value_of[i] = v;
  }

  rt::GraphInfo info;
  const rt::Status st = rt::validate_model(model, &info);
  if (!st) fail("the runtime refuses the model: " + st.message());

  // The runtime's inferred shapes, signedness and FLs must be the view's, node by node.
  for (size_t i = 0; i < view.nodes.size(); ++i) {
    const IntegerNode& n = view.nodes[i];
    const rt::ValueInfo& vi = info.values[static_cast<size_t>(value_of[i])];
    if (vi.shape != shape_of(n)) fail("shape mismatch at node '" + n.name + "'");
    const bool codes = rt::is_code_dtype(vi.dtype);
    if (codes != (n.codes || n.op == IntegerOp::kInput)) {
      fail("codes/accumulator mismatch at node '" + n.name + "'");
    }
    if (codes && (vi.dtype == rt::DType::kInt8) != n.is_signed) {
      fail("signedness mismatch at node '" + n.name + "'");
    }
    if (codes && vi.code_bits != n.word_bits) {
      fail("code word length mismatch at node '" + n.name + "': runtime " +
           std::to_string(vi.code_bits) + ", training " + std::to_string(n.word_bits));
    }
    for (size_t c = 0; c < vi.frac_bits.size(); ++c) {
      const int want = n.fl.size() == 1 ? n.fl[0] : (c < n.fl.size() ? n.fl[c] : -1);
      if (vi.frac_bits[c] != want) {
        fail("FL mismatch at node '" + n.name + "' channel " + std::to_string(c) + ": runtime " +
             std::to_string(vi.frac_bits[c]) + ", training " + std::to_string(want));
      }
    }
  }
  return model;
}

}  // namespace f8net::qat
