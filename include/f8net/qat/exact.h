// The exact (float64) evaluation machinery behind export.h: every op of the integer runtime,
// computed on float64 tensors holding dyadic values (every fixed-point sum exact), recording one
// IntegerView node per op. Layers call these helpers, so the float64 result and the recorded
// integer graph come from one computation with the same codes.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "f8net/qat/integer-view.h"

namespace f8net::qat {

// A float64 activation (N x C x H x W, or N x C after pooling) and the view node producing it.
struct ExactTensor {
  torch::Tensor value;
  int node = -1;
};

// The weight/bias codes of one conv or FC layer, exactly as its evaluation forward uses them.
struct LayerCodes {
  std::vector<int8_t> weight;
  std::vector<int64_t> weight_shape;
  std::vector<int32_t> bias;
  std::vector<int> weight_fl;  // per output channel
  int input_fl = 0;
  bool input_signed = false;
  int weight_bits = 8;  // weight codes in +-(2^(weight_bits-1)-1)
  int input_bits = 8;   // the input codes' word length
};

class ExactContext {
 public:
  IntegerView view;
  // The pooled tensor the classifier requantizes (float64, N x C, value = sum * 2^-k), set by
  // NetImpl::exact_forward for the agreement tests.
  torch::Tensor fc_input;

  const IntegerNode& node(int id) const { return view.nodes.at(static_cast<size_t>(id)); }

  // Graph inputs. raw01: code = rne(255 x) in [0,255], FL 8. Otherwise codes at one FL:
  // clamp(rne(x 2^fl)) (the models use signed inputs: int8 normalised images).
  ExactTensor input_raw01(const torch::Tensor& x);
  ExactTensor input_codes(const torch::Tensor& x, int fl, bool is_signed);

  // int32 (per-channel FL) -> codes: clamp(rne(v 2^fl)) 2^-fl, i.e. fixed::requantize, to
  // word_bits-wide codes (+-(2^(n-1)-1) or 0..2^n-1).
  ExactTensor requantize(const ExactTensor& in, int fl, bool is_signed, const std::string& name,
                         int word_bits = 8);
  // codes -> int32: conv with weight codes * 2^-wfl[o] and bias codes * 2^-(fl_in + wfl[o]).
  ExactTensor conv2d(const ExactTensor& in, const LayerCodes& codes, int stride, int padding,
                     int dilation, int groups, const std::string& name);
  ExactTensor fully_connected(const ExactTensor& in, const LayerCodes& codes,
                              const std::string& name);
  ExactTensor relu(const ExactTensor& in, const std::string& name);
  ExactTensor max_pool(const ExactTensor& in, int kernel, int stride, int padding,
                       const std::string& name);
  // Per channel: align to max FL (exact), sum, saturate to +-(2^31-1) at that FL.
  ExactTensor add(const ExactTensor& a, const ExactTensor& b, const std::string& name);
  // Sum over H, W, saturate to +-(2^31-1) at the input FL, then FL += shift. Output N x C.
  ExactTensor global_sum_pool(const ExactTensor& in, int shift, const std::string& name);

 private:
  int push(IntegerNode node);
};

// k = rne(log2(H*W)) of the shift-based global pool (7x7 -> 6, §13.1).
int pool_shift(int64_t height, int64_t width);

}  // namespace f8net::qat
