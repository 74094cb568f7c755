// The in-memory model: a plain struct graph that the exporter (qat) fills and hands to the writer,
// that the reader produces, and that tests build by hand with the add_* helpers below.
// Values are numbered: value 0 is the graph input, op i produces value i + 1, and an op reads
// only values with smaller numbers (so ops are stored in topological order). The output is the
// last op's value. Enum numbers are part of the .f8 format: pinned, never reused.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "f8net/rt/status.h"
#include "f8net/rt/tensor.h"

namespace f8net::rt {

enum class OpType : uint32_t {
  kConv2d = 1,          // codes -> int32, FL[o] = FL_src + wfl[o]
  kFullyConnected = 2,  // codes (any shape, flattened C*H*W) -> int32 [O,1,1]
  kRequantize = 3,      // int32 -> codes (fixed::requantize per channel)
  kRelu = 4,            // int32 -> int32, max(x, 0)
  kMaxPool = 5,         // int32 -> int32, window maximum ignoring padding
  kAdd = 6,             // int32 + int32 -> int32 aligned to max FL, saturated
  kGlobalSumPool = 7,   // int32 [C,H,W] -> int32 [C,1,1], FL + shift
};
const char* op_type_name(OpType t);  // "Conv2d", ... or "invalid"

// How an 8-bit image becomes input codes (F8NET.md §14, §15.3, TV11).
enum class Preprocess : uint32_t {
  kRaw01 = 1,  // code = pixel (= rne(255 * x), x in [0,1]); unsigned input, FL 8
  kNormalized =
      2,       // z = (pixel/255 - mean[c]) / std[c] in float32; code = clamp(rne(z*2^FL), +-127)
  kCodes = 3,  // no image preprocessing: the caller supplies codes (tests, embedded use)
};

struct Preprocessing {
  Preprocess mode = Preprocess::kRaw01;
  bool replicate_gray = false;  // a 1-channel image is copied to all C input channels
  std::array<float, 3> mean{{0.f, 0.f, 0.f}};  // kNormalized only (per channel; C <= 3)
  std::array<float, 3> std{{1.f, 1.f, 1.f}};
};

struct Metadata {
  std::string name;
  Preprocessing preprocessing;
  std::vector<std::string> class_names;  // empty, or one per output channel
  // Provenance, e.g. {"config", "..."}, {"checkpoint", "..."}, {"git", "..."}, {"date", "..."}.
  std::vector<std::pair<std::string, std::string>> provenance;
};

// The graph input: codes of one image.
struct InputDef {
  Shape shape;
  DType dtype = DType::kUint8;  // kUint8 (FL 0..8) or kInt8 (FL 0..7)
  int32_t fl = 8;
};

// One operation. Fields that an op type does not use must stay at their defaults (the writer and
// the loader refuse a model otherwise, so files carry no hidden data).
struct OpDef {
  OpType type = OpType::kRelu;
  std::array<int32_t, 2> inputs{{-1, -1}};  // value ids; inputs[1] only for kAdd

  // kConv2d and kFullyConnected: weights int8 [O, I/groups, kh, kw] (conv) or [O, K] (FC),
  // codes in [-127, 127]; bias int32 [O] in [-(2^31-1), 2^31-1] at FL_src + wfl[o];
  // weight_fl: 1 entry (per layer) or O entries (per output channel), each 0..7.
  int32_t out_channels = 0;
  std::vector<int8_t> weights;
  std::vector<int32_t> bias;
  std::vector<int32_t> weight_fl;  // stored as bytes in the .f8 file

  // kConv2d and kMaxPool geometry (kMaxPool: no dilation, no groups).
  int32_t kernel_h = 0, kernel_w = 0;
  int32_t stride_h = 0, stride_w = 0;
  int32_t pad_h = 0, pad_w = 0;
  int32_t dilation_h = 0, dilation_w = 0;
  int32_t groups = 0;  // kConv2d: 1 or I (depthwise, O == I)

  // kRequantize: the output code format.
  int32_t out_fl = 0;
  bool out_signed = false;

