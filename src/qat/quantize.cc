// The fused quantize+mask kernel, its autograd Function, and the tensor-level FL rules
// (F8NET.md §4-§6). The element rule is fixed::quantize / fixed::ste_pass written as one pass with
// a precomputed exact 2^f scale; tests compare every element with those core functions.
#include "f8net/qat/quantize.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <type_traits>
#include <utility>

namespace f8net::qat {
namespace {

// Adding and subtracting 1.5 * 2^(mantissa bits) rounds a value of magnitude below 2^(bits-1) to
// the nearest integer, ties to even, in the default rounding mode (no libm call, vectorizable).
template <typename T>
constexpr T kRoundMagic = T(0);
template <>
constexpr float kRoundMagic<float> = 12582912.0f;  // 1.5 * 2^23
template <>
constexpr double kRoundMagic<double> = 6755399441055744.0;  // 1.5 * 2^52

// One contiguous run of elements sharing one FL: fixed::quantize / fixed::ste_pass element-wise.
// v * 2^f is exact (power of two). Clamping to the integer bounds before rounding gives the same
// code as rounding first (rounding is monotone), and the strict STE bounds on the rounded value
// become strict bounds on the clamped code: signed |q| < qmax, unsigned 0 < q < qmax. NaN -> 0.
// kMask writes the 0/1 mask, or grad * mask when kGrad (the backward pass, fused).
template <typename T, bool kOut, bool kMask, bool kGrad>
void quantize_loop(const T* x, T* out, T* mask, const T* grad, int64_t n, T scale, T inv_scale,
                   T lo, T hi, T magic, T low_pass) {
  for (int64_t i = 0; i < n; ++i) {
    T r = x[i] * scale;
    r = r < lo ? lo : r;  // NaN stays NaN
    r = r > hi ? hi : r;
    T q = (r + magic) - magic;  // floating: magic = 0, q = r
    // Branch-free; NaN fails both comparisons (zero mask) and becomes code 0.
    if (kMask) {
      const T m = static_cast<T>(static_cast<int>(q > low_pass) & static_cast<int>(q < hi));
      mask[i] = kGrad ? grad[i] * m : m;
    }
    if (kOut) out[i] = (q == q ? q : T(0)) * inv_scale;
  }
}

template <typename T>
void quantize_run(const T* x, T* out, T* mask, const T* grad, int64_t n, int32_t fl, bool is_signed,
                  bool floating, int word_bits) {
  const fixed::Format fmt{word_bits, static_cast<int>(fl), is_signed};
  const T hi = static_cast<T>(fmt.qmax());
  const T lo = static_cast<T>(fmt.qmin());
  const T scale = static_cast<T>(std::ldexp(1.0, static_cast<int>(fl)));
  const T inv_scale = static_cast<T>(std::ldexp(1.0, -static_cast<int>(fl)));
  const T magic = floating ? T(0) : kRoundMagic<T>;
  const T low_pass = is_signed ? -hi : T(0);
  const auto run = [&](auto out_on, auto mask_on, auto grad_on) {
    quantize_loop<T, decltype(out_on)::value, decltype(mask_on)::value, decltype(grad_on)::value>(
        x, out, mask, grad, n, scale, inv_scale, lo, hi, magic, low_pass);
  };
  using On = std::true_type;
  using Off = std::false_type;
  if (grad) {
    run(Off{}, On{}, On{});
  } else if (out && mask) {
    run(On{}, On{}, Off{});
  } else if (out) {
    run(On{}, Off{}, Off{});
  } else if (mask) {
    run(Off{}, On{}, Off{});
  }
}

template <typename T>
void quantize_typed(const torch::Tensor& x, const std::vector<int32_t>& fl, bool is_signed,
                    int64_t axis, bool floating, torch::Tensor& out, torch::Tensor& mask,
                    const torch::Tensor& grad, int word_bits) {
  const T* px = x.data_ptr<T>();
  T* po = out.defined() ? out.data_ptr<T>() : nullptr;
  T* pm = mask.defined() ? mask.data_ptr<T>() : nullptr;
  const T* pg = grad.defined() ? grad.data_ptr<T>() : nullptr;
  const int64_t n = x.numel();
  const auto at = [](auto* p, int64_t off) { return p ? p + off : nullptr; };
  if (fl.size() == 1) {
    at::parallel_for(0, n, 1 << 16, [&](int64_t b, int64_t e) {
      quantize_run<T>(px + b, at(po, b), at(pm, b), at(pg, b), e - b, fl[0], is_signed, floating,
                      word_bits);
    });
    return;
  }
  const int64_t channels = x.size(axis);
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < x.dim(); ++d) inner *= x.size(d);
  const int64_t blocks = channels == 0 || inner == 0 ? 0 : n / inner;
  const int64_t grain = std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(inner, 1));
  at::parallel_for(0, blocks, grain, [&](int64_t b, int64_t e) {
    for (int64_t blk = b; blk < e; ++blk) {
      const int64_t off = blk * inner;
      quantize_run<T>(px + off, at(po, off), at(pm, off), at(pg, off), inner, fl[blk % channels],
                      is_signed, floating, word_bits);
    }
  });
}

