// compute_bounds(): forward interval propagation through the runtime's ops, mirroring the
// reference kernels (padding reads zero in conv, is ignored by max pool; add and sum pool
// saturate to +-(2^31-1)). Products and sums are formed in double and clamped at 2^62, which
// is exact below 2^53 and far beyond the 2^24 limit the caller compares against.
#include "bounds.h"

#include <algorithm>
#include <cmath>

#include "f8net/fixed/format.h"
#include "f8net/fixed/rounding.h"

namespace f8net::rt::onnx_export {
namespace {

constexpr double kInt32Max = 2147483647.0;
constexpr double kClamp = 4611686018427387904.0;  // 2^62

int64_t to_i64(double v) { return static_cast<int64_t>(std::max(-kClamp, std::min(kClamp, v))); }
int64_t sat32(double v) {
  return static_cast<int64_t>(std::max(-kInt32Max, std::min(kInt32Max, v)));
}
int64_t abs_max(int64_t lo, int64_t hi) { return std::max(lo < 0 ? -lo : lo, hi < 0 ? -hi : hi); }

ValueBounds sized(size_t c) {
  ValueBounds b;
  b.lo.assign(c, 0);
  b.hi.assign(c, 0);
  b.mag.assign(c, 0);
  b.terms.assign(c, 1);
  return b;
}

// Conv and FC: weight k of output o reads input channel channel_of(o, k); zero padding and
// the zero contributions make 0 part of every input range.
template <typename ChannelOf>
ValueBounds weighted(const OpDef& op, const ValueBounds& x, int64_t per_channel,
                     ChannelOf channel_of) {
  ValueBounds out = sized(static_cast<size_t>(op.out_channels));
  for (int64_t o = 0; o < op.out_channels; ++o) {
    const double b = op.bias[static_cast<size_t>(o)];
    double lo = b, hi = b, mag = std::fabs(b);
    const int8_t* w = op.weights.data() + o * per_channel;
    for (int64_t k = 0; k < per_channel; ++k) {
      const size_t c = static_cast<size_t>(channel_of(o, k));
      const double xl = static_cast<double>(std::min<int64_t>(x.lo[c], 0));
      const double xh = static_cast<double>(std::max<int64_t>(x.hi[c], 0));
      const double a = w[k] * xl, z = w[k] * xh;
      lo += std::min(a, z);
      hi += std::max(a, z);
      mag += std::fabs(static_cast<double>(w[k])) * static_cast<double>(abs_max(x.lo[c], x.hi[c]));
    }
    const size_t os = static_cast<size_t>(o);
    out.lo[os] = to_i64(lo);
    out.hi[os] = to_i64(hi);
    out.mag[os] = to_i64(mag);
    out.terms[os] = per_channel + 1;
  }
  return out;
}

}  // namespace

std::vector<ValueBounds> compute_bounds(const ModelDef& m, const GraphInfo& g) {
  std::vector<ValueBounds> v(m.ops.size() + 1);
  const size_t c_in = static_cast<size_t>(m.input.shape.c);
  v[0] = sized(c_in);
  for (size_t c = 0; c < c_in; ++c) {
    v[0].lo[c] = m.input.dtype == DType::kInt8 ? -127 : 0;
    v[0].hi[c] = m.input.dtype == DType::kInt8 ? 127 : 255;
    v[0].mag[c] = abs_max(v[0].lo[c], v[0].hi[c]);
  }
  for (size_t i = 0; i < m.ops.size(); ++i) {
    const OpDef& op = m.ops[i];
    const ValueInfo& src_info = g.values[static_cast<size_t>(op.inputs[0])];
    const ValueBounds& x = v[static_cast<size_t>(op.inputs[0])];
    const size_t channels = static_cast<size_t>(g.values[i + 1].shape.c);
    ValueBounds out = sized(channels);
    switch (op.type) {
      case OpType::kConv2d: {
        const int64_t taps = int64_t{op.kernel_h} * op.kernel_w;
        const int64_t per = int64_t{src_info.shape.c / op.groups} * taps;
        const bool depthwise = op.groups != 1;
        out = weighted(op, x, per, [&](int64_t o, int64_t k) { return depthwise ? o : k / taps; });
        break;
      }
      case OpType::kFullyConnected: {
        const int64_t hw = int64_t{src_info.shape.h} * src_info.shape.w;
        out =
            weighted(op, x, src_info.shape.elements(), [&](int64_t, int64_t k) { return k / hw; });
        break;
      }
      case OpType::kRequantize: {
        const fixed::Format f{op.code_bits, op.out_fl, op.out_signed};
        for (size_t c = 0; c < channels; ++c) {
          out.lo[c] = fixed::requantize(x.lo[c], src_info.fl[c], f);
          out.hi[c] = fixed::requantize(x.hi[c], src_info.fl[c], f);
          out.mag[c] = abs_max(out.lo[c], out.hi[c]);
        }
        break;
      }
      case OpType::kRelu:
      case OpType::kMaxPool:
        for (size_t c = 0; c < channels; ++c) {
          const bool relu = op.type == OpType::kRelu;
          out.lo[c] = relu ? std::max<int64_t>(x.lo[c], 0) : x.lo[c];
          out.hi[c] = relu ? std::max<int64_t>(x.hi[c], 0) : x.hi[c];
          out.mag[c] = abs_max(out.lo[c], out.hi[c]);
        }
        break;
      case OpType::kAdd: {
        const ValueInfo& b_info = g.values[static_cast<size_t>(op.inputs[1])];
        const ValueBounds& b = v[static_cast<size_t>(op.inputs[1])];
        const std::vector<int32_t>& fl = g.values[i + 1].fl;
        for (size_t c = 0; c < channels; ++c) {
          const double sa = std::ldexp(1.0, fl[c] - src_info.fl[c]);
          const double sb = std::ldexp(1.0, fl[c] - b_info.fl[c]);
          const double lo = static_cast<double>(x.lo[c]) * sa + static_cast<double>(b.lo[c]) * sb;
          const double hi = static_cast<double>(x.hi[c]) * sa + static_cast<double>(b.hi[c]) * sb;
          out.lo[c] = sat32(lo);
          out.hi[c] = sat32(hi);
          out.mag[c] = to_i64(std::max(std::fabs(lo), std::fabs(hi)));
        }
        break;
      }
      case OpType::kGlobalSumPool: {
        const double hw = static_cast<double>(src_info.shape.h) * src_info.shape.w;
        for (size_t c = 0; c < channels; ++c) {
          out.lo[c] = sat32(hw * static_cast<double>(x.lo[c]));
          out.hi[c] = sat32(hw * static_cast<double>(x.hi[c]));
          out.mag[c] = to_i64(hw * static_cast<double>(abs_max(x.lo[c], x.hi[c])));
          out.terms[c] = static_cast<int64_t>(hw);
        }
        break;
      }
    }
    v[i + 1] = std::move(out);
  }
  return v;
}

CodeRange requantize_code_range(const ValueBounds& src, const std::vector<int32_t>& src_fl,
                                int32_t out_fl) {
  CodeRange r;
  for (size_t c = 0; c < src.lo.size(); ++c) {
    // lo/hi are within +-(2^31-1) and the shift within [-8, 31] (FLs 0..31 in, 0..8 out): no
    // overflow. Rounding is monotonic, so the range ends map to the code range's ends.
    const int64_t lo = fixed::shift_round_half_even(src.lo[c], src_fl[c] - out_fl);
    const int64_t hi = fixed::shift_round_half_even(src.hi[c], src_fl[c] - out_fl);
    r.lo = c == 0 ? lo : std::min(r.lo, lo);
    r.hi = c == 0 ? hi : std::max(r.hi, hi);
  }
  return r;
}

bool integer_pool(const ModelDef& m, const GraphInfo& g, const std::vector<ValueBounds>& bounds,
                  size_t i) {
  const OpDef& op = m.ops[i];
  if (op.type != OpType::kGlobalSumPool) return false;
  const ValueBounds& x = bounds[static_cast<size_t>(op.inputs[0])];
  const ValueBounds& y = bounds[i + 1];
  for (size_t c = 0; c < x.lo.size(); ++c) {
    if (x.lo[c] < 0 || y.mag[c] > (int64_t{1} << 31) - 1) return false;
  }
  const std::vector<int32_t>& fl = g.values[i + 1].fl;
  int consumers = 0;
  for (size_t k = i + 1; k < m.ops.size(); ++k) {
    const OpDef& use = m.ops[k];
    const bool reads = use.inputs[0] == static_cast<int32_t>(i) + 1 ||
                       (use.type == OpType::kAdd && use.inputs[1] == static_cast<int32_t>(i) + 1);
    if (!reads) continue;
    if (use.type != OpType::kRequantize) return false;
    for (int32_t f : fl) {
      // Shifts of 0..30 only: the graph divides by 2^shift in int32.
      if (f < use.out_fl || f - use.out_fl > 30) return false;
    }
    ++consumers;
  }
  return consumers > 0;
}

}  // namespace f8net::rt::onnx_export
