// Random, warmed-up fixed-point models for the parity tests (the QAT exact-graph parity and the
// runtime export parity): one case = family, input shape, width and a quantization variant.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>

#include "f8net/qat/models.h"

namespace f8net::testing {

struct ModelCase {
  std::string arch;
  int64_t channels;
  int64_t size;
  double width;
  std::string variant;  // "", "per_channel", "grid_search", "normalize", "quant_avgpool",
                        // "wXaY" (X-bit weights, Y-bit activations), "wXaY-all" (also the
                        // first and last layers)
};

// A fixed-mode model of the case, evaluated with 32-bit bias codes as the export is.
inline qat::ModelOptions fixed_model_options(const ModelCase& c) {
  qat::ModelOptions o;
  o.arch = c.arch;
  o.in_channels = c.channels;
  o.input_size = c.size;
  o.width_mult = c.width;
  o.quant.mode = qat::Mode::kFixed;
  o.quant.per_channel = c.variant == "per_channel";
  o.quant.grid_search = c.variant == "grid_search";
  o.quant.normalize_input = c.variant == "normalize";
  o.quant.quant_avgpool = c.variant == "quant_avgpool";
  o.quant.quant_bias = true;
  if (c.variant.size() >= 4 && c.variant[0] == 'w' && c.variant[2] == 'a') {
    o.quant.weight_bits = c.variant[1] - '0';
    o.quant.activation_bits = c.variant[3] - '0';
    o.quant.first_last_8bit = c.variant.find("-all") == std::string::npos;
  }
  return o;
}

// How far from the initialization the random parameters go. BN weights up to 8 spread the
// per-channel weight FLs apart; a random FC bias exercises the classifier's bias codes.
struct Randomization {
  double bn_weight_max = 1.5;
  bool fc_bias = false;
  double fc_weight_std = 0.0;  // > 0: FC weights N(0, std) (narrow FC weights round 0.01 to 0)
};

// The case's model with random BN affine parameters and clipping levels (alpha in [4, 12]), so
// folding and clipping are exercised, after three training-mode forwards on images(4) that warm
// up running statistics and FL averages; returned in evaluation mode.
inline qat::Net warm_random_model(const ModelCase& c, const Randomization& r,
                                  const std::function<torch::Tensor(int64_t)>& images) {
  qat::Net net = qat::make_model(fixed_model_options(c));
  torch::NoGradGuard no_grad;
  for (auto& p : net->named_parameters()) {
    const std::string& k = p.key();
    const auto ends = [&](const std::string& s) {
      return k.size() >= s.size() && k.compare(k.size() - s.size(), s.size(), s) == 0;
    };
    if (ends("bn_weight")) p.value().uniform_(0.5, r.bn_weight_max);
    if (ends("bn_bias")) p.value().uniform_(-0.3, 0.3);
    if (ends("alpha")) p.value().uniform_(4.0, 12.0);
    if (r.fc_bias && k == "fc.bias") p.value().uniform_(-0.1, 0.1);
    if (r.fc_weight_std > 0 && k == "fc.weight") p.value().normal_(0.0, r.fc_weight_std);
  }
  net->train();
  for (int i = 0; i < 3; ++i) net->forward(images(4));
  net->eval();
  return net;
}

}  // namespace f8net::testing
