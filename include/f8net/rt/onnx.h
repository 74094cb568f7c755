// ONNX export of a runtime model (docs/onnx.md): standard opset-13 QDQ graphs that ONNX Runtime
// runs with the same logits as f8net, bit for bit, whenever every value ORT holds in float32 is
// an integer below 2^24 in its LSBs (the report says so, or names the layers that may differ).
// Built only when the ONNX/protobuf packages are found (F8NET_BUILD_ONNX, library f8net_rt_onnx).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "f8net/rt/model.h"
#include "f8net/rt/status.h"

namespace f8net::rt {

struct OnnxOptions {
  // A float32 model of the same architecture (dequantized weights, float ops, each requantize
  // as a Clip to the code range, no rounding): a speed reference only, NOT exact.
  bool float_reference = false;
  std::string producer_version;  // written to ModelProto.producer_version
};

// A value ORT holds in float32 whose bound reaches 2^24 LSBs: its float arithmetic may round.
struct OnnxInexactValue {
  int32_t op = -1;  // the op producing the value
  std::string op_type;
  int32_t channel = 0;         // the channel with the largest bound
  int64_t bound = 0;           // largest |integer| (partial sums included) in that channel's LSBs
  int64_t terms = 1;           // roundings that can each lose up to half a float32 ulp at the bound
  double max_error_lsb = 0.0;  // terms * half an ulp at the bound, in the value's LSBs
};

struct OnnxExportReport {
  bool bit_exact_in_ort = false;  // every float-path bound < 2^24 (never true for float_reference)
  int64_t max_bound = 0;          // the largest such bound over the model
  std::vector<OnnxInexactValue> inexact;
  int32_t nodes = 0;
  int32_t qdq_convs = 0;      // Conv/Gemm in QDQ form (ORT fuses them into QLinearConv/QGemm)
  int32_t integer_convs = 0;  // ConvInteger/MatMulInteger (outputs that stay int32 in f8net)
  int32_t clips = 0;          // Clips on the uint8 grid after a requantize whose codes can leave
                              // f8net's range: signed -128, or codes narrower than 8 bits
  std::string input_name, input_type, output_name;
};

// Builds the ONNX ModelProto bytes of a valid model (validated here first).
Status export_onnx(const ModelDef& model, const OnnxOptions& options, std::string* bytes,
                   OnnxExportReport* report);
// export_onnx, then an atomic write: `path`.tmp, fsync, rename.
Status write_onnx_file(const ModelDef& model, const OnnxOptions& options, const std::string& path,
                       OnnxExportReport* report);

// One line per inexact value, for stderr ("" when bit exact).
std::string describe_inexact(const OnnxExportReport& report);

}  // namespace f8net::rt