  // kGlobalSumPool: the FL grows by this shift (the exporter's round(log2(H*W))).
  int32_t shift = 0;

  // The word length n (2..8) of the codes this op makes or carries in 8-bit containers:
  // kRequantize's output codes (+-(2^(n-1)-1) or 0..2^n-1), kConv2d/kFullyConnected's weight codes
  // (+-(2^(n-1)-1)). 8 for every other op. Format version 2 stores it (docs/model-format.md).
  int32_t code_bits = 8;
};

struct ModelDef {
  Metadata metadata;
  InputDef input;
  std::vector<OpDef> ops;

  int32_t output_value() const { return static_cast<int32_t>(ops.size()); }
};

// ---- Building by hand. Each helper appends one op and returns the id of the value it produces.
struct Conv2dParams {
  int32_t out_channels = 0;
  int32_t kernel_h = 1, kernel_w = 1;
  int32_t stride_h = 1, stride_w = 1;
  int32_t pad_h = 0, pad_w = 0;
  int32_t dilation_h = 1, dilation_w = 1;
  int32_t groups = 1;
};
int32_t add_conv2d(ModelDef* m, int32_t src, const Conv2dParams& p, std::vector<int8_t> weights,
                   std::vector<int32_t> bias, std::vector<int32_t> weight_fl);
int32_t add_fully_connected(ModelDef* m, int32_t src, int32_t out_channels,
                            std::vector<int8_t> weights, std::vector<int32_t> bias,
                            std::vector<int32_t> weight_fl);
int32_t add_requantize(ModelDef* m, int32_t src, int32_t out_fl, bool out_signed,
                       int32_t out_bits = 8);
int32_t add_relu(ModelDef* m, int32_t src);
int32_t add_max_pool(ModelDef* m, int32_t src, int32_t kernel, int32_t stride, int32_t pad);
int32_t add_add(ModelDef* m, int32_t a, int32_t b);
int32_t add_global_sum_pool(ModelDef* m, int32_t src, int32_t shift);

// ---- Limits every model must respect (docs/model-format.md §Limits).
constexpr int32_t kMaxDim = 65535;  // C, H, W and O each in [1, kMaxDim]
constexpr int64_t kMaxTensorElements = int64_t{1} << 28;
constexpr int64_t kMaxWeights = int64_t{1} << 28;  // per op
constexpr int32_t kMaxOps = 16384;
constexpr int64_t kMaxTotalChannels = int64_t{1} << 22;  // summed over all values
constexpr int32_t kMaxKernel = 64;  // kernel, stride, dilation in [1, 64]; pad [0, 64]
constexpr int32_t kMaxAccFl = 31;   // every int32 tensor's FL is in [0, 31]
constexpr int64_t kMaxAccumulatorBound = (int64_t{1} << 31) - 1;  // sum|w|*max|x| + |b| < 2^31

// ---- What validation learns about a model.
struct ValueInfo {
  DType dtype = DType::kInt32;
  Shape shape;
  std::vector<int32_t> fl;  // one per channel (all equal for codes)
  int32_t producer = -1;    // op index, -1 for the graph input
  int32_t code_bits = 8;    // codes: their word length (8 for the input and int32)
};
struct OpInfo {
  int64_t macs = 0;                  // 8-bit x 8-bit multiply-accumulates
  int64_t wide_multiplications = 0;  // multiplications with an operand wider than 8 bits
  int64_t accumulator_bound = 0;     // max over channels of sum|w|*max|x| + |b| (conv, FC), with
                                     // max|x| from the input codes' word length
};
struct GraphInfo {
  std::vector<ValueInfo> values;  // ops.size() + 1 entries
  std::vector<OpInfo> ops;
};

// Checks every rule of docs/model-format.md (ids, order, enums, shapes, geometry, FL and shift
// ranges, weight and bias ranges, sizes, the int32 overflow proof) and fills `info` (may be null).
Status validate_model(const ModelDef& model, GraphInfo* info);

}  // namespace f8net::rt
