// The options of F8Net's quantizer (F8NET.md §16): the training mode and everything a quantized
// layer needs to know about formats, clipping and word lengths. The layers (modules.h) and the
// model families (models.h) both take them.
#pragma once

#include <string>
#include <vector>

#include "f8net/fixed.h"

namespace f8net::qat {

// How a network is trained (F8NET.md §16): a plain float network with ordinary BN (`float`), the
// reference's PACT-clipped "FP" pre-training (`fp_pact`, the `floating` flag), or F8Net fixed-point
// training (`fixed`).
enum class Mode { kFloat, kFpPact, kFixed };

// Parses "float", "fp_pact", "fixed"; throws std::invalid_argument otherwise.
Mode parse_mode(const std::string& name);
std::string mode_name(Mode mode);

// A per-layer word-length override: the layer's module name ("stem", "blocks.3.convs.0",
// "blocks.1.shortcut", "fc"); 0 keeps the layer's default width.
struct LayerBits {
  std::string layer;
  int weight = 0;
  int activation = 0;
};

// The method's options (F8NET.md §16). Defaults are the reference's conventional-training values.
struct QuantOptions {
  Mode mode = Mode::kFixed;
  fixed::Metric metric = fixed::Metric::kStd;  // format_from_metric / metric
  bool grid_search = false;  // format_grid_search: activation and weight FLs by RMSE search
  bool per_channel = false;  // format_type per_channel: weight FL per output channel
  bool no_clipping = false;  // every fix_scaling s = 1 (tiny fine-tuning)
  bool normalize_input =
      false;  // normalised (signed) input: first layer double_side, not weight_only
  bool quant_avgpool = false;  // train with the sum/2^k pool instead of the float mean (§13.1)
  float fl_momentum = fixed::kFlMomentum;                // momentum_for_metric
  float initial_input_fl = fixed::kInitialActivationFl;  // input_format FL (fp_pact: clamp FL)
  float initial_weight_fl = 7;  // weight_format FL: fp_pact clamps fused weights at it
  double alpha_init = 8.0;      // PACT alpha initial value
  bool rescale_forward = true;  // FC weight rescaling (§11)
  bool quant_bias = false;      // evaluation with 32-bit bias codes (§9); exact_eval always on
  // Every ReLU is ReLU6 (min(max(x, 0), 6)), as in torchvision's MobileNet-V2 (docs/import.md).
  // Float mode only: make_model refuses it in fp_pact and fixed mode, whose PACT alpha clips.
  bool relu6 = false;
  // Word lengths 2..8 (fix_quant's wl) of every layer's weights and input codes; the first and
  // last layers keep 8 when first_last_8bit (the reference's bitw_min/bita_min); layer_bits
  // overrides single layers by name. Widths other than 8 choose their FLs by grid search.
  int weight_bits = 8;
  int activation_bits = 8;
  bool first_last_8bit = true;
  std::vector<LayerBits> layer_bits;
};

}  // namespace f8net::qat
