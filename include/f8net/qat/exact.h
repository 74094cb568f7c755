// The exact (float64) evaluation machinery behind export.h: every op of the integer runtime,
// computed on float64 tensors holding dyadic values (every fixed-point sum exact), recording each
// op straight into the runtime's own graph (rt::ModelDef, the project's one IR) together with what
// the evaluation expects of the value it produced. Layers call these helpers, so the float64
// result and the recorded integer graph come from one computation with the same codes.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "f8net/rt/model.h"

namespace f8net::qat {

// What the exact evaluation computed for one runtime value. The runtime infers the same facts
// from the ops alone (rt::validate_model); to_runtime_model compares both, so a semantic mismatch
// between training and runtime is an error at export rather than a wrong number later.
struct ExactValue {
  std::string name;            // module path or role, for diagnostics
  std::vector<int64_t> shape;  // without batch: {C, H, W}, or {C} after the global pool / FC
  bool codes = false;          // 8-bit containers (the input, a requantize) or int32
  bool is_signed = true;       // codes only
  int32_t word_bits = 8;       // codes only: their word length (2..8)
  std::vector<int32_t> fl;     // codes: one FL; int32: one FL per channel
};

// The integer graph an exact evaluation recorded: the runtime model (without metadata, which the
// exporter supplies) and, per value, the evaluation's expectations.
struct ExactGraph {
  rt::ModelDef model;
  bool raw01 = false;              // the input is a raw [0,1] image: code = rne(255 x), FL 8
  std::vector<ExactValue> values;  // values[0]: the input; values[i + 1]: the output of op i
  std::string problem;             // non-empty: the first thing the runtime format cannot hold
};

// A float64 activation (N x C x H x W, or N x C after pooling) and the id of the runtime value
// holding it.
struct ExactTensor {
  torch::Tensor value;
  int node = -1;
};

// The weight/bias codes of one conv or FC layer, exactly as its evaluation forward uses them.
struct LayerCodes {
  std::vector<int8_t> weight;
  std::vector<int64_t> weight_shape;
  std::vector<int32_t> bias;
  std::vector<int32_t> weight_fl;  // per output channel
  int32_t input_fl = 0;
  bool input_signed = false;
  int32_t weight_bits = 8;  // weight codes in +-(2^(weight_bits-1)-1)
  int32_t input_bits = 8;   // the input codes' word length
};

class ExactContext {
 public:
  ExactGraph graph;
  // The pooled tensor the classifier requantizes (float64, N x C, value = sum * 2^-k), set by
  // NetImpl::exact_forward for the agreement tests.
  torch::Tensor fc_input;

  const ExactValue& node(int id) const { return graph.values.at(static_cast<size_t>(id)); }

  // The graph input (called once, first). raw01: code = rne(255 x) in [0,255], FL 8. Otherwise
  // codes at one FL: clamp(rne(x 2^fl)) (the models use signed inputs: int8 normalised images).
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
  ExactTensor input(const torch::Tensor& v, int fl, bool is_signed, bool raw01);
  // Records the value op `id` (the value rt::add_* just returned) produced.
  ExactTensor record(int32_t id, const torch::Tensor& v, ExactValue value);
  const ExactValue& source(const ExactTensor& in) const;
  int32_t conv_like(const ExactTensor& in, const LayerCodes& codes, const std::string& name,
                    const rt::Conv2dParams* conv);
};

// k = rne(log2(H*W)) of the shift-based global pool (7x7 -> 6, §13.1).
int pool_shift(int64_t height, int64_t width);

}  // namespace f8net::qat
