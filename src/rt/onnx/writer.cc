// build_graph(): each runtime op as standard ONNX (opset 13). An int32 value at FL f[c] is a
// float tensor holding value * 2^-f[c]; 8-bit codes are a uint8 tensor on ORT's fusable grid
// (unsigned: zero point 0; signed: zero point 128, clipped to [1, 255] = f8net's [-127, 127];
// codes narrower than 8 bits clipped to their range on that grid).
// A conv/FC whose output feeds only requantizes (optionally through one ReLU into unsigned
// codes) is written as DQ -> Conv/Gemm -> Q (ORT fuses it into QLinearConv/QGemm); any other is
// ConvInteger/MatMulInteger + int32 bias + DequantizeLinear, so no float Conv is left.
#include "writer.h"

#include <cmath>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "builder.h"
#include "f8net/fixed/format.h"
#include "integer-requantize.h"

namespace f8net::rt::onnx_export {
namespace {

float pow2(int e) { return std::ldexp(1.0f, e); }

struct Writer {
  const ModelDef& m;
  const GraphInfo& g;
  const std::vector<ValueBounds>& bounds;
  const OnnxOptions& opt;
  GraphBuilder b;
  OnnxExportReport* rep;
  std::vector<std::vector<int32_t>> consumers;
  std::vector<std::string> real;   // int32 values (and every value in float_reference mode)
  std::vector<std::string> quant;  // code values: the uint8 grid tensor
  std::vector<std::string> ints;   // int32 tensors (an integer global sum pool's output)
  std::vector<int> rank;           // 4 ([N,C,H,W]) or 2 ([N,C], after Gemm)
  std::map<std::tuple<int32_t, int32_t, bool, int32_t>, int32_t> requant_seen;

  Writer(const ModelDef& model, const GraphInfo& info, const std::vector<ValueBounds>& bnd,
         const OnnxOptions& o, onnx::GraphProto* graph, OnnxExportReport* r)
      : m(model), g(info), bounds(bnd), opt(o), b(graph), rep(r) {
    const size_t n = m.ops.size() + 1;
    consumers.resize(n);
    real.resize(n);
    quant.resize(n);
    ints.resize(n);
    rank.assign(n, 4);
    for (size_t i = 0; i < m.ops.size(); ++i) {
      consumers[static_cast<size_t>(m.ops[i].inputs[0])].push_back(static_cast<int32_t>(i));
      if (m.ops[i].type == OpType::kAdd) {
        consumers[static_cast<size_t>(m.ops[i].inputs[1])].push_back(static_cast<int32_t>(i));
      }
    }
  }

  const ValueInfo& info(int32_t v) const { return g.values[static_cast<size_t>(v)]; }
  bool signed_codes(int32_t v) const { return info(v).dtype == DType::kInt8; }
  int32_t code_fl(int32_t v) const { return info(v).fl[0]; }
  uint8_t zero_point(int32_t v) const { return signed_codes(v) ? 128 : 0; }

  // All ops in `list` requantize to one format (unsigned only when `need_unsigned`).
  bool same_requantize(const std::vector<int32_t>& list, bool need_unsigned) const {
    if (list.empty()) return false;
    const OpDef& first = m.ops[static_cast<size_t>(list[0])];
    for (int32_t k : list) {
      const OpDef& op = m.ops[static_cast<size_t>(k)];
      if (op.type != OpType::kRequantize || op.out_fl != first.out_fl ||
          op.out_signed != first.out_signed || op.code_bits != first.code_bits ||
          (need_unsigned && op.out_signed)) {
        return false;
      }
    }
    return true;
  }

  // The QDQ form is chosen when ORT can fuse the conv with its output quantization.
  bool fusable(size_t i) const {
    const int32_t v = static_cast<int32_t>(i) + 1;
    if (v == m.output_value()) return false;
    const std::vector<int32_t>& cs = consumers[static_cast<size_t>(v)];
    if (same_requantize(cs, false)) return true;
    if (cs.size() != 1 || m.ops[static_cast<size_t>(cs[0])].type != OpType::kRelu) return false;
    const int32_t r = cs[0] + 1;
    return r != m.output_value() && same_requantize(consumers[static_cast<size_t>(r)], true);
  }

