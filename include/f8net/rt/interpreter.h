// The integer-only interpreter. load() validates a model; prepare() plans one arena (buffers are
// reused once dead), picks kernels and starts the threads; run() computes one image and never
// allocates. Outputs are identical for every thread count and kernel choice.
// Usage: Interpreter it; it.load(model); it.prepare({}); fill it.input_data(); it.run();
//        it.output() -> int32 logits with a FL per channel (value = logit * 2^-FL).
// One Interpreter runs one image at a time (it uses its own threads inside run()); for
// concurrent inference use one Interpreter per calling thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "f8net/rt/model.h"
#include "f8net/rt/status.h"
#include "f8net/rt/tensor.h"

namespace f8net::rt {

struct InterpreterOptions {
  int num_threads = 0;           // 0: the machine's hardware threads
  bool force_reference = false;  // also forced by F8NET_FORCE_REFERENCE=1 or the CMake option
  // prepare() refuses a model whose planned arena is larger (a file must not exhaust memory).
  uint64_t max_arena_bytes = uint64_t{1} << 30;
};

class Interpreter {
 public:
  Interpreter();
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  Status load(ModelDef model);
  Status load_file(const std::string& path);
  Status load_memory(const uint8_t* data, size_t size);
  Status prepare(const InterpreterOptions& options = {});

  // The input buffer (input().bytes() bytes of codes); valid after prepare().
  void* input_data();
  TensorView input() const;
  // Copies `bytes` (must equal input().bytes()) into the input buffer.
  Status set_input(const void* codes, size_t bytes);
  // Checks the input codes are in range, then runs every op. No allocation.
  Status run();
  // The last op's int32 tensor and its per-channel FLs; valid after run().
  TensorView output() const;

  const ModelDef& model() const;
  const GraphInfo& graph_info() const;
  int num_threads() const;
  size_t arena_bytes() const;
  // The kernel chosen for op i (after prepare()), e.g. "u8_conv2d_generic__ref".
  const char* kernel_name(int op) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace f8net::rt