// Checks the arguments shared by the forward and backward kernels, then runs the typed kernel.
void run_quantize(const torch::Tensor& x, const std::vector<int32_t>& fl, bool is_signed,
                  int64_t axis, bool floating, torch::Tensor out, torch::Tensor mask,
                  const torch::Tensor& grad, int word_bits) {
  TORCH_CHECK(x.device().is_cpu(), "quantize_kernel: CPU tensors only (the fused kernel is CPU)");
  TORCH_CHECK(x.is_contiguous(), "quantize_kernel: x must be contiguous");
  TORCH_CHECK(!fl.empty(), "quantize_kernel: no FL given");
  TORCH_CHECK(word_bits >= kMinWordBits && word_bits <= kMaxWordBits, "quantize: word length ",
              word_bits, " outside [", kMinWordBits, ", ", kMaxWordBits, "]");
  const int max_fl = is_signed ? word_bits - 1 : word_bits;
  for (int64_t f : fl) TORCH_CHECK(f >= 0 && f <= max_fl, "quantize: FL ", f, " out of range");
  if (fl.size() > 1) {
    TORCH_CHECK(axis >= 0 && axis < x.dim() && x.size(axis) == static_cast<int64_t>(fl.size()),
                "quantize: ", fl.size(), " FLs do not match dimension ", axis, " of ", x.sizes());
  }
  if (x.scalar_type() == torch::kFloat) {
    quantize_typed<float>(x, fl, is_signed, axis, floating, out, mask, grad, word_bits);
  } else if (x.scalar_type() == torch::kDouble) {
    quantize_typed<double>(x, fl, is_signed, axis, floating, out, mask, grad, word_bits);
  } else {
    TORCH_CHECK(false, "quantize: float32 or float64 tensors only, got ", x.scalar_type());
  }
}

// Forward writes only Q(x) and keeps x (usually alive anyway as the previous layer's output);
// backward recomputes the mask from x in the same pass that multiplies the gradient by it, so no
// mask tensor is ever stored.
class QuantizeFunction : public torch::autograd::Function<QuantizeFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const std::vector<int32_t>& fl, bool is_signed, int64_t axis,
                               bool floating, int64_t word_bits) {
    const torch::Tensor xc = x.contiguous();
    const int bits = static_cast<int>(word_bits);
    torch::Tensor out;
    if (xc.device().is_cpu()) {
      out = torch::empty_like(xc);
      quantize_kernel(xc, fl, is_signed, axis, floating, out, torch::Tensor(), bits);
    } else {  // the fused kernel reads CPU memory only
      out = quantize_aten(xc, fl, is_signed, axis, floating, bits).first;
    }
    ctx->save_for_backward({xc});
    ctx->saved_data["fl"] = std::vector<int64_t>(fl.begin(), fl.end());  // IValue lists are int64
    ctx->saved_data["is_signed"] = is_signed;
    ctx->saved_data["axis"] = axis;
    ctx->saved_data["floating"] = floating;
    ctx->saved_data["word_bits"] = word_bits;
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const torch::Tensor x = ctx->get_saved_variables()[0];
    const auto gradient = x.device().is_cpu() ? ste_gradient : ste_gradient_aten;
    const std::vector<int64_t> fl = ctx->saved_data["fl"].toIntVector();
    const torch::Tensor g =
        gradient(x, grad[0], std::vector<int32_t>(fl.begin(), fl.end()),
                 ctx->saved_data["is_signed"].toBool(), ctx->saved_data["axis"].toInt(),
                 ctx->saved_data["floating"].toBool(),
                 static_cast<int>(ctx->saved_data["word_bits"].toInt()));
    return {g, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

void quantize_kernel(const torch::Tensor& x, const std::vector<int32_t>& fl, bool is_signed,
                     int64_t axis, bool floating, torch::Tensor out, torch::Tensor mask,
                     int word_bits) {
  run_quantize(x, fl, is_signed, axis, floating, std::move(out), std::move(mask), torch::Tensor(),
               word_bits);
}

torch::Tensor ste_gradient(const torch::Tensor& x, const torch::Tensor& grad,
                           const std::vector<int32_t>& fl, bool is_signed, int64_t axis,
                           bool floating, int word_bits) {
  TORCH_CHECK(grad.sizes() == x.sizes(), "ste_gradient: gradient shape ", grad.sizes(),
              " differs from the input's ", x.sizes());
  const torch::Tensor xc = x.contiguous();
  const torch::Tensor gc = grad.to(xc.scalar_type()).contiguous();
  torch::Tensor out = torch::empty_like(xc);
  run_quantize(xc, fl, is_signed, axis, floating, torch::Tensor(), out, gc, word_bits);
  return out;
}

torch::Tensor quantize_ste(const torch::Tensor& x, const std::vector<int32_t>& fl, bool is_signed,
                           int64_t axis, bool floating, int word_bits) {
  return QuantizeFunction::apply(x, fl, is_signed, axis, floating, static_cast<int64_t>(word_bits));
}

torch::Tensor quantize_raw01(const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  torch::Tensor xd = x.detach().to(torch::kDouble).contiguous();
  torch::Tensor out = torch::empty_like(xd);
  const double* px = xd.data_ptr<double>();
  double* po = out.data_ptr<double>();
  const fixed::Format code_fmt = fixed::Format::unsigned_int(8, 0);
  at::parallel_for(0, xd.numel(), 1 << 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      po[i] = std::ldexp(static_cast<double>(fixed::quantize(255.0 * px[i], code_fmt)), -8);
    }
  });
  return out.to(x.scalar_type());
}