  std::string to4d(const std::string& t, int32_t v) {
    if (rank[static_cast<size_t>(v)] == 4) return t;
    return b.node("Reshape", {t, b.i64("shape4d", {-1, info(v).shape.c, 1, 1})}, t + "_4d");
  }
  std::string flat(const std::string& t, int32_t v) {
    if (rank[static_cast<size_t>(v)] == 2) return t;
    const std::string out = b.node("Flatten", {t}, t + "_flat");
    b.attr_int("axis", 1);
    return out;
  }
  // A fresh DequantizeLinear of code value v (one per consumer, as QDQ node units expect).
  std::string dq(const std::string& q, int32_t v) {
    return b.node("DequantizeLinear",
                  {q, b.scalar_f32(pow2(-code_fl(v))), b.scalar_u8(zero_point(v))}, q + "_dq");
  }
  // Per-channel 2^-fl as a DequantizeLinear scale: a scalar when all channels agree.
  std::string dequantize_int32(const std::string& t, const std::vector<int32_t>& fl, int axis) {
    bool uniform = true;
    for (int32_t f : fl) uniform = uniform && f == fl[0];
    if (uniform) {
      return b.node("DequantizeLinear", {t, b.scalar_f32(pow2(-fl[0])), b.scalar_i32(0)},
                    t + "_dq");
    }
    std::vector<float> s(fl.size());
    for (size_t c = 0; c < fl.size(); ++c) s[c] = pow2(-fl[c]);
    const int64_t n = static_cast<int64_t>(fl.size());
    const std::string out = b.node(
        "DequantizeLinear",
        {t, b.f32("acc_scale", {n}, s), b.i32("acc_zero", {n}, std::vector<int32_t>(fl.size()))},
        t + "_dq");
    b.attr_int("axis", axis);
    return out;
  }
  std::vector<int32_t> weight_fls(const OpDef& op) const {
    std::vector<int32_t> w(static_cast<size_t>(op.out_channels), op.weight_fl[0]);
    if (op.weight_fl.size() > 1) w.assign(op.weight_fl.begin(), op.weight_fl.end());
    return w;
  }
  std::string dq_weights(const OpDef& op, const std::vector<int64_t>& dims) {
    const std::string w = b.i8("weight", dims, op.weights);
    if (op.weight_fl.size() == 1) {
      return b.node("DequantizeLinear", {w, b.scalar_f32(pow2(-op.weight_fl[0])), b.scalar_i8(0)},
                    w + "_dq");
    }
    std::vector<float> s;
    for (int32_t f : weight_fls(op)) s.push_back(pow2(-f));
    const int64_t o = op.out_channels;
    const std::string out =
        b.node("DequantizeLinear",
               {w, b.f32("weight_scale", {o}, s),
                b.i8("weight_zero", {o}, std::vector<int8_t>(static_cast<size_t>(o)))},
               w + "_dq");
    b.attr_int("axis", 0);
    return out;
  }
  std::string dq_bias(const OpDef& op, int32_t src_fl) {
    std::vector<int32_t> fl = weight_fls(op);
    for (int32_t& f : fl) f += src_fl;
    const std::string q = b.i32("bias", {op.out_channels}, op.bias);
    return dequantize_int32(q, fl, 0);
  }
  std::vector<float> real_weights(const OpDef& op, int64_t per_channel) const {
    std::vector<float> w(op.weights.size());
    const std::vector<int32_t> fl = weight_fls(op);
    for (size_t k = 0; k < w.size(); ++k) {
      w[k] =
          std::ldexp(static_cast<float>(op.weights[k]), -fl[k / static_cast<size_t>(per_channel)]);
    }
    return w;
  }
  std::vector<float> real_bias(const OpDef& op, int32_t src_fl) const {
    std::vector<float> r(op.bias.size());
    const std::vector<int32_t> fl = weight_fls(op);
    for (size_t o = 0; o < r.size(); ++o) {
      r[o] = static_cast<float>(std::ldexp(static_cast<double>(op.bias[o]), -(src_fl + fl[o])));
    }
    return r;
  }

