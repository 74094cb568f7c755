// `f8net verify --onnx MODEL.onnx --model MODEL.f8`: ONNX Runtime (all graph optimizations, then
// none) against the integer runtime on every Fashion-MNIST test image; every logit must match
// bit for bit (ORT's float * 2^FL == f8net's int32). Runtime-only: no LibTorch needed.
#pragma once

#include <cstdint>
#include <string>

namespace f8net::cli {

struct OnnxVerifyArgs {
  std::string model, onnx;
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string node = "node", ort_run;  // ort_run empty: $F8NET_ORT_RUN or the build's copy
  bool json = false;
  int threads = 0;
  int64_t limit = 0;
};

// Prints a summary (and with json a JSON last line); throws Error when any logit differs.
void onnx_verify_main(const OnnxVerifyArgs& args);

}  // namespace f8net::cli
