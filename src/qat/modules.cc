// QConvBN (F8NET.md §6-§9; QLinear and Block are in linear-block.cc). Training forward of QConvBN
// is the double forward of §8.1 (batch statistics from conv(s_self * xq, W), running variance
// unbiased, folding with the biased one); evaluation folds the running statistics (§8.2). Weight
// and bias codes for the exact evaluation come from the same fold as the evaluation forward.
#include "f8net/qat/modules.h"

#include <cmath>

#include "f8net/qat/dist-stats.h"
#include "f8net/qat/quantize.h"
#include "layer-codes.h"

namespace f8net::qat {

using detail::floating_weight_fl;
using detail::fold;
using detail::layer_codes;
using detail::quantized_bias;
using detail::scalar_one;

namespace {

// Per-channel mean and BIASED variance of an N x C x H x W tensor over (N, H, W), with gradient
// (§8.1: gradients flow through the batch statistics). Forward uses ATen's batch-norm statistics
// kernel; backward is one fused pass: dL/dy = g_mean / n + 2 g_var (y - mean) / n.
class BatchStats : public torch::autograd::Function<BatchStats> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                const torch::Tensor& y) {
    auto stats = at::batch_norm_update_stats(y, {}, {}, 0.0);
    torch::Tensor mean = std::get<0>(stats);
    torch::Tensor var = std::get<1>(stats);
    ctx->save_for_backward({y, mean});
    return {mean, var};
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& y = saved[0];
    const torch::Tensor& mean = saved[1];
    const int64_t c = y.size(1);
    const double n = static_cast<double>(y.numel() / c);
    const torch::Tensor g_mean = grad[0].defined() ? grad[0] : torch::zeros_like(mean);
    const torch::Tensor g_var = grad[1].defined() ? grad[1] : torch::zeros_like(mean);
    const torch::Tensor b = g_var * (2.0 / n);
    const torch::Tensor a = g_mean / n - b * mean;
    return {torch::addcmul(a.view({1, c, 1, 1}), y, b.view({1, c, 1, 1}))};
  }
};

}  // namespace

std::pair<torch::Tensor, torch::Tensor> batch_stats(const torch::Tensor& y) {
  TORCH_CHECK(y.dim() == 4, "batch_stats: N x C x H x W input expected");
  const auto stats = BatchStats::apply(y);
  return {stats[0], stats[1]};
}

torch::Tensor float_relu(const torch::Tensor& x, const QuantOptions& quant) {
  return quant.relu6 ? torch::clamp(x, 0.0, 6.0) : torch::relu(x);
}

// ---------------------------------------------------------------------------------------------
// QLayerImpl

QLayerImpl::QLayerImpl(const QuantOptions& quant, InputKind kind) : quant_(quant), kind_(kind) {
  alpha = register_parameter("alpha", torch::full({1}, quant.alpha_init));
  input_fraclen = register_buffer("input_fraclen", torch::full({1}, quant.initial_input_fl));
}

const torch::Tensor& QLayerImpl::effective_alpha() const {
  return master_ ? master_->effective_alpha() : alpha;
}

void QLayerImpl::set_word_bits(int weight_bits, int activation_bits) {
  TORCH_CHECK(weight_bits >= kMinWordBits && weight_bits <= kMaxWordBits &&
                  activation_bits >= kMinWordBits && activation_bits <= kMaxWordBits,
              "word lengths must be in [", kMinWordBits, ", ", kMaxWordBits, "]");
  weight_bits_ = weight_bits;
  activation_bits_ = activation_bits;
}

int QLayerImpl::activation_bits() const {
  if (kind_ == InputKind::kRaw01) return 8;
  return master_ ? master_->activation_bits() : activation_bits_;
}

int QLayerImpl::input_fl_used() const {
  if (kind_ == InputKind::kRaw01) return 8;
  if (quant_.mode == Mode::kFpPact) {
    return fixed::ema_fl_used(quant_.initial_input_fl, input_signed(), activation_bits());
  }
  return fixed::ema_fl_used(input_fraclen.item<float>(), input_signed(), activation_bits());
}

torch::Tensor QLayerImpl::fix_scale() const {
  if (quant_.mode == Mode::kFloat || quant_.no_clipping || kind_ == InputKind::kRaw01) {
    return scalar_one();
  }
  const double factor = fixed::fix_scaling(1.0, input_fl_used(), input_signed(), activation_bits());
  return effective_alpha().abs() * factor;
}

double QLayerImpl::fix_scale_value() const {
  torch::NoGradGuard no_grad;
  return fix_scale().item<double>();
}

torch::Tensor QLayerImpl::following_scale() const {
  return following_ ? following_->fix_scale() : scalar_one();
}