  void conv_attributes(const OpDef& op) {
    b.attr_ints("kernel_shape", {op.kernel_h, op.kernel_w});
    b.attr_ints("strides", {op.stride_h, op.stride_w});
    b.attr_ints("pads", {op.pad_h, op.pad_w, op.pad_h, op.pad_w});
    b.attr_ints("dilations", {op.dilation_h, op.dilation_w});
    b.attr_int("group", op.groups);
  }

  void conv(size_t i) {
    const OpDef& op = m.ops[i];
    const int32_t src = op.inputs[0], v = static_cast<int32_t>(i) + 1;
    const int64_t in_c = info(src).shape.c / op.groups;
    const std::vector<int64_t> dims = {op.out_channels, in_c, op.kernel_h, op.kernel_w};
    const std::string out = "v" + std::to_string(v);
    if (opt.float_reference) {
      const int64_t per = in_c * op.kernel_h * op.kernel_w;
      real[v] = b.node("Conv",
                       {to4d(real[src], src), b.f32("weight", dims, real_weights(op, per)),
                        b.f32("bias", {op.out_channels}, real_bias(op, code_fl(src)))},
                       out);
      conv_attributes(op);
    } else if (fusable(i)) {
      const std::string x = dq(to4d(quant[src], src), src);
      const std::string w = dq_weights(op, dims);
      real[v] = b.node("Conv", {x, w, dq_bias(op, code_fl(src))}, out);
      conv_attributes(op);
      ++rep->qdq_convs;
    } else {
      const std::string w = b.i8("weight", dims, op.weights);
      const std::string acc = b.node(
          "ConvInteger", {to4d(quant[src], src), w, b.scalar_u8(zero_point(src)), b.scalar_i8(0)},
          out + "_acc");
      conv_attributes(op);
      const std::string bias = b.i32("bias", {1, op.out_channels, 1, 1}, op.bias);
      real[v] = dequantize_int32(b.node("Add", {acc, bias}, out + "_int32"), info(v).fl, 1);
      ++rep->integer_convs;
    }
    rank[v] = 4;
  }

  void fully_connected(size_t i) {
    const OpDef& op = m.ops[i];
    const int32_t src = op.inputs[0], v = static_cast<int32_t>(i) + 1;
    const int64_t k = info(src).shape.elements(), o = op.out_channels;
    const std::string out = "v" + std::to_string(v);
    if (opt.float_reference) {
      real[v] = b.node("Gemm",
                       {flat(real[src], src), b.f32("weight", {o, k}, real_weights(op, k)),
                        b.f32("bias", {o}, real_bias(op, code_fl(src)))},
                       out);
      b.attr_int("transB", 1);
    } else if (fusable(i)) {
      const std::string x = dq(flat(quant[src], src), src);
      real[v] = b.node("Gemm", {x, dq_weights(op, {o, k}), dq_bias(op, code_fl(src))}, out);
      b.attr_int("transB", 1);
      ++rep->qdq_convs;
    } else {
      std::vector<int8_t> wt(op.weights.size());  // [K, O] for MatMulInteger
      for (int64_t r = 0; r < o; ++r) {
        for (int64_t c = 0; c < k; ++c) {
          wt[static_cast<size_t>(c * o + r)] = op.weights[static_cast<size_t>(r * k + c)];
        }
      }
      const std::string acc = b.node("MatMulInteger",
                                     {flat(quant[src], src), b.i8("weight_t", {k, o}, wt),
                                      b.scalar_u8(zero_point(src)), b.scalar_i8(0)},
                                     out + "_acc");
      const std::string biased = b.node("Add", {acc, b.i32("bias", {o}, op.bias)}, out + "_int32");
      real[v] = dequantize_int32(biased, info(v).fl, 1);
      ++rep->integer_convs;
    }
    rank[v] = 2;
  }

