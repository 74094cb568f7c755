// exact_eval / exact_graph: one exact forward of the model through an ExactContext.
#include "f8net/qat/export.h"

#include <utility>

namespace f8net::qat {

ExactResult exact_eval_with_graph(NetImpl& net, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  ExactContext ctx;
  ExactResult r;
  r.logits = net.exact_forward(ctx, x);
  r.fc_input = ctx.fc_input;
  r.graph = std::move(ctx.graph);
  return r;
}

torch::Tensor exact_eval(NetImpl& net, const torch::Tensor& x) {
  return exact_eval_with_graph(net, x).logits;
}

ExactGraph exact_graph(NetImpl& net) {
  const ModelOptions& o = net.options();
  return exact_eval_with_graph(net, torch::zeros({1, o.in_channels, o.input_size, o.input_size}))
      .graph;
}

}  // namespace f8net::qat
