// The codes a quantized layer hands to the exact evaluation and the export (internal to f8net_qat;
// modules.cc and linear-block.cc): the BN fold of F8NET.md §8, weight and bias codes (§9).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "f8net/qat/exact.h"
#include "f8net/qat/quant-options.h"

namespace f8net::qat::detail {

// A one-element tensor holding 1: the neutral scale where a layer has no neighbour.
torch::Tensor scalar_one();

// Fused weight and bias of §8: Wf = gamma/sd * W * s_self/s_next, bf = (beta - gamma mu/sd)/s_next.
std::pair<torch::Tensor, torch::Tensor> fold(const torch::Tensor& w, const torch::Tensor& gamma,
                                             const torch::Tensor& beta, const torch::Tensor& mu,
                                             const torch::Tensor& sd, const torch::Tensor& s_self,
                                             const torch::Tensor& s_next);

// 32-bit bias codes at FL input_fl + wfl[o] (§9, TV12), computed in double.
std::vector<int32_t> bias_codes(const torch::Tensor& b, const std::vector<int32_t>& wfl,
                                int input_fl);

// The quantized bias of the quant_bias evaluation: codes * 2^-(fx + wfl[o]) in b's dtype.
torch::Tensor quantized_bias(const torch::Tensor& b, const std::vector<int32_t>& wfl, int input_fl);

// Signed weight codes of w (output channels on dim 0) at per-output FLs, word_bits wide
// (+-(2^(n-1)-1), stored in int8).
std::vector<int8_t> weight_codes(const torch::Tensor& w, const std::vector<int32_t>& wfl,
                                 int word_bits);

// Everything a conv or FC layer hands to the exact evaluation and the export: the weight codes of
// w at the per-output FLs wfl, the 32-bit bias codes of b at input_fl + wfl[o], and the input's
// format. One place, so conv and FC cannot drift apart.
LayerCodes layer_codes(const torch::Tensor& w, const torch::Tensor& b,
                       const std::vector<int32_t>& wfl, int input_fl, bool input_signed,
                       int weight_bits, int input_bits);

// fp_pact's weight FL: the configured weight format's clamp(rne(initial_weight_fl), 0, n - 1).
std::vector<int32_t> floating_weight_fl(const QuantOptions& q, int word_bits);

}  // namespace f8net::qat::detail