  void requantize(size_t i) {
    const OpDef& op = m.ops[i];
    const int32_t src = op.inputs[0], v = static_cast<int32_t>(i) + 1;
    rank[v] = rank[src];
    const auto key = std::make_tuple(src, op.out_fl, op.out_signed, op.code_bits);
    auto seen = requant_seen.find(key);
    if (seen != requant_seen.end()) {  // the same codes again: share one Q
      real[v] = real[seen->second];
      quant[v] = quant[seen->second];
      return;
    }
    requant_seen[key] = v;
    const float s = pow2(-op.out_fl);
    const std::string out = "v" + std::to_string(v);
    const fixed::Format f = code_format(op);
    if (opt.float_reference) {
      real[v] = b.node("Clip",
                       {real[src], b.scalar_f32(static_cast<float>(f.qmin()) * s),
                        b.scalar_f32(static_cast<float>(f.qmax()) * s)},
                       out);
      return;
    }
    if (!ints[src].empty()) {
      quant[v] = integer_requantize(b, ints[src], src, info(src).fl, channel_dims(src), op);
      return;
    }
    const int64_t zero = op.out_signed ? 128 : 0;
    std::string q =
        b.node("QuantizeLinear",
               {real[src], b.scalar_f32(s), b.scalar_u8(static_cast<uint8_t>(zero))}, out + "_q");
    // QuantizeLinear rounds half to even and saturates to the uint8 grid, codes [-zero,
    // 255-zero]; f8net then saturates to [qmin, qmax] (symmetric when signed, 2^n-1 wide when
    // n < 8). Saturating twice to nested ranges is saturating once to the inner one, so a Clip
    // on the grid makes ORT's codes f8net's; the bounds omit it where no code can reach it.
    const CodeRange r =
        requantize_code_range(bounds[static_cast<size_t>(src)], info(src).fl, op.out_fl);
    const bool low = r.lo < f.qmin() && f.qmin() > -zero;
    const bool high = r.hi > f.qmax() && f.qmax() < 255 - zero;
    if (low || high) {
      q = b.node("Clip",
                 {q, b.scalar_u8(static_cast<uint8_t>(f.qmin() + zero)),
                  b.scalar_u8(static_cast<uint8_t>(f.qmax() + zero))},
                 out + "_q");
      ++rep->clips;
    }
    quant[v] = q;
  }

  std::vector<int64_t> channel_dims(int32_t v) const { return {1, info(v).shape.c, 1, 1}; }

  // A requantize's output codes: code_bits wide (2..8) in 8-bit containers.
  static fixed::Format code_format(const OpDef& op) {
    return fixed::Format{op.code_bits, op.out_fl, op.out_signed};
  }

  // GlobalSumPool in int32: Cast(x * 2^f[c]) (exact: x's bound < 2^24), ReduceSum.
  void integer_pool_sum(size_t i) {
    const OpDef& op = m.ops[i];
    const int32_t src = op.inputs[0], v = static_cast<int32_t>(i) + 1;
    const std::vector<int32_t>& fl = info(src).fl;
    std::vector<float> scale(fl.size());
    for (size_t k = 0; k < fl.size(); ++k) scale[k] = pow2(fl[k]);
    const std::string out = "v" + std::to_string(v);
    const std::string x = b.node(
        "Mul", {to4d(real[src], src), b.f32("pool_lsb", channel_dims(src), scale)}, out + "_lsb");
    const std::string xi = b.node("Cast", {x}, out + "_int");
    b.attr_int("to", onnx::TensorProto::INT32);
    ints[v] = b.node("ReduceSum", {xi, b.i64("axes_hw", {2, 3})}, out + "_int32");
    b.attr_int("keepdims", 1);
    rank[v] = 4;
  }

