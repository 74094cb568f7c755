// The quantized layers of F8Net: QConvBN (fused Conv+BN with PACT alpha and fix_scaling, double
// forward in training, F8NET.md §7-§10), QLinear (§11), and Block (a chain of QConvBN with an
// optional identity/projection residual and ReLU, §12). One class per layer for every Mode, so
// parameter and buffer names are identical across modes. following/master links are raw pointers
// into the same network (set by the model builders; the network owns every linked layer).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "f8net/qat/exact.h"
#include "f8net/qat/quant-options.h"

namespace f8net::qat {

// What a layer's input is (§14, §16): unsigned (implicit ReLU + PACT clip), signed (double_side),
// or the raw [0,1] image of a weight-only first layer (pre-quantized rne(255x)/256, FL 8).
enum class InputKind { kUnsigned, kSigned, kRaw01 };

constexpr double kBnMomentum = 0.1;
constexpr double kBnEps = 1e-5;

// Per-channel mean and biased variance over (N, H, W) of an N x C x H x W tensor, differentiable
// (the batch statistics of the double forward, §8.1); ATen's BN statistics kernel, fused backward.
std::pair<torch::Tensor, torch::Tensor> batch_stats(const torch::Tensor& y);

// The float network's activation: ReLU, or ReLU6 when quant.relu6 (QuantOptions).
torch::Tensor float_relu(const torch::Tensor& x, const QuantOptions& quant);

// The part shared by QConvBN and QLinear: alpha, the stored input FL (EMA) and its quantizer.
class QLayerImpl : public torch::nn::Module {
 public:
  // fix_scaling s = 2^{f_x} |alpha| / (2^{n-sg} - 1) (n = activation_bits()) as a [1] tensor with
  // gradient to the (master-resolved) alpha; 1 for float mode, no_clipping and the raw-image
  // (weight-only) first layer. A normalised (signed) first layer uses its alpha like any layer
  // (§7.1).
  torch::Tensor fix_scale() const;
  double fix_scale_value() const;
  // The FL the layer quantizes its input with at evaluation: clamp(rne(F)); 8 for raw01 input;
  // in fp_pact the configured input format's clamp(rne(initial_input_fl)) (6 by default).
  int input_fl_used() const;
  bool input_signed() const { return kind_ == InputKind::kSigned; }
  InputKind input_kind() const { return kind_; }
  const QuantOptions& quant() const { return quant_; }
  // The layer whose alpha this one uses (§12.1); chains resolve transitively.
  void set_master(QLayerImpl* master) { master_ = master; }
  QLayerImpl* master() const { return master_; }
  // The layer consuming this layer's output (its s is folded into this layer's weight and bias).
  void set_following(QLayerImpl* following) { following_ = following; }
  QLayerImpl* following() const { return following_; }
  // The alpha parameter in use (this layer's, or its master's).
  const torch::Tensor& effective_alpha() const;
  // Word lengths (2..8, default 8; make_model sets them from QuantOptions): the weight codes'
  // and the input codes'. The input width is the master's when the layer has one (the reference's
  // get_input_format: layers sharing a clip share the input format), and 8 for a raw01 input.
  void set_word_bits(int weight_bits, int activation_bits);
  int weight_bits() const { return weight_bits_; }
  int activation_bits() const;
  // The width set on this layer itself (activation_bits() may resolve to the master's).
  int own_activation_bits() const { return activation_bits_; }
  // Last per-batch input FL (training) for diagnostics; -1 before the first training forward.
  int32_t last_batch_fl() const { return last_batch_fl_; }

  torch::Tensor alpha;          // [1] PACT clipping level (parameter, init alpha_init)
  torch::Tensor input_fraclen;  // [1] stored input FL F (buffer, EMA, init initial_input_fl)

 protected:
  QLayerImpl(const QuantOptions& quant, InputKind kind);
  // §6: training = batch FL + quantize + EMA update; eval = stored FL; fp_pact = clamp at the
  // configured input FL; float = ReLU for unsigned inputs. raw01: rne(255x)/256 in every mode
  // (§14).
  torch::Tensor quantize_input(const torch::Tensor& x);
  torch::Tensor following_scale() const;

  QuantOptions quant_;
  InputKind kind_;
  QLayerImpl* master_ = nullptr;
  QLayerImpl* following_ = nullptr;
  int32_t last_batch_fl_ = -1;
  int weight_bits_ = 8;
  int activation_bits_ = 8;
};

struct QConvBNOptions {
  QConvBNOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels_(in_channels),
        out_channels_(out_channels),
        kernel_size_(kernel_size),
        padding_(kernel_size / 2) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, padding);  // default kernel_size / 2
  TORCH_ARG(int64_t, dilation) = 1;
  TORCH_ARG(bool, depthwise) = false;  // groups = in_channels = out_channels
  TORCH_ARG(InputKind, input_kind) = InputKind::kUnsigned;
  TORCH_ARG(QuantOptions, quant);
};