torch::Tensor QLayerImpl::quantize_input(const torch::Tensor& x) {
  const bool sg = input_signed();
  const int bits = activation_bits();
  switch (quant_.mode) {
    case Mode::kFloat:
      if (kind_ == InputKind::kRaw01) return quantize_raw01(x);
      return kind_ == InputKind::kUnsigned ? float_relu(x, quant_) : x;
    case Mode::kFpPact:
      if (kind_ == InputKind::kRaw01) return quantize_raw01(x);
      return quantize_ste(x, {input_fl_used()}, sg, 1, /*floating=*/true, bits);
    case Mode::kFixed:
      break;
  }
  if (kind_ == InputKind::kRaw01) return quantize_raw01(x);
  if (!is_training()) return quantize_ste(x, {input_fl_used()}, sg, 1, false, bits);
  // dist.sync_stats: the FL of the global batch of a data-parallel step (dist-stats.h).
  DistGroup* const sync = stats_sync_group();
  const int32_t fb =
      sync ? global_activation_fl(*sync, x, sg, quant_.metric, quant_.grid_search, bits)
           : activation_fl(x, sg, quant_.metric, quant_.grid_search, bits);
  last_batch_fl_ = fb;
  {
    torch::NoGradGuard no_grad;  // the stored FL is a buffer in any dtype; the EMA runs in float32
    input_fraclen.fill_(fixed::ema_update(input_fraclen.item<float>(), fb, quant_.fl_momentum));
  }
  return quantize_ste(x, {fb}, sg, 1, false, bits);
}

// ---------------------------------------------------------------------------------------------
// QConvBNImpl

QConvBNImpl::QConvBNImpl(const QConvBNOptions& options)
    : QLayerImpl(options.quant(), options.input_kind()), options_(options) {
  const int64_t in = options.in_channels(), out = options.out_channels(), k = options.kernel_size();
  TORCH_CHECK(in > 0 && out > 0 && k > 0 && options.stride() > 0, "QConvBN: bad shape");
  TORCH_CHECK(!options.depthwise() || in == out, "QConvBN: depthwise needs in == out channels");
  const int64_t in_per_group = options.depthwise() ? 1 : in;
  // Reference init (§17): N(0, sqrt(2 / (k k C_out))), gamma 1, beta 0.
  weight = register_parameter("weight", torch::randn({out, in_per_group, k, k}) *
                                            std::sqrt(2.0 / static_cast<double>(k * k * out)));
  bn_weight = register_parameter("bn_weight", torch::ones({out}));
  bn_bias = register_parameter("bn_bias", torch::zeros({out}));
  running_mean = register_buffer("running_mean", torch::zeros({out}));
  running_var = register_buffer("running_var", torch::ones({out}));
}

torch::Tensor QConvBNImpl::forward_float(const torch::Tensor& x) {
  const torch::Tensor xin = quantize_input(x);  // float mode: ReLU, or rne(255x)/256 for raw01
  const torch::Tensor y = torch::conv2d(xin, weight, {}, options_.stride(), options_.padding(),
                                        options_.dilation(), groups());
  const double m = is_training() && calib_batches_ >= 0
                       ? 1.0 / static_cast<double>(++calib_batches_)
                       : kBnMomentum;  // calibration: cumulative average
  if (DistGroup* const sync = is_training() ? stats_sync_group() : nullptr) {
    // dist.sync_stats: torch::batch_norm with the global batch's statistics (dist-stats.h).
    const GlobalBatchStats g = global_batch_stats(*sync, y);
    {
      torch::NoGradGuard no_grad;
      const double n = static_cast<double>(g.count);
      running_mean.mul_(1.0 - m).add_(g.mean.detach() * m);
      running_var.mul_(1.0 - m).add_(g.var.detach() * (m * n / std::max(n - 1.0, 1.0)));
    }
    const std::vector<int64_t> shape{1, y.size(1), 1, 1};
    return (y - g.mean.view(shape)) * (bn_weight / torch::sqrt(g.var + kBnEps)).view(shape) +
           bn_bias.view(shape);
  }
  return torch::batch_norm(y, bn_weight, bn_bias, running_mean, running_var, is_training(), m,
                           kBnEps, /*cudnn_enabled=*/false);
}

