// QConvBN, QLinear and Block (F8NET.md §6-§12). Training forward of QConvBN is the double forward
// of §8.1 (batch statistics from conv(s_self * xq, W), running variance unbiased, folding with the
// biased one); evaluation folds the running statistics (§8.2). Weight and bias codes for the exact
// evaluation come from the same fold as the evaluation forward.
#include "f8net/qat/modules.h"

#include <cmath>

#include "f8net/qat/dist-stats.h"
#include "f8net/qat/quantize.h"

namespace f8net::qat {
namespace {

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
std::vector<int32_t> bias_codes(const torch::Tensor& b, const std::vector<int64_t>& wfl,
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
torch::Tensor quantized_bias(const torch::Tensor& b, const std::vector<int64_t>& wfl,
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
std::vector<int8_t> weight_codes(const torch::Tensor& w, const std::vector<int64_t>& wfl,
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

std::vector<int> to_int(const std::vector<int64_t>& v) { return std::vector<int>(v.begin(), v.end()); }

// fp_pact's weight FL: the configured weight format's clamp(rne(initial_weight_fl), 0, n - 1).
std::vector<int64_t> floating_weight_fl(const QuantOptions& q, int word_bits) {
  return {fixed::ema_fl_used(q.initial_weight_fl, /*is_signed=*/true, word_bits)};
}

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

QLayerImpl::QLayerImpl(const QuantOptions& quant, InputKind kind)
    : quant_(quant), kind_(kind) {
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
  const double factor =
      fixed::fix_scaling(1.0, input_fl_used(), input_signed(), activation_bits());
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
  const int64_t fb =
      sync ? global_activation_fl(*sync, x, sg, quant_.metric, quant_.grid_search, bits)
           : activation_fl(x, sg, quant_.metric, quant_.grid_search, bits);
  last_batch_fl_ = fb;
  {
    torch::NoGradGuard no_grad;  // the stored FL is a buffer in any dtype; the EMA runs in float32
    input_fraclen.fill_(fixed::ema_update(input_fraclen.item<float>(), static_cast<int>(fb),
                                          quant_.fl_momentum));
  }
  return quantize_ste(x, {fb}, sg, 1, false, bits);
}

// ---------------------------------------------------------------------------------------------
// QConvBNImpl

QConvBNImpl::QConvBNImpl(const QConvBNOptions& options)
    : QLayerImpl(options.quant(), options.input_kind()),
      options_(options) {
  const int64_t in = options.in_channels(), out = options.out_channels(), k = options.kernel_size();
  TORCH_CHECK(in > 0 && out > 0 && k > 0 && options.stride() > 0, "QConvBN: bad shape");
  TORCH_CHECK(!options.depthwise() || in == out, "QConvBN: depthwise needs in == out channels");
  const int64_t in_per_group = options.depthwise() ? 1 : in;
  // Reference init (§17): N(0, sqrt(2 / (k k C_out))), gamma 1, beta 0.
  weight = register_parameter(
      "weight", torch::randn({out, in_per_group, k, k}) * std::sqrt(2.0 / static_cast<double>(k * k * out)));
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
                             : weight_fls(wf, quant_.per_channel, quant_.metric,
                                          quant_.grid_search, weight_bits_);
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
  auto [wf, bf] = fold(weight, bn_weight, bn_bias, running_mean, sd, fix_scale(), following_scale());
  if (pool_comp != 1.0) {
    wf = wf * pool_comp;
    bf = bf * pool_comp;
  }
  return {wf, bf};
}

LayerCodes QConvBNImpl::integer_codes(double pool_comp) const {
  TORCH_CHECK(quant_.mode == Mode::kFixed, "integer codes need a fixed-mode model");
  auto [wf, bf] = fused_eval(pool_comp);
  const std::vector<int64_t> fl = per_output(
      weight_fls(wf, quant_.per_channel, quant_.metric, quant_.grid_search, weight_bits_),
      options_.out_channels());
  LayerCodes codes;
  codes.input_fl = input_fl_used();
  codes.input_signed = input_signed();
  codes.weight_bits = weight_bits_;
  codes.input_bits = activation_bits();
  codes.weight = weight_codes(wf, fl, weight_bits_);
  codes.weight_shape = wf.sizes().vec();
  codes.bias = bias_codes(bf, fl, codes.input_fl);
  codes.weight_fl = to_int(fl);
  return codes;
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
  q.fl = floating ? floating_weight_fl(quant_, weight_bits_)
                  : weight_fls(w, quant_.per_channel, quant_.metric, quant_.grid_search,
                               weight_bits_);
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
  const std::vector<int64_t> fl = per_output(q.fl, options_.out_features());
  const torch::Tensor w = pool_comp != 1.0 ? weight * pool_comp : weight;
  LayerCodes codes;
  codes.input_fl = input_fl_used();
  codes.input_signed = false;
  codes.weight_bits = weight_bits_;
  codes.input_bits = activation_bits();
  codes.weight = weight_codes(w, fl, weight_bits_);
  codes.weight_shape = w.sizes().vec();
  codes.bias = bias_codes(b, fl, codes.input_fl);
  codes.weight_fl = to_int(fl);
  return codes;
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
