// The F8Net quantizer Q(v; f, n, sg) with its straight-through estimator (F8NET.md §4), and the
// fractional-length rules applied to tensors (§5, §6). Forward rounds half-to-even and saturates
// in one fused CPU pass; backward is grad * the STE mask (on the ROUNDED value, strict bounds),
// recomputed from the saved input in one fused pass. FLs come from f8net::fixed (metric rule or
// one-pass grid search). Word length n in [2, 8] (default 8): codes +-(2^(n-1)-1) or 0..2^n-1.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "f8net/fixed.h"

namespace f8net::qat {

// Q(x; fl, word_bits, is_signed) with the STE of §4. `fl` holds one FL (per tensor) or one FL per
// index of dimension `axis` (per channel: axis 0 for weights). floating = true (fp_pact) skips the
// rounding but keeps the clamp, and the mask is taken on the unrounded value. float32 or float64,
// any layout (made contiguous). NaN inputs give 0 with a zero mask. Pre: every FL is in
// [0, word_bits - is_signed] and word_bits in [2, 8] (checked).
torch::Tensor quantize_ste(const torch::Tensor& x, const std::vector<int32_t>& fl, bool is_signed,
                           int64_t axis = 1, bool floating = false, int word_bits = 8);

// The smallest and largest word length the quantizer accepts (8-bit containers).
constexpr int kMinWordBits = 2;
constexpr int kMaxWordBits = 8;

// The fused kernel without autograd: writes Q(x) into `out` and the 0/1 STE mask into `mask`
// (either may be undefined to skip it). x contiguous, out/mask same shape and dtype as x.
void quantize_kernel(const torch::Tensor& x, const std::vector<int32_t>& fl, bool is_signed,
                     int64_t axis, bool floating, torch::Tensor out, torch::Tensor mask,
                     int word_bits = 8);

// The STE backward of §4 without autograd: grad * mask(x), the mask recomputed from x in the same
// fused pass (quantize_ste's backward). Equal, element for element, to grad * the mask that
// quantize_kernel writes.
torch::Tensor ste_gradient(const torch::Tensor& x, const torch::Tensor& grad,
                           const std::vector<int32_t>& fl, bool is_signed, int64_t axis,
                           bool floating, int word_bits = 8);

// The same quantizer written with ATen operations (src/qat/quantize-aten.cc): what quantize_ste
// runs for tensors off the CPU. Returns {Q(x), mask}; equal bit for bit to quantize_kernel on
// the CPU (tests/qat/quantize-test.cc). ste_gradient_aten likewise equals ste_gradient.
std::pair<torch::Tensor, torch::Tensor> quantize_aten(const torch::Tensor& x,
                                                      const std::vector<int32_t>& fl,
                                                      bool is_signed, int64_t axis, bool floating,
                                                      int word_bits = 8);
torch::Tensor ste_gradient_aten(const torch::Tensor& x, const torch::Tensor& grad,
                                const std::vector<int32_t>& fl, bool is_signed, int64_t axis,
                                bool floating, int word_bits = 8);

// The raw-image pre-quantization of the weight-only first layer (§14, TV11): code = rne(255 x)
// clamped to [0, 255] (computed in double), value code / 256. Same dtype as x, no gradient.
torch::Tensor quantize_raw01(const torch::Tensor& x);

// Whether the FL rule of a word_bits-wide tensor is the grid search: when configured, and always
// for widths other than 8 (the metric constants are fitted for 8 bits only; the reference asserts
// wl == 8 in its metric rule and searches the grid otherwise; docs/fidelity.md).
constexpr bool uses_grid_search(bool grid_search, int word_bits) {
  return grid_search || word_bits != 8;
}

// The per-batch activation FL of §6 on a whole tensor (activation FLs are per tensor, decision 4):
// fixed::fl_grid_search over FL 0..word_bits - is_signed when uses_grid_search(), otherwise
// fixed::fl_from_metric(compute_metric(...)). Reads the raw data pointer of the contiguous tensor
// (grid search needs float32).
int32_t activation_fl(const torch::Tensor& x, bool is_signed, fixed::Metric metric,
                      bool grid_search, int word_bits = 8);

// The weight FLs of §5 (signed word_bits) of a weight tensor with output channels on dim 0: one FL
// (per layer) or one per output channel (per_channel, metric rule only: the grid search is always
// per layer, §5.4, and then returns one FL). Result size 1 or w.size(0).
std::vector<int32_t> weight_fls(const torch::Tensor& w, bool per_channel, fixed::Metric metric,
                                bool grid_search, int word_bits = 8);

// Expands FLs to one per output channel (a per-layer FL is repeated).
std::vector<int32_t> per_output(const std::vector<int32_t>& fl, int64_t channels);

}  // namespace f8net::qat