torch::Tensor QConvBNImpl::forward(const torch::Tensor& x) {
  if (quant_.mode == Mode::kFloat) return forward_float(x);
  const bool floating = quant_.mode == Mode::kFpPact;
  const torch::Tensor xq = quantize_input(x);
  const torch::Tensor s_self = fix_scale();
  const torch::Tensor s_next = following_scale();
  torch::Tensor mu, sd;
  if (is_training()) {
    // y0 = conv(s_self * xq, W) = s_self * conv(xq, W): its statistics are s * mean, s^2 * var.
    const torch::Tensor y0 = torch::conv2d(xq, weight, {}, options_.stride(), options_.padding(),
                                           options_.dilation(), groups());
    // dist.sync_stats: the statistics of the global batch of a data-parallel step.
    DistGroup* const sync = stats_sync_group();
    torch::Tensor mean0, var0;
    int64_t n = y0.numel() / y0.size(1);
    if (sync) {
      const GlobalBatchStats g = global_batch_stats(*sync, y0);
      mean0 = g.mean;
      var0 = g.var;
      n = g.count;
    } else {
      std::tie(mean0, var0) = batch_stats(y0);
    }
    mu = mean0 * s_self;
    const torch::Tensor var_b = var0 * (s_self * s_self);
    TORCH_CHECK(n > 1, "QConvBN: batch statistics need more than one value per channel");
    {
      torch::NoGradGuard no_grad;
      const double m =
          calib_batches_ >= 0 ? 1.0 / static_cast<double>(++calib_batches_) : kBnMomentum;
      running_mean.mul_(1.0 - m).add_(mu.detach() * m);
      running_var.mul_(1.0 - m).add_(var_b.detach() *
                                     (m * static_cast<double>(n) / static_cast<double>(n - 1)));
    }
    sd = torch::sqrt(var_b + kBnEps);
  } else {
    mu = running_mean;
    sd = torch::sqrt(running_var + kBnEps);
  }
  auto [wf, bf] = fold(weight, bn_weight, bn_bias, mu, sd, s_self, s_next);
  last_weight_fl_ = floating ? floating_weight_fl(quant_, weight_bits_)
                             : weight_fls(wf, quant_.per_channel, quant_.metric, quant_.grid_search,
                                          weight_bits_);
  const torch::Tensor wq =
      quantize_ste(wf, last_weight_fl_, /*is_signed=*/true, 0, floating, weight_bits_);
  if (!is_training() && quant_.quant_bias && !floating) {
    bf = quantized_bias(bf, per_output(last_weight_fl_, options_.out_channels()), input_fl_used());
  }
  return torch::conv2d(xq, wq, bf, options_.stride(), options_.padding(), options_.dilation(),
                       groups());
}

void QConvBNImpl::begin_bn_calibration() {
  torch::NoGradGuard no_grad;
  running_mean.zero_();
  running_var.fill_(1.0);
  calib_batches_ = 0;
}

std::pair<torch::Tensor, torch::Tensor> QConvBNImpl::fused_eval(double pool_comp) const {
  torch::NoGradGuard no_grad;
  const torch::Tensor sd = torch::sqrt(running_var + kBnEps);
  auto [wf, bf] =
      fold(weight, bn_weight, bn_bias, running_mean, sd, fix_scale(), following_scale());
  if (pool_comp != 1.0) {
    wf = wf * pool_comp;
    bf = bf * pool_comp;
  }
  return {wf, bf};
}

LayerCodes QConvBNImpl::integer_codes(double pool_comp) const {
  TORCH_CHECK(quant_.mode == Mode::kFixed, "integer codes need a fixed-mode model");
  auto [wf, bf] = fused_eval(pool_comp);
  const std::vector<int32_t> fl = per_output(
      weight_fls(wf, quant_.per_channel, quant_.metric, quant_.grid_search, weight_bits_),
      options_.out_channels());
  return layer_codes(wf, bf, fl, input_fl_used(), input_signed(), weight_bits_, activation_bits());
}

ExactTensor QConvBNImpl::exact(ExactContext& ctx, const ExactTensor& in, double pool_comp,
                               const std::string& name) const {
  const LayerCodes codes = integer_codes(pool_comp);
  ExactTensor xin = in;
  const ExactValue& src = ctx.node(in.node);
  if (!src.codes) {
    TORCH_CHECK(input_kind() != InputKind::kRaw01, name, ": raw01 layer needs the input codes");
    xin = ctx.requantize(in, codes.input_fl, codes.input_signed, name + ".input", codes.input_bits);
  } else {
    TORCH_CHECK(src.fl.at(0) == codes.input_fl && src.is_signed == codes.input_signed &&
                    src.word_bits == codes.input_bits,
                name, ": input codes have FL ", src.fl.at(0), " (", src.word_bits,
                " bits), the layer expects ", codes.input_fl, " (", codes.input_bits, " bits)");
  }
  return ctx.conv2d(xin, codes, static_cast<int>(options_.stride()),
                    static_cast<int>(options_.padding()), static_cast<int>(options_.dilation()),
                    static_cast<int>(groups()), name);
}

}  // namespace f8net::qat
