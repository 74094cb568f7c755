// Exact evaluation (F8NET.md decision 3): the evaluation forward of a fixed-mode model computed
// in float64 on the integer runtime's ops (32-bit bias codes on, §13.1 pool compensation, int32
// saturation where the runtime saturates), and the runtime graph recorded by that same
// computation (exact.h). logits == int32_logit * 2^-FL, bit for bit.
#pragma once

#include <torch/torch.h>

#include "f8net/qat/exact.h"
#include "f8net/qat/models.h"

namespace f8net::qat {

struct ExactResult {
  torch::Tensor logits;    // N x num_classes, float64, value = code * 2^-FL[class]
  torch::Tensor fc_input;  // N x features, float64: the global sum pool's output (sum * 2^-k)
  ExactGraph graph;
};

// The exact evaluation of x (N x C x H x W images, as forward() takes them). Uses evaluation
// state (running statistics, stored FLs) whatever the train/eval flag. Fixed mode only.
ExactResult exact_eval_with_graph(NetImpl& net, const torch::Tensor& x);
torch::Tensor exact_eval(NetImpl& net, const torch::Tensor& x);

// The recorded graph for inputs of the model's configured size (in_channels x input_size^2).
ExactGraph exact_graph(NetImpl& net);

}  // namespace f8net::qat
