// write_onnx_or_throw(): the shared ONNX writing step of `f8net convert` and `f8net export`. The
// verdict is computed before writing, so --require-exact can refuse without leaving a file.
#ifdef F8NET_HAVE_ONNX
#include "onnx-report.h"

#include <iostream>

#include "commands.h"

namespace f8net::cli {

nlohmann::json write_onnx_or_throw(const rt::ModelDef& model, const OnnxWriteArgs& args,
                                   const std::string& command) {
  rt::OnnxOptions options;
  options.float_reference = args.float_reference;
  options.producer_version = "0.1.0";
  rt::OnnxExportReport report;
  std::string bytes;
  rt::Status st = rt::export_onnx(model, options, &bytes, &report);
  if (!st) throw Error(command + ": " + st.message());
  const std::string inexact = rt::describe_inexact(report);
  if (!inexact.empty()) {
    std::cerr << command << ": warning: ORT may not reproduce f8net bit for bit:\n" << inexact;
  }
  if (args.require_exact && !report.bit_exact_in_ort) {
    throw Error(command + ": --require-exact: " +
                (args.float_reference ? std::string("a float reference is never exact")
                                      : "the bounds above reach 2^24; nothing written"));
  }
  st = rt::write_onnx_file(model, options, args.output, &report);
  if (!st) throw Error(command + ": " + st.message());
  std::cout << "wrote " << args.output << " ("
            << (args.float_reference ? "float reference, NOT exact" : "QDQ") << ", " << report.nodes
            << " nodes: " << report.qdq_convs << " QDQ conv/gemm, " << report.integer_convs
            << " integer conv/matmul, " << report.clips
            << " clips); bit_exact_in_ort=" << (report.bit_exact_in_ort ? 1 : 0)
            << " (largest float32 value " << report.max_bound << " LSB, limit 2^24)\n";
  nlohmann::json layers = nlohmann::json::array();
  for (const rt::OnnxInexactValue& x : report.inexact) {
    layers.push_back({{"op", x.op},
                      {"op_type", x.op_type},
                      {"channel", x.channel},
                      {"bound", x.bound},
                      {"terms", x.terms},
                      {"max_error_lsb", x.max_error_lsb}});
  }
  return {{"onnx", args.output},
          {"float_reference", args.float_reference},
          {"bit_exact_in_ort", report.bit_exact_in_ort},
          {"max_float_bound", report.max_bound},
          {"inexact", layers},
          {"nodes", report.nodes},
          {"qdq_convs", report.qdq_convs},
          {"integer_convs", report.integer_convs},
          {"clips", report.clips},
          {"input", report.input_name},
          {"input_type", report.input_type},
          {"output", report.output_name}};
}

}  // namespace f8net::cli
#endif