  void elementwise(size_t i) {
    const OpDef& op = m.ops[i];
    const int32_t src = op.inputs[0], v = static_cast<int32_t>(i) + 1;
    const std::string out = "v" + std::to_string(v);
    rank[v] = 4;
    switch (op.type) {
      case OpType::kRelu:
        real[v] = b.node("Relu", {real[src]}, out);
        rank[v] = rank[src];
        break;
      case OpType::kMaxPool:
        real[v] = b.node("MaxPool", {to4d(real[src], src)}, out);
        b.attr_ints("kernel_shape", {op.kernel_h, op.kernel_w});
        b.attr_ints("strides", {op.stride_h, op.stride_w});
        b.attr_ints("pads", {op.pad_h, op.pad_w, op.pad_h, op.pad_w});
        break;
      case OpType::kAdd: {
        const int32_t other = op.inputs[1];
        if (rank[src] == rank[other]) {
          real[v] = b.node("Add", {real[src], real[other]}, out);
          rank[v] = rank[src];
        } else {
          real[v] = b.node("Add", {to4d(real[src], src), to4d(real[other], other)}, out);
        }
        break;
      }
      case OpType::kGlobalSumPool: {
        if (!opt.float_reference && integer_pool(m, g, bounds, i)) {
          integer_pool_sum(i);
          break;
        }
        const std::string sum =
            b.node("ReduceSum", {to4d(real[src], src), b.i64("axes_hw", {2, 3})}, out + "_sum");
        b.attr_int("keepdims", 1);
        real[v] = b.node("Mul", {sum, b.scalar_f32(pow2(-op.shift))}, out);
        break;
      }
      default:
        break;
    }
  }

  void set_type(onnx::ValueInfoProto* vi, const std::string& name, int32_t elem,
                const std::vector<int64_t>& dims) {
    vi->set_name(name);
    onnx::TypeProto_Tensor* t = vi->mutable_type()->mutable_tensor_type();
    t->set_elem_type(elem);
    onnx::TensorShapeProto* s = t->mutable_shape();
    s->add_dim()->set_dim_param("N");
    for (int64_t d : dims) s->add_dim()->set_dim_value(d);
  }

  void run(onnx::GraphProto* graph) {
    const Shape& in = m.input.shape;
    const bool in_signed = m.input.dtype == DType::kInt8;
    const int32_t in_elem = opt.float_reference ? onnx::TensorProto::FLOAT
                            : in_signed         ? onnx::TensorProto::INT8
                                                : onnx::TensorProto::UINT8;
    set_type(graph->add_input(), "input", in_elem, {in.c, in.h, in.w});
    rep->input_name = "input";
    rep->input_type = opt.float_reference ? "float32 values (code * 2^-FL)"
                                          : std::string(in_signed ? "int8" : "uint8") + " codes";
    if (opt.float_reference) {
      real[0] = "input";
    } else if (in_signed) {  // int8 codes -> clip to +-127 -> the uint8 zero-point-128 grid
      const float s = pow2(-m.input.fl);
      const std::string c =
          b.node("Clip", {"input", b.scalar_i8(-127), b.scalar_i8(127)}, "input_c");
      const std::string d =
          b.node("DequantizeLinear", {c, b.scalar_f32(s), b.scalar_i8(0)}, "input_r");
      quant[0] = b.node("QuantizeLinear", {d, b.scalar_f32(s), b.scalar_u8(128)}, "input_q");
    } else {
      quant[0] = "input";
    }
    for (size_t i = 0; i < m.ops.size(); ++i) {
      switch (m.ops[i].type) {
        case OpType::kConv2d:
          conv(i);
          break;
        case OpType::kFullyConnected:
          fully_connected(i);
          break;
        case OpType::kRequantize:
          requantize(i);
          break;
        default:
          elementwise(i);
          break;
      }
    }
    const int32_t last = m.output_value();
    const Shape& os = info(last).shape;
    std::vector<int64_t> out_dims = {os.c};
    if (rank[last] == 4 && os.h == 1 && os.w == 1) {
      rep->output_name = b.node("Flatten", {real[last]}, "logits");
      b.attr_int("axis", 1);
    } else {
      rep->output_name = b.node("Identity", {real[last]}, "logits");
      if (rank[last] == 4) out_dims = {os.c, os.h, os.w};
    }
    set_type(graph->add_output(), rep->output_name, onnx::TensorProto::FLOAT, out_dims);
    rep->nodes = b.node_count();
  }
};

}  // namespace

void build_graph(const ModelDef& m, const GraphInfo& g, const std::vector<ValueBounds>& bounds,
                 const OnnxOptions& options, onnx::GraphProto* graph, OnnxExportReport* report) {
  Writer w(m, g, bounds, options, graph, report);
  w.run(graph);
}

}  // namespace f8net::rt::onnx_export
