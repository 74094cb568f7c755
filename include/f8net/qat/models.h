// F8Net model families built from the quantized layers (F8NET.md §12, §17): small_cnn, resnet20,
// resnet56, resnet18/34/50/101/152, mobilenet_v1, mobilenet_v2. Input channels, input size, classes
// and width multiplier are parameters; following/master links are wired by the builders.
// This header is the contract the trainer, the CLI and export code against.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "f8net/fixed.h"
#include "f8net/qat/quant-options.h"

namespace f8net::qat {

class ExactContext;
struct ExactTensor;

struct ModelOptions {
  std::string arch = "small_cnn";  // one of model_names()
  int64_t in_channels = 1;
  int64_t input_size = 28;  // square inputs: input_size x input_size
  int64_t num_classes = 10;
  double width_mult = 1.0;  // channel multiplier (rounded, at least 1 channel)
  // Stem of the ImageNet-style families: "imagenet", "cifar" or "auto" (cifar when
  // input_size <= 64); see ModelConfig::stem.
  std::string stem = "auto";
  // Where a ResNet bottleneck block downsamples: "v1.5" (its 3x3 conv: torchvision, the F8Net
  // reference, pytorchcv's "b" models) or "v1" (its first 1x1 conv: pytorchcv resnet50/101/152).
  std::string resnet_variant = "v1.5";
  QuantOptions quant;
};

// Every F8Net network. forward() takes N x C x H x W float images: raw [0, 1] pixels, or
// normalised values when quant.normalize_input. It returns N x num_classes logits (in fixed mode,
// evaluation logits carry the FC's 1/(s_fc * ws) scale, F8NET.md §11: compare arg-max only).
class NetImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  virtual const ModelOptions& options() const = 0;

  // Added for exact evaluation (export.h): the evaluation forward in float64 on the integer
  // runtime's ops, recording the integer view in ctx. Fixed mode only. x: N x C x H x W images.
  virtual torch::Tensor exact_forward(ExactContext& ctx, const torch::Tensor& x) = 0;
  // s_fc * ws of the classifier: evaluation logits times this are training-scale logits (§11);
  // 1 in float mode.
  virtual double logit_scale() const = 0;

  // The simulation's pooled features (N x features, float), the tensor forward() hands the FC.
  virtual torch::Tensor pooled_features(const torch::Tensor& x) = 0;
  // How the exact evaluation of a size x size input pools (§13.1): shift k of sum / 2^k, the
  // compensation a = 2^k / (H W) (1 when trained with quant_avgpool) and where it goes.
  struct PoolFold {
    int shift = 0;
    double a = 1.0;
    bool into_fc = false;  // the pooled tensor is a residual sum: a scales the FC weights
    int64_t spatial = 0;   // H = W of the pooled tensor
  };
  virtual PoolFold pool_fold(int64_t size) const = 0;
};
using Net = std::shared_ptr<NetImpl>;

// Builds a model; throws std::invalid_argument for an unknown arch, a bad size (e.g. an input too
// small for the network's strides) or a bad width. Weights use the reference's init (§17).
Net make_model(const ModelOptions& options);

// Sets every quantized layer's word lengths from options.quant (make_model calls it): defaults,
// the first/last-layer rule, then the layer_bits overrides. Throws std::invalid_argument naming
// the key for an unknown layer name, a first layer whose input width is not 8 (the 8-bit image),
// or a layer whose input width differs from the master whose clip it shares (§12.1).
void apply_word_bits(NetImpl& net, const QuantOptions& quant);

// The architecture names make_model accepts.
std::vector<std::string> model_names();

}  // namespace f8net::qat
