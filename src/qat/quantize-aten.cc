// The quantizer written with ATen operations only (quantize.h: quantize_aten, ste_gradient_aten):
// the path for tensors on any device the fused CPU kernel cannot read. Each step mirrors the
// fused kernel's element rule so the results are the same bits: r = x * 2^f (exact), clamp (NaN
// stays NaN), round half to even unless floating, "+ 0" to turn -0 into +0 as the kernel's
// (r + magic) - magic does, the strict STE bounds on the rounded value, NaN -> 0.
#include <cmath>

#include "f8net/qat/quantize.h"

namespace f8net::qat {
namespace {

struct AtenQuantized {
  torch::Tensor q;     // the rounded, clamped codes (x-units times 2^f)
  torch::Tensor mask;  // 0/1 in x's dtype
  torch::Tensor inv_scale;
};

AtenQuantized quantize_codes(const torch::Tensor& x, const std::vector<int32_t>& fl, bool is_signed,
                             int64_t axis, bool floating, int word_bits) {
  TORCH_CHECK(!fl.empty(), "quantize_aten: no FL given");
  TORCH_CHECK(x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble,
              "quantize: float32 or float64 tensors only, got ", x.scalar_type());
  TORCH_CHECK(word_bits >= kMinWordBits && word_bits <= kMaxWordBits, "quantize: word length ",
              word_bits, " outside [", kMinWordBits, ", ", kMaxWordBits, "]");
  const int max_fl = is_signed ? word_bits - 1 : word_bits;
  std::vector<double> scale, inv;
  for (int64_t f : fl) {
    TORCH_CHECK(f >= 0 && f <= max_fl, "quantize: FL ", f, " out of range");
    scale.push_back(std::ldexp(1.0, static_cast<int>(f)));
    inv.push_back(std::ldexp(1.0, -static_cast<int>(f)));
  }
  const auto opts = torch::TensorOptions().dtype(x.scalar_type()).device(x.device());
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  if (fl.size() > 1) {
    TORCH_CHECK(axis >= 0 && axis < x.dim() && x.size(axis) == static_cast<int64_t>(fl.size()),
                "quantize: ", fl.size(), " FLs do not match dimension ", axis, " of ", x.sizes());
    shape[static_cast<size_t>(axis)] = static_cast<int64_t>(fl.size());
  }
  const auto as_tensor = [&](const std::vector<double>& v) {
    return torch::tensor(v, torch::kDouble)
        .to(opts)
        .view(fl.size() > 1 ? shape : std::vector<int64_t>{});
  };
  const fixed::Format fmt{word_bits, static_cast<int>(fl[0]), is_signed};
  const double hi = fmt.qmax(), lo = fmt.qmin();
  torch::Tensor r = torch::clamp(x * as_tensor(scale), lo, hi);
  torch::Tensor q = (floating ? r : torch::round(r)) + 0.0;
  const torch::Tensor mask = torch::logical_and(q > (is_signed ? -hi : 0.0), q < hi).to(opts);
  return {q, mask, as_tensor(inv)};
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> quantize_aten(const torch::Tensor& x,
                                                      const std::vector<int32_t>& fl,
                                                      bool is_signed, int64_t axis, bool floating,
                                                      int word_bits) {
  const AtenQuantized a = quantize_codes(x, fl, is_signed, axis, floating, word_bits);
  const torch::Tensor out =
      torch::where(torch::isnan(a.q), torch::zeros_like(a.q), a.q) * a.inv_scale;
  return {out, a.mask};
}

torch::Tensor ste_gradient_aten(const torch::Tensor& x, const torch::Tensor& grad,
                                const std::vector<int32_t>& fl, bool is_signed, int64_t axis,
                                bool floating, int word_bits) {
  TORCH_CHECK(grad.sizes() == x.sizes(), "ste_gradient: gradient shape ", grad.sizes(),
              " differs from the input's ", x.sizes());
  return grad.to(x.scalar_type()) *
         quantize_codes(x, fl, is_signed, axis, floating, word_bits).mask;
}

}  // namespace f8net::qat
