// f8net-time: a tiny timing server for the peer benchmark. It loads an .f8 model, prepares it
// with --threads T, prints one JSON line (input size, MACs), then for each stdin line "run K"
// runs K inferences of --batch N images (N = 1: run(); else run_batch()) on fixed random codes
// and prints their wall times (ms, per batch) as JSON.
// The node driver alternates it with ONNX Runtime, so both are timed side by side in one run.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "f8net/rt/interpreter.h"
#include "f8net/rt/model.h"

int main(int argc, char** argv) {
  using namespace f8net;
  if (argc < 2) {
    std::fprintf(stderr, "usage: f8net-time MODEL.f8 [--threads T] [--batch N]\n");
    return 2;
  }
  int threads = 1;
  int batch = 1;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--threads") threads = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--batch") batch = std::atoi(argv[i + 1]);
  }
  if (batch < 1) {
    std::fprintf(stderr, "f8net-time: --batch must be >= 1\n");
    return 2;
  }
  rt::Interpreter it;
  rt::Status st = it.load_file(argv[1]);
  rt::InterpreterOptions options;
  options.num_threads = threads;
  if (st) st = it.prepare(options);
  if (!st) {
    std::fprintf(stderr, "f8net-time: %s: %s\n", argv[1], st.message().c_str());
    return 1;
  }
  rt::GraphInfo info;
  (void)rt::validate_model(it.model(), &info);
  int64_t macs = 0;
  for (const rt::OpInfo& op : info.ops) macs += op.macs;
  const rt::TensorView in = it.input();
  std::vector<uint8_t> codes(in.bytes() * static_cast<size_t>(batch));
  std::mt19937 rng(1);
  const bool is_signed = in.dtype == rt::DType::kInt8;
  for (uint8_t& c : codes) {
    c = is_signed ? static_cast<uint8_t>(static_cast<int8_t>(static_cast<int>(rng() % 255) - 127))
                  : static_cast<uint8_t>(rng() % 256);
  }
  st = it.set_input(codes.data(), in.bytes());
  const size_t classes = static_cast<size_t>(it.output().shape.elements());
  std::vector<int32_t> logits(classes * static_cast<size_t>(batch));
  if (!st) {
    std::fprintf(stderr, "f8net-time: %s\n", st.message().c_str());
    return 1;
  }
  std::cout << "{\"macs\":" << macs << ",\"threads\":" << threads << ",\"input\":[" << in.shape.c
            << "," << in.shape.h << "," << in.shape.w << "],\"dtype\":\""
            << rt::dtype_name(in.dtype) << "\",\"batch\":" << batch << "}" << std::endl;
  std::string cmd;
  int k = 0;
  while (std::cin >> cmd >> k) {
    if (cmd != "run" || k < 1) break;
    std::string times;
    for (int i = 0; i < k; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      st = batch == 1 ? it.run()
                      : it.run_batch(codes.data(), static_cast<size_t>(batch), logits.data());
      const auto t1 = std::chrono::steady_clock::now();
      if (!st) {
        std::fprintf(stderr, "f8net-time: %s\n", st.message().c_str());
        return 1;
      }
      times += (i ? "," : "") +
               std::to_string(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::cout << "{\"ms\":[" << times << "]}" << std::endl;
  }
  return 0;
}
