// BN folding and the weight/bias codes of the quantized layers (layer-codes.h).
#include "layer-codes.h"

#include <cmath>

#include "f8net/fixed.h"

namespace f8net::qat::detail {

torch::Tensor scalar_one() { return torch::ones({1}); }

// Fused weight and bias of §8: Wf = gamma/sd * W * s_self/s_next, bf = (beta - gamma mu/sd)/s_next.
std::pair<torch::Tensor, torch::Tensor> fold(const torch::Tensor& w, const torch::Tensor& gamma,
                                             const torch::Tensor& beta, const torch::Tensor& mu,
                                             const torch::Tensor& sd, const torch::Tensor& s_self,
                                             const torch::Tensor& s_next) {
  const torch::Tensor g = gamma / sd;
  torch::Tensor wf = w * (g * (s_self / s_next)).view({-1, 1, 1, 1});
  torch::Tensor bf = (beta - g * mu) / s_next;
  return {wf, bf};
}

// 32-bit bias codes at FL input_fl + wfl[o] (§9, TV12), computed in double.
std::vector<int32_t> bias_codes(const torch::Tensor& b, const std::vector<int32_t>& wfl,
                                int input_fl) {
  const torch::Tensor bd = b.detach().to(torch::kDouble).contiguous();
  const double* p = bd.data_ptr<double>();
  std::vector<int32_t> codes(static_cast<size_t>(bd.numel()));
  for (size_t o = 0; o < codes.size(); ++o) {
    codes[o] = fixed::quantize_bias(p[o], input_fl + static_cast<int>(wfl[o]));
  }
  return codes;
}

// The quantized bias of the quant_bias evaluation: codes * 2^-(fx + wfl[o]) in b's dtype.
torch::Tensor quantized_bias(const torch::Tensor& b, const std::vector<int32_t>& wfl,
                             int input_fl) {
  const std::vector<int32_t> codes = bias_codes(b, wfl, input_fl);
  torch::Tensor out = torch::empty({static_cast<int64_t>(codes.size())}, torch::kDouble);
  double* p = out.data_ptr<double>();
  for (size_t o = 0; o < codes.size(); ++o) {
    p[o] = std::ldexp(static_cast<double>(codes[o]), -(input_fl + static_cast<int>(wfl[o])));
  }
  return out.to(b.scalar_type());
}

// Signed weight codes of w (output channels on dim 0) at per-output FLs, word_bits wide
// (+-(2^(n-1)-1), stored in int8).
std::vector<int8_t> weight_codes(const torch::Tensor& w, const std::vector<int32_t>& wfl,
                                 int word_bits) {
  const torch::Tensor wd = w.detach().to(torch::kDouble).contiguous();
  const double* p = wd.data_ptr<double>();
  const int64_t out = wd.size(0);
  const int64_t inner = out ? wd.numel() / out : 0;
  std::vector<int8_t> codes(static_cast<size_t>(wd.numel()));
  for (int64_t o = 0; o < out; ++o) {
    const fixed::Format fmt =
        fixed::Format::signed_int(word_bits, static_cast<int>(wfl[static_cast<size_t>(o)]));
    for (int64_t i = 0; i < inner; ++i) {
      codes[static_cast<size_t>(o * inner + i)] =
          static_cast<int8_t>(fixed::quantize(p[o * inner + i], fmt));
    }
  }
  return codes;
}

LayerCodes layer_codes(const torch::Tensor& w, const torch::Tensor& b,
                       const std::vector<int32_t>& wfl, int input_fl, bool input_signed,
                       int weight_bits, int input_bits) {
  LayerCodes codes;
  codes.input_fl = input_fl;
  codes.input_signed = input_signed;
  codes.weight_bits = weight_bits;
  codes.input_bits = input_bits;
  codes.weight = weight_codes(w, wfl, weight_bits);
  codes.weight_shape = w.sizes().vec();
  codes.bias = bias_codes(b, wfl, input_fl);
  codes.weight_fl = wfl;
  return codes;
}

// fp_pact's weight FL: the configured weight format's clamp(rne(initial_weight_fl), 0, n - 1).
std::vector<int32_t> floating_weight_fl(const QuantOptions& q, int word_bits) {
  return {fixed::ema_fl_used(q.initial_weight_fl, /*is_signed=*/true, word_bits)};
}

}  // namespace f8net::qat::detail
