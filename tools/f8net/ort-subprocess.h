// Running ONNX Runtime from the CLI: tools/onnx/ort-run.js (onnxruntime-node from
// scripts/install-deps) as a subprocess on raw input codes, returning its float32 outputs.
// Used by `f8net verify --onnx`. Failures throw cli::Error with ORT's own message.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace f8net::cli {

struct OrtRunSpec {
  std::string node = "node";
  std::string script;          // ort-run.js; empty: $F8NET_ORT_RUN or the build's copy
  std::string model;           // the .onnx file
  std::string dtype;           // "uint8" or "int8"
  std::vector<int64_t> shape;  // N, C, H, W
  const std::vector<uint8_t>* codes = nullptr;
  std::string opt = "all";  // ORT graph optimization level
  int threads = 1;
};

struct OrtRunResult {
  std::vector<float> outputs;  // N x per-image outputs
  std::string summary;         // ort-run.js's JSON line
};

OrtRunResult run_ort(const OrtRunSpec& spec);

}  // namespace f8net::cli
