// QLinear and Block (F8NET.md §10-§12): the classifier with its FC rescaling and the residual
// block. QConvBN is in modules.cc.
#include <cmath>

#include "f8net/qat/dist-stats.h"
#include "f8net/qat/modules.h"
#include "f8net/qat/quantize.h"
#include "layer-codes.h"

namespace f8net::qat {

using detail::floating_weight_fl;
using detail::layer_codes;
using detail::quantized_bias;
using detail::scalar_one;

// ---------------------------------------------------------------------------------------------
// QLinearImpl

QLinearImpl::QLinearImpl(const QLinearOptions& options)
    : QLayerImpl(options.quant(), InputKind::kUnsigned), options_(options) {
  TORCH_CHECK(options.in_features() > 0 && options.out_features() > 0, "QLinear: bad shape");
  // Reference init (§17): N(0, 0.01), bias 0.
  weight = register_parameter("weight",
                              torch::randn({options.out_features(), options.in_features()}) * 0.01);
  bias = register_parameter("bias", torch::zeros({options.out_features()}));
}

QLinearImpl::Quantized QLinearImpl::quantize_weight(double pool_comp) const {
  const bool floating = quant_.mode == Mode::kFpPact;
  const torch::Tensor w = pool_comp != 1.0 ? weight * pool_comp : weight;
  Quantized q;
  q.fl = floating
             ? floating_weight_fl(quant_, weight_bits_)
             : weight_fls(w, quant_.per_channel, quant_.metric, quant_.grid_search, weight_bits_);
  q.wq = quantize_ste(w, q.fl, /*is_signed=*/true, 0, floating, weight_bits_);
  if (quant_.rescale_forward) {
    torch::NoGradGuard no_grad;
    q.ws = (1.0 / std::sqrt(static_cast<double>(options_.out_features()))) / q.wq.detach().std();
  } else {
    q.ws = scalar_one();
  }
  return q;
}

torch::Tensor QLinearImpl::forward(const torch::Tensor& x) {
  if (quant_.mode == Mode::kFloat) {
    // floating_wo_clip keeps the rescaling, ws from the unquantized weight (detached).
    const torch::Tensor xin = float_relu(x, quant_);
    if (!quant_.rescale_forward) return torch::linear(xin, weight, bias);
    torch::Tensor ws;
    {
      torch::NoGradGuard no_grad;
      ws = (1.0 / std::sqrt(static_cast<double>(options_.out_features()))) / weight.detach().std();
    }
    return torch::linear(xin, weight * ws, bias);
  }
  const torch::Tensor xq = quantize_input(x);
  const Quantized q = quantize_weight(1.0);
  const torch::Tensor s = fix_scale();
  if (is_training()) return torch::linear(xq, q.wq) * (q.ws * s) + bias;
  torch::Tensor b = bias / (s * q.ws);
  if (quant_.quant_bias && quant_.mode == Mode::kFixed) {
    b = quantized_bias(b, per_output(q.fl, options_.out_features()), input_fl_used());
  }
  return torch::linear(xq, q.wq, b);
}

double QLinearImpl::logit_scale() const {
  if (quant_.mode == Mode::kFloat) return 1.0;
  torch::NoGradGuard no_grad;
  const Quantized q = quantize_weight(1.0);
  return (fix_scale() * q.ws).item<double>();
}

LayerCodes QLinearImpl::integer_codes(double pool_comp) const {
  TORCH_CHECK(quant_.mode == Mode::kFixed, "integer codes need a fixed-mode model");
  torch::NoGradGuard no_grad;
  const Quantized q = quantize_weight(pool_comp);
  // ws of the evaluation forward (uncompensated weights): the compensated product
  // Q(aW) (sum / 2^k) approximates Wq mean, so the bias keeps the forward's scale.
  const torch::Tensor ws = pool_comp != 1.0 ? quantize_weight(1.0).ws : q.ws;
  const torch::Tensor b = bias / (fix_scale() * ws);
  const std::vector<int32_t> fl = per_output(q.fl, options_.out_features());
  const torch::Tensor w = pool_comp != 1.0 ? weight * pool_comp : weight;
  return layer_codes(w, b, fl, input_fl_used(), /*input_signed=*/false, weight_bits_,
                     activation_bits());
}

ExactTensor QLinearImpl::exact(ExactContext& ctx, const ExactTensor& in, double pool_comp,
                               const std::string& name) const {
  const LayerCodes codes = integer_codes(pool_comp);
  const ExactTensor xin =
      ctx.requantize(in, codes.input_fl, false, name + ".input", codes.input_bits);
  return ctx.fully_connected(xin, codes, name);
}

// ---------------------------------------------------------------------------------------------
// BlockImpl

BlockImpl::BlockImpl(std::vector<QConvBN> convs, QConvBN shortcut, const BlockOptions& options)
    : convs_(std::move(convs)), shortcut_(std::move(shortcut)), options_(options) {
  TORCH_CHECK(!convs_.empty(), "Block: needs at least one conv");
  TORCH_CHECK(options_.residual() || shortcut_.is_empty(), "Block: a shortcut needs residual");
  torch::nn::ModuleList list;
  for (const QConvBN& c : convs_) list->push_back(c);
  register_module("convs", list);
  if (!shortcut_.is_empty()) register_module("shortcut", shortcut_);
}

void BlockImpl::set_following(QLayerImpl* next) {
  for (size_t i = 0; i + 1 < convs_.size(); ++i) convs_[i]->set_following(convs_[i + 1].get());
  convs_.back()->set_following(next);
  if (!shortcut_.is_empty()) shortcut_->set_following(next);
}

void BlockImpl::set_master(QLayerImpl* master) {
  convs_.front()->set_master(master);
  if (!shortcut_.is_empty()) shortcut_->set_master(master);
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor t = x;
  for (QConvBN& c : convs_) t = c->forward(t);
  if (options_.residual()) t = t + (shortcut_.is_empty() ? x : shortcut_->forward(x));
  if (options_.relu_after()) t = float_relu(t, convs_.front()->quant());
  return t;
}

ExactTensor BlockImpl::exact(ExactContext& ctx, const ExactTensor& in, double pool_comp,
                             const std::string& name) const {
  TORCH_CHECK(pool_comp == 1.0 || !options_.residual(), name,
              ": pool compensation never goes into one branch of a residual sum (§13.1)");
  ExactTensor t = in;
  for (size_t i = 0; i < convs_.size(); ++i) {
    t = convs_[i]->exact(ctx, t, i + 1 == convs_.size() ? pool_comp : 1.0,
                         name + ".convs." + std::to_string(i));
  }
  if (options_.residual()) {
    const ExactTensor skip =
        shortcut_.is_empty() ? in : shortcut_->exact(ctx, in, 1.0, name + ".shortcut");
    t = ctx.add(t, skip, name + ".add");
  }
  if (options_.relu_after()) t = ctx.relu(t, name + ".relu");
  return t;
}

}  // namespace f8net::qat