// Conv (bias-free) + BatchNorm (momentum 0.1, eps 1e-5) fused as F8NET.md §8. Float mode: plain
// conv + BN (ReLU on unsigned inputs). Output: y = z / s_next (un-quantized), see §7.
class QConvBNImpl : public QLayerImpl {
 public:
  explicit QConvBNImpl(const QConvBNOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  // The evaluation-mode fused weight and bias (running statistics, §8.2), float32, times the
  // pool compensation a (§13.1, 1 otherwise).
  std::pair<torch::Tensor, torch::Tensor> fused_eval(double pool_comp = 1.0) const;
  // The weight FLs (size 1 or out_channels) and codes the evaluation forward uses.
  LayerCodes integer_codes(double pool_comp = 1.0) const;
  // The exact (float64) evaluation of this layer, recording Requantize (unless the input is
  // already codes) and Conv2d nodes.
  ExactTensor exact(ExactContext& ctx, const ExactTensor& in, double pool_comp,
                    const std::string& name) const;
  int64_t groups() const { return options_.depthwise() ? options_.in_channels() : 1; }
  const QConvBNOptions& options() const { return options_; }
  // Weight FLs of the last forward (per layer: size 1).
  const std::vector<int32_t>& last_weight_fl() const { return last_weight_fl_; }
  // bn_calib (the reference's BN re-estimation, momentum None): resets the running statistics
  // (mean 0, variance 1); the following training-mode forwards average their batch statistics
  // cumulatively (batch n weighs 1/n) until end_bn_calibration().
  void begin_bn_calibration();
  void end_bn_calibration() { calib_batches_ = -1; }
  bool calibrating() const { return calib_batches_ >= 0; }

  torch::Tensor weight;        // [O, I/groups, k, k]
  torch::Tensor bn_weight;     // gamma [O]
  torch::Tensor bn_bias;       // beta [O]
  torch::Tensor running_mean;  // [O]
  torch::Tensor running_var;   // [O]

 private:
  torch::Tensor forward_float(const torch::Tensor& x);
  QConvBNOptions options_;
  std::vector<int32_t> last_weight_fl_;
  int64_t calib_batches_ = -1;  // batches averaged so far while calibrating, -1 otherwise
};
TORCH_MODULE(QConvBN);

struct QLinearOptions {
  QLinearOptions(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, out_features);
  TORCH_ARG(QuantOptions, quant);
};

// The classifier (§11): unsigned per-tensor input FL with its own alpha, weight FL on the raw
// weight, rescale_forward ws = (1/sqrt(out)) / std(Wq). Training y = (ws Wq)(s xq) + b;
// evaluation y = Wq xq + b / (s ws) (logits scaled by 1/(s ws): logit_scale() undoes it).
// Float mode (the reference's floating_wo_clip): y = (ws W) relu(x) + b, ws = (1/sqrt(out))/std(W).
class QLinearImpl : public QLayerImpl {
 public:
  explicit QLinearImpl(const QLinearOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  // Codes of the evaluation forward; pool_comp (§13.1, residual-sum case) scales W before its
  // quantization. The bias codes encode b / (s ws) with ws of the uncompensated weights: the
  // compensated weights see the pooled sum / 2^k = mean / a, so only W carries a.
  LayerCodes integer_codes(double pool_comp = 1.0) const;
  ExactTensor exact(ExactContext& ctx, const ExactTensor& in, double pool_comp,
                    const std::string& name) const;
  // s * ws of the evaluation forward: evaluation logits times this are the training-scale logits.
  double logit_scale() const;
  const QLinearOptions& options() const { return options_; }

  torch::Tensor weight;  // [O, K]
  torch::Tensor bias;    // [O]

 private:
  // Wq (STE), ws and the eval bias b / (s ws) for the given compensation.
  struct Quantized {
    torch::Tensor wq;
    std::vector<int32_t> fl;
    torch::Tensor ws;
  };
  Quantized quantize_weight(double pool_comp) const;
  QLinearOptions options_;
};
TORCH_MODULE(QLinear);

struct BlockOptions {
  TORCH_ARG(bool, residual) = false;    // add the block input (or the shortcut's output)
  TORCH_ARG(bool, relu_after) = false;  // explicit ReLU at the block end (after the add)
};

// A chain of QConvBN layers (each feeding the next), an optional projection shortcut (1x1
// conv+BN on the block input), an optional residual add (the skip is not quantized, §12.2), and an
// optional ReLU. Covers small_cnn layers, ResNet Basic/Bottleneck, MobileNet V1/V2 blocks.
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(std::vector<QConvBN> convs, QConvBN shortcut, const BlockOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  ExactTensor exact(ExactContext& ctx, const ExactTensor& in, double pool_comp,
                    const std::string& name) const;

  const std::vector<QConvBN>& convs() const { return convs_; }
  const QConvBN& shortcut() const { return shortcut_; }  // empty holder when none
  bool has_shortcut() const { return !shortcut_.is_empty(); }
  const BlockOptions& options() const { return options_; }
  // An identity-residual block (§12.1 master rule).
  bool identity() const { return options_.residual() && !has_shortcut(); }
  // Links convs[i] -> convs[i+1], and the last conv (and the shortcut) -> `next`.
  void set_following(QLayerImpl* next);
  // Gives the first conv (and the shortcut) a master.
  void set_master(QLayerImpl* master);

 private:
  std::vector<QConvBN> convs_;
  QConvBN shortcut_{nullptr};
  BlockOptions options_;
};
TORCH_MODULE(Block);

}  // namespace f8net::qat
