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
#include <vector>

#include "f8net/rt/model.h"
#include "f8net/rt/status.h"
#include "f8net/rt/tensor.h"

namespace f8net::rt {

struct InterpreterOptions {
  int num_threads = 0;           // 0: the machine's hardware threads
  bool force_reference = false;  // also forced by F8NET_FORCE_REFERENCE=1 or the CMake option
  // prepare() refuses a model whose planned arena is larger (a file must not exhaust memory).
  uint64_t max_arena_bytes = uint64_t{1} << 30;
  // prepare() refuses a model needing more multiply-accumulates per image (a small file can
  // declare a huge input); 0 = no limit. F8NET_MAX_GMAC=<GMAC> overrides it. 2^35 is ~3x
  // ResNet-152 at 224x224.
  uint64_t max_macs_per_image = uint64_t{1} << 35;
  // "ref", "avx2", "avx512", "avx512vnni", "avxvnni" or "" (the F8NET_ISA environment variable,
  // else the best this CPU has). prepare() refuses an ISA the CPU or build lacks. "ref" runs the
  // IR op by op (CHW, the oracle); "avx2", "avx512" (F/BW/VL/DQ), "avx512vnni" and "avxvnni"
  // (AVX2 + AVX-VNNI) run the fused channels-last engine with their own microkernels. Same bytes
  // for all.
  std::string isa = "";
};

// One kernel call of a prepared model (a fused stage, or one IR op on the op-by-op path).
struct StageInfo {
  std::string kernel;
  std::vector<int32_t> ops;  // the IR ops it computes
  int64_t macs = 0;
  double seconds = 0;  // accumulated over run() calls while profiling is on
};

// The measured int8 multiply-accumulate peak of one core of this CPU in GMAC/s (vpdpbusd zmm when
// the CPU has AVX512-VNNI, else 0), timed for ~20 ms; for benchmarks' "% of peak".
double measure_int8_peak_gmacs_per_core();

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
  // Runs n images: `inputs` holds n * input().bytes() bytes of codes, image after image;
  // `outputs` receives n * output().shape.elements() int32 logits in the same order (each
  // image's bytes equal what run() gives for it alone). On the fused engine with T > 1 threads,
  // the threads share out whole images (those before the first invalid one, when there are at
  // least T), each on its own arena copy made at prepare (arena_bytes() counts them); the rest run
  // one after another, each split over the threads. No allocation. On error, images before the
  // failing one are written.
  Status run_batch(const void* inputs, size_t n, int32_t* outputs);
  // The last op's int32 tensor and its per-channel FLs; valid after run().
  TensorView output() const;

  const ModelDef& model() const;
  const GraphInfo& graph_info() const;
  int num_threads() const;
  size_t arena_bytes() const;
  // The kernel chosen for op i (after prepare()), e.g. "u8_conv2d_generic__ref".
  const char* kernel_name(int op) const;
  // The ISA prepare() chose ("ref", "avx2", "avx512", "avx512vnni").
  const char* isa() const;
  // Bytes of weights packed for the chosen microkernels (0 on the op-by-op path).
  size_t packed_bytes() const;
  // Per-stage timing inside run() (a steady_clock read per stage; no allocation).
  void set_profiling(bool on);
  std::vector<StageInfo> stages() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace f8net::rt