namespace {

// Spreads the blocks of the core's blocked sums over LibTorch's intra-op threads; the core's sums
// are the same for any split, so the FL does not depend on the thread count.
struct AtenBlocks {
  template <typename Body>
  void operator()(size_t blocks, Body&& body) const {
    at::parallel_for(0, static_cast<int64_t>(blocks), 1, [&](int64_t b, int64_t e) {
      body(static_cast<size_t>(b), static_cast<size_t>(e));
    });
  }
};

}  // namespace

int32_t activation_fl(const torch::Tensor& x, bool is_signed, fixed::Metric metric,
                      bool grid_search, int word_bits) {
  TORCH_CHECK(word_bits >= kMinWordBits && word_bits <= kMaxWordBits, "activation_fl: word length ",
              word_bits, " outside [", kMinWordBits, ", ", kMaxWordBits, "]");
  // The statistics are defined by the core's blocked sums on host memory: a tensor on another
  // device is copied to the CPU (same result, whatever the device).
  const torch::Tensor xc = x.detach().to(torch::kCPU).contiguous();
  const size_t n = static_cast<size_t>(xc.numel());
  if (uses_grid_search(grid_search, word_bits)) {
    torch::Tensor xf = xc.scalar_type() == torch::kFloat ? xc : xc.to(torch::kFloat);
    return fixed::fl_grid_search(xf.data_ptr<float>(), n, is_signed, word_bits, AtenBlocks{});
  }
  double m;
  if (xc.scalar_type() == torch::kFloat) {
    m = fixed::compute_metric(xc.data_ptr<float>(), n, metric, AtenBlocks{});
  } else {
    TORCH_CHECK(xc.scalar_type() == torch::kDouble, "activation_fl: float32/float64 only");
    m = fixed::compute_metric(xc.data_ptr<double>(), n, metric, AtenBlocks{});
  }
  if (std::isnan(m)) return is_signed ? 7 : 8;  // metric of a NaN tensor: treat like m = 0
  return fixed::fl_from_metric(m, metric, is_signed);
}

std::vector<int32_t> weight_fls(const torch::Tensor& w, bool per_channel, fixed::Metric metric,
                                bool grid_search, int word_bits) {
  const torch::Tensor wc = w.detach().to(torch::kCPU, torch::kFloat).contiguous();
  if (uses_grid_search(grid_search, word_bits) || !per_channel) {
    return {activation_fl(wc, true, metric, grid_search, word_bits)};
  }
  const int64_t out = wc.size(0);
  const size_t inner = static_cast<size_t>(out ? wc.numel() / out : 0);
  std::vector<int32_t> fls(static_cast<size_t>(out));
  const float* p = wc.data_ptr<float>();
  for (int64_t o = 0; o < out; ++o) {
    const double m = fixed::compute_metric(p + o * inner, inner, metric);
    fls[static_cast<size_t>(o)] = std::isnan(m) ? 7 : fixed::fl_from_metric(m, metric, true);
  }
  return fls;
}

std::vector<int32_t> per_output(const std::vector<int32_t>& fl, int64_t channels) {
  if (fl.size() == static_cast<size_t>(channels)) return fl;
  TORCH_CHECK(fl.size() == 1, "per_output: ", fl.size(), " FLs for ", channels, " channels");
  return std::vector<int32_t>(static_cast<size_t>(channels), fl[0]);
}

}  // namespace f8net::qat
