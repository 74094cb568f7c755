// validate_model(): every rule of docs/model-format.md, checked in an order that never reads out
// of bounds or multiplies unchecked sizes, plus the load-time proof that no conv/FC accumulator
// can overflow int32 (per output channel: sum|w| * max|x| + |b| < 2^31, max|x| from the input
// codes' word length, weights checked against theirs). First failure wins.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "f8net/fixed/format.h"
#include "f8net/rt/model.h"

namespace f8net::rt {
namespace {

constexpr size_t kMaxNameBytes = 4096;
constexpr size_t kMaxProvenanceBytes = size_t{1} << 20;
constexpr size_t kMaxListEntries = 65536;

Status model_error(const std::string& msg) { return Status(StatusCode::kInvalidModel, msg); }

std::string op_prefix(size_t i, OpType t) {
  return "op " + std::to_string(i) + " (" + op_type_name(t) + "): ";
}

bool in_range(int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi; }

Status check_shape(const Shape& s, const std::string& what) {
  if (!in_range(s.c, 1, kMaxDim) || !in_range(s.h, 1, kMaxDim) || !in_range(s.w, 1, kMaxDim)) {
    return model_error(what + " shape [" + std::to_string(s.c) + "," + std::to_string(s.h) + "," +
                       std::to_string(s.w) + "] has a dimension outside [1, " +
                       std::to_string(kMaxDim) + "]");
  }
  if (s.elements() > kMaxTensorElements) {  // each dim <= 2^16, so the product fits int64
    return model_error(what + " has " + std::to_string(s.elements()) + " elements (limit " +
                       std::to_string(kMaxTensorElements) + ")");
  }
  return Status::ok();
}

Status check_metadata(const ModelDef& m) {
  const Metadata& md = m.metadata;
  if (md.name.size() > kMaxNameBytes) return model_error("metadata: model name too long");
  if (md.class_names.size() > kMaxListEntries) return model_error("metadata: too many class names");
  for (const std::string& s : md.class_names) {
    if (s.size() > kMaxNameBytes) return model_error("metadata: class name too long");
  }
  if (md.provenance.size() > kMaxListEntries)
    return model_error("metadata: too many provenance entries");
  for (const auto& kv : md.provenance) {
    if (kv.first.size() > kMaxNameBytes || kv.second.size() > kMaxProvenanceBytes) {
      return model_error("metadata: provenance entry too long");
    }
  }
  const Preprocessing& p = md.preprocessing;
  const InputDef& in = m.input;
  if (p.mode == Preprocess::kRaw01) {
    if (in.dtype != DType::kUint8 || in.fl != 8) {
      return model_error("metadata: preprocessing raw01 needs a uint8 input at FL 8");
    }
  } else if (p.mode == Preprocess::kNormalized) {
    if (in.dtype != DType::kInt8)
      return model_error("metadata: preprocessing normalized needs an int8 input");
    if (in.shape.c > 3)
      return model_error("metadata: preprocessing normalized supports at most 3 channels");
    for (int c = 0; c < 3; ++c) {
      if (!std::isfinite(p.mean[c]) || !std::isfinite(p.std[c]) || !(p.std[c] > 0.f)) {
        return model_error("metadata: normalization mean/std must be finite with std > 0");
      }
    }
  } else if (p.mode != Preprocess::kCodes) {
    return model_error("metadata: unknown preprocessing mode " +
                       std::to_string(static_cast<uint32_t>(p.mode)));
  }
  return Status::ok();
}

// Fields an op type does not use must keep their defaults.
Status check_unused(const OpDef& op, size_t i, bool geometry, bool weights, bool requant,
                    bool shift) {
  const std::string pre = op_prefix(i, op.type);
  if (op.type != OpType::kAdd && op.inputs[1] != -1) return model_error(pre + "has a second input");
  if (!weights &&
      (op.out_channels != 0 || !op.weights.empty() || !op.bias.empty() || !op.weight_fl.empty())) {
    return model_error(pre + "carries weights or out_channels it does not use");
  }
  if (!geometry && (op.kernel_h || op.kernel_w || op.stride_h || op.stride_w || op.pad_h ||
                    op.pad_w || op.dilation_h || op.dilation_w || op.groups)) {
    return model_error(pre + "carries kernel geometry it does not use");
  }
  if (!requant && (op.out_fl != 0 || op.out_signed)) {
    return model_error(pre + "carries a requantize format it does not use");
  }
  if (!shift && op.shift != 0) return model_error(pre + "carries a shift it does not use");
  if (!requant && !weights && op.code_bits != 8) {
    return model_error(pre + "carries a code word length it does not use");
  }
  return Status::ok();
}

// A code word length 2..8 (8-bit containers).
Status check_code_bits(const OpDef& op, size_t i, const char* what) {
  if (!in_range(op.code_bits, 2, 8)) {
    return model_error(op_prefix(i, op.type) + what + " word length " +
                       std::to_string(op.code_bits) + " outside [2, 8]");
  }
  return Status::ok();
}

// Weight codes, bias, weight FLs and the overflow bound; fills the value's FLs.
Status check_weights(const OpDef& op, size_t i, const ValueInfo& src, int64_t per_channel,
                     ValueInfo* out, OpInfo* info) {
  const std::string pre = op_prefix(i, op.type);
  const int64_t o_count = op.out_channels;
  if (per_channel <= 0 || per_channel > kMaxWeights || o_count * per_channel > kMaxWeights) {
    return model_error(pre + "weight count " + std::to_string(o_count) + " x " +
                       std::to_string(per_channel) + " exceeds the limit " +
                       std::to_string(kMaxWeights));
  }
  const int64_t expected = o_count * per_channel;
  if (static_cast<int64_t>(op.weights.size()) != expected) {
    return model_error(pre + "has " + std::to_string(op.weights.size()) + " weights, expected " +
                       std::to_string(expected));
  }
  if (static_cast<int64_t>(op.bias.size()) != o_count) {
    return model_error(pre + "has " + std::to_string(op.bias.size()) + " biases, expected " +
                       std::to_string(o_count));
  }
  if (op.weight_fl.size() != 1 && static_cast<int64_t>(op.weight_fl.size()) != o_count) {
    return model_error(pre + "has " + std::to_string(op.weight_fl.size()) +
                       " weight FLs, expected 1 or " + std::to_string(o_count));
  }
  for (size_t k = 0; k < op.weight_fl.size(); ++k) {
    if (!in_range(op.weight_fl[k], 0, 7)) {
      return model_error(pre + "weight FL " + std::to_string(op.weight_fl[k]) + " outside [0, 7]");
    }
  }
  F8NET_RETURN_IF_ERROR(check_code_bits(op, i, "weight"));
  const int32_t w_max = (1 << (op.code_bits - 1)) - 1;
  for (size_t k = 0; k < op.weights.size(); ++k) {
    if (op.weights[k] < -w_max || op.weights[k] > w_max) {
      return model_error(pre + "weight code " + std::to_string(op.weights[k]) + " at index " +
                         std::to_string(k) + " is outside [" + std::to_string(-w_max) + ", " +
                         std::to_string(w_max) + "] (" + std::to_string(op.code_bits) +
                         "-bit weights)");
    }
  }
  const int64_t x_max = fixed::Format{src.code_bits, 0, src.dtype == DType::kInt8}.qmax();
  const int32_t src_fl = src.fl.empty() ? 0 : src.fl[0];
  out->fl.resize(static_cast<size_t>(o_count));
  int64_t worst = 0;
  for (int64_t o = 0; o < o_count; ++o) {
    const int32_t b = op.bias[static_cast<size_t>(o)];
    if (b == std::numeric_limits<int32_t>::min()) {
      return model_error(pre + "bias of channel " + std::to_string(o) +
                         " is -2^31, outside [-(2^31-1), 2^31-1]");
    }
    int64_t abs_w = 0;  // <= 2^28 * 127: no overflow
    const int8_t* w = op.weights.data() + o * per_channel;
    for (int64_t k = 0; k < per_channel; ++k) abs_w += w[k] < 0 ? -int64_t{w[k]} : w[k];
    const int64_t bound = abs_w * x_max + (b < 0 ? -int64_t{b} : b);  // < 2^44
    if (bound > kMaxAccumulatorBound) {
      return Status(StatusCode::kOverflow,
                    pre + "output channel " + std::to_string(o) + " can overflow int32: sum|w| " +
                        std::to_string(abs_w) + " x max|x| " + std::to_string(x_max) + " + |b| " +
                        std::to_string(b < 0 ? -int64_t{b} : b) + " = " + std::to_string(bound) +
                        " >= 2^31");
    }
    if (bound > worst) worst = bound;
    const int32_t wfl =
        op.weight_fl.size() == 1 ? op.weight_fl[0] : op.weight_fl[static_cast<size_t>(o)];
    out->fl[static_cast<size_t>(o)] = src_fl + wfl;
  }
  info->accumulator_bound = worst;
  return Status::ok();
}

// What conv and FC both need: 8-bit codes in, a sane number of output channels.
Status check_layer_input(const OpDef& op, const std::string& pre, const ValueInfo& src) {
  if (!is_code_dtype(src.dtype))
    return model_error(pre + "input must be uint8/int8 codes, got int32");
  if (!in_range(op.out_channels, 1, kMaxDim)) {
    return model_error(pre + "out_channels " + std::to_string(op.out_channels) + " outside [1, " +
                       std::to_string(kMaxDim) + "]");
  }
  return Status::ok();
}

Status check_conv(const OpDef& op, size_t i, const ValueInfo& src, ValueInfo* out, OpInfo* info) {
  const std::string pre = op_prefix(i, op.type);
  F8NET_RETURN_IF_ERROR(check_layer_input(op, pre, src));
  if (!in_range(op.kernel_h, 1, kMaxKernel) || !in_range(op.kernel_w, 1, kMaxKernel) ||
      !in_range(op.stride_h, 1, kMaxKernel) || !in_range(op.stride_w, 1, kMaxKernel) ||
      !in_range(op.dilation_h, 1, kMaxKernel) || !in_range(op.dilation_w, 1, kMaxKernel) ||
      !in_range(op.pad_h, 0, kMaxKernel) || !in_range(op.pad_w, 0, kMaxKernel)) {
    return model_error(pre + "kernel/stride/dilation must be in [1, 64] and padding in [0, 64]");
  }
  const int32_t c = src.shape.c;
  if (op.groups == 1) {
    // ordinary convolution
  } else if (op.groups == c && c > 1) {
    if (op.out_channels != c)
      return model_error(pre + "depthwise conv needs out_channels == in_channels");
  } else {
    return model_error(pre + "groups " + std::to_string(op.groups) + " must be 1 or in_channels (" +
                       std::to_string(c) + ")");
  }
  const int64_t ext_h = int64_t{op.dilation_h} * (op.kernel_h - 1) + 1;
  const int64_t ext_w = int64_t{op.dilation_w} * (op.kernel_w - 1) + 1;
  const int64_t span_h = int64_t{src.shape.h} + 2 * op.pad_h;
  const int64_t span_w = int64_t{src.shape.w} + 2 * op.pad_w;
  if (span_h < ext_h || span_w < ext_w)
    return model_error(pre + "kernel larger than the padded input");
  out->shape = Shape{op.out_channels, static_cast<int32_t>((span_h - ext_h) / op.stride_h + 1),
                     static_cast<int32_t>((span_w - ext_w) / op.stride_w + 1)};
  F8NET_RETURN_IF_ERROR(check_shape(out->shape, pre + "output"));
  out->dtype = DType::kInt32;
  const int64_t per_channel = int64_t{c / op.groups} * op.kernel_h * op.kernel_w;
  F8NET_RETURN_IF_ERROR(check_weights(op, i, src, per_channel, out, info));
  info->macs = out->shape.elements() * per_channel;
  // Operands: int8 weights times the source codes; counted wide if either were wider than 8 bits.
  info->wide_multiplications = dtype_size(src.dtype) > 1 ? info->macs : 0;
  return Status::ok();
}

Status check_fc(const OpDef& op, size_t i, const ValueInfo& src, ValueInfo* out, OpInfo* info) {
  const std::string pre = op_prefix(i, op.type);
  F8NET_RETURN_IF_ERROR(check_layer_input(op, pre, src));
  out->shape = Shape{op.out_channels, 1, 1};
  out->dtype = DType::kInt32;
  F8NET_RETURN_IF_ERROR(check_weights(op, i, src, src.shape.elements(), out, info));
  info->macs = int64_t{op.out_channels} * src.shape.elements();
  info->wide_multiplications = dtype_size(src.dtype) > 1 ? info->macs : 0;
  return Status::ok();
}

Status check_max_pool(const OpDef& op, size_t i, const ValueInfo& src, ValueInfo* out) {
  const std::string pre = op_prefix(i, op.type);
  if (!in_range(op.kernel_h, 1, kMaxKernel) || !in_range(op.kernel_w, 1, kMaxKernel) ||
      !in_range(op.stride_h, 1, kMaxKernel) || !in_range(op.stride_w, 1, kMaxKernel)) {
    return model_error(pre + "kernel and stride must be in [1, 64]");
  }
  if (!in_range(op.pad_h, 0, op.kernel_h / 2) || !in_range(op.pad_w, 0, op.kernel_w / 2)) {
    return model_error(pre + "padding must be in [0, kernel/2]");
  }
  if (op.dilation_h != 0 || op.dilation_w != 0 || op.groups != 0) {
    return model_error(pre + "max pooling has no dilation or groups");
  }
  const int64_t span_h = int64_t{src.shape.h} + 2 * op.pad_h;
  const int64_t span_w = int64_t{src.shape.w} + 2 * op.pad_w;
  if (span_h < op.kernel_h || span_w < op.kernel_w) {
    return model_error(pre + "kernel larger than the padded input");
  }
  out->shape = Shape{src.shape.c, static_cast<int32_t>((span_h - op.kernel_h) / op.stride_h + 1),
                     static_cast<int32_t>((span_w - op.kernel_w) / op.stride_w + 1)};
  out->dtype = DType::kInt32;
  out->fl = src.fl;
  return Status::ok();
}

Status check_op(const ModelDef& m, size_t i, GraphInfo* g) {
  const OpDef& op = m.ops[i];
  const auto type_number = static_cast<uint32_t>(op.type);
  if (type_number < 1 || type_number > 7) {
    return model_error("op " + std::to_string(i) + ": unknown op type " +
                       std::to_string(type_number));
  }
  const std::string pre = op_prefix(i, op.type);
  const int32_t own = static_cast<int32_t>(i) + 1;
  const int n_inputs = op.type == OpType::kAdd ? 2 : 1;
  for (int k = 0; k < n_inputs; ++k) {
    if (op.inputs[k] < 0 || op.inputs[k] >= own) {
      return model_error(pre + "input " + std::to_string(op.inputs[k]) +
                         " is not an earlier value (must be in [0, " + std::to_string(own - 1) +
                         "])");
    }
  }
  const bool is_conv = op.type == OpType::kConv2d;
  const bool is_fc = op.type == OpType::kFullyConnected;
  const bool is_pool = op.type == OpType::kMaxPool;
  const bool is_requant = op.type == OpType::kRequantize;
  const bool is_gsp = op.type == OpType::kGlobalSumPool;
  F8NET_RETURN_IF_ERROR(
      check_unused(op, i, is_conv || is_pool, is_conv || is_fc, is_requant, is_gsp));

  const ValueInfo& src = g->values[static_cast<size_t>(op.inputs[0])];
  ValueInfo out;
  out.producer = static_cast<int32_t>(i);
  OpInfo& info = g->ops[i];
  if (!is_conv && !is_fc && src.dtype != DType::kInt32) {
    return model_error(pre + "input must be an int32 accumulator, got " + dtype_name(src.dtype) +
                       " codes");
  }
  switch (op.type) {
    case OpType::kConv2d:
      F8NET_RETURN_IF_ERROR(check_conv(op, i, src, &out, &info));
      break;
    case OpType::kFullyConnected:
      F8NET_RETURN_IF_ERROR(check_fc(op, i, src, &out, &info));
      break;
    case OpType::kRequantize: {
      F8NET_RETURN_IF_ERROR(check_code_bits(op, i, "output"));
      const fixed::Format f{op.code_bits, op.out_fl, op.out_signed};
      if (!f.valid()) {
        return model_error(pre + "output FL " + std::to_string(op.out_fl) + " outside [0, " +
                           std::to_string(f.max_fl()) + "]");
      }
      out.shape = src.shape;
      out.dtype = op.out_signed ? DType::kInt8 : DType::kUint8;
      out.code_bits = op.code_bits;
      out.fl.assign(static_cast<size_t>(src.shape.c), op.out_fl);
      break;
    }
    case OpType::kRelu:
      out.shape = src.shape;
      out.dtype = DType::kInt32;
      out.fl = src.fl;
      break;
    case OpType::kMaxPool:
      F8NET_RETURN_IF_ERROR(check_max_pool(op, i, src, &out));
      break;
    case OpType::kAdd: {
      const ValueInfo& b = g->values[static_cast<size_t>(op.inputs[1])];
      if (b.dtype != DType::kInt32) return model_error(pre + "second input must be int32");
      if (b.shape != src.shape) return model_error(pre + "operand shapes differ");
      out.shape = src.shape;
      out.dtype = DType::kInt32;
      out.fl.resize(src.fl.size());
      for (size_t c = 0; c < src.fl.size(); ++c) {
        out.fl[c] = std::max(src.fl[c], b.fl[c]);
      }
      break;
    }
    case OpType::kGlobalSumPool: {
      if (!in_range(op.shift, 0, kMaxAccFl)) {
        return model_error(pre + "shift " + std::to_string(op.shift) + " outside [0, 31]");
      }
      out.shape = Shape{src.shape.c, 1, 1};
      out.dtype = DType::kInt32;
      out.fl = src.fl;
      for (int32_t& fl : out.fl) fl += op.shift;
      break;
    }
  }
  if (out.dtype == DType::kInt32) {
    for (int32_t fl : out.fl) {
      if (!in_range(fl, 0, kMaxAccFl)) {
        return model_error(pre + "output FL " + std::to_string(fl) + " outside [0, 31]");
      }
    }
  }
  g->values[own] = std::move(out);
  return Status::ok();
}

}  // namespace

Status validate_model(const ModelDef& m, GraphInfo* info) {
  F8NET_RETURN_IF_ERROR(check_shape(m.input.shape, "input"));
  const fixed::Format in_fmt = fixed::activation_format(m.input.fl, m.input.dtype == DType::kInt8);
  if (!is_code_dtype(m.input.dtype)) {
    return model_error("input dtype must be uint8 or int8, got " +
                       std::to_string(static_cast<uint32_t>(m.input.dtype)));
  }
  if (!in_fmt.valid()) {
    return model_error("input FL " + std::to_string(m.input.fl) + " outside [0, " +
                       std::to_string(in_fmt.max_fl()) + "]");
  }
  F8NET_RETURN_IF_ERROR(check_metadata(m));
  if (m.ops.empty()) return model_error("the model has no ops");
  if (m.ops.size() > static_cast<size_t>(kMaxOps)) {
    return model_error("the model has " + std::to_string(m.ops.size()) + " ops (limit " +
                       std::to_string(kMaxOps) + ")");
  }
  GraphInfo local;
  GraphInfo* g = info ? info : &local;
  g->values.assign(m.ops.size() + 1, ValueInfo{});
  g->ops.assign(m.ops.size(), OpInfo{});
  ValueInfo& input = g->values[0];
  input.dtype = m.input.dtype;
  input.shape = m.input.shape;
  input.fl.assign(static_cast<size_t>(m.input.shape.c), m.input.fl);
  int64_t total_channels = m.input.shape.c;
  for (size_t i = 0; i < m.ops.size(); ++i) {
    F8NET_RETURN_IF_ERROR(check_op(m, i, g));
    // Bounds the per-channel FL tables (and so the memory a hostile file can make us allocate).
    total_channels += g->values[i + 1].shape.c;
    if (total_channels > kMaxTotalChannels) {
      return model_error("the model's tensors have more than " + std::to_string(kMaxTotalChannels) +
                         " channels in all");
    }
  }
  const ValueInfo& out = g->values.back();
  if (out.dtype != DType::kInt32) return model_error("the last op must produce int32 logits");
  const size_t n_classes = m.metadata.class_names.size();
  if (n_classes != 0 && n_classes != static_cast<size_t>(out.shape.c)) {
    return model_error("metadata has " + std::to_string(n_classes) +
                       " class names but the output has " + std::to_string(out.shape.c) +
                       " channels");
  }
  return Status::ok();
}

}  // namespace f8net::rt
