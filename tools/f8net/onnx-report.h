// Writing an ONNX model from the CLI (convert, export): the writer's exactness report as text on
// stdout/stderr and as JSON. Compiled only when the ONNX exporter is built (F8NET_HAVE_ONNX).
#pragma once

#ifdef F8NET_HAVE_ONNX
#include <nlohmann/json.hpp>
#include <string>

#include "f8net/rt/model.h"
#include "f8net/rt/onnx.h"

namespace f8net::cli {

struct OnnxWriteArgs {
  std::string output;
  bool float_reference = false;
  bool require_exact = false;  // refuse (write nothing) unless bit_exact_in_ort
};

// Writes `model` as ONNX (atomically), prints one summary line to stdout and the inexact layers
// to stderr; throws Error (nothing written) on failure or when require_exact is not met.
// Returns the JSON summary for --json.
nlohmann::json write_onnx_or_throw(const rt::ModelDef& model, const OnnxWriteArgs& args,
                                   const std::string& command);

}  // namespace f8net::cli
#endif
