// The project's central check (F8NET.md decision 3): a trained fixed-point checkpoint's float64
// exact evaluation, its float32 simulation and the integer runtime run on the same validation
// images; the runtime must reproduce the exact evaluation's logits bit for bit. The runtime is
// fed the input codes the exact evaluation quantizes its input to (runtime_input_codes).
#pragma once

#include <cstdint>
#include <functional>

#include "f8net/qat/checkpoint-model.h"
#include "f8net/rt/interpreter.h"

namespace f8net::qat {

struct VerifyOptions {
  int64_t limit = 0;    // verify only the first `limit` images (0: all)
  int64_t batch = 200;  // images per exact-evaluation batch
  // Called after each batch with (batches done, batches in all); may be empty.
  std::function<void(int64_t, int64_t)> progress;
};

struct VerifyReport {
  int64_t images = 0, bit_exact = 0;  // images whose every logit is identical
  int64_t logits = 0, logits_bit_exact = 0;
  int64_t top1_agree = 0, top1_agree_float32 = 0;  // runtime top-1 = exact / float32 top-1
  int64_t correct_runtime = 0, correct_exact = 0, correct_float32 = 0;
};

// Runs the three evaluations of `cm` (a fixed-mode checkpoint) against `runtime` (a prepared
// interpreter holding its export). Throws std::runtime_error with one line when the two do not
// belong together (input shape, normalization, class count) or a run fails; a logit that
// differs is not an error here but a count in the report.
VerifyReport verify_runtime(const CheckpointModel& cm, rt::Interpreter& runtime,
                            const VerifyOptions& options);

// The runtime input codes of `count` values of one image, as the exact evaluation's input node
// computes them: raw images (raw01) code = rne(255 x) in [0, 255]; normalized ones
// code = saturate(rne(x * 2^FL)) with the input's FL and signedness. `codes` gets `count` bytes.
void runtime_input_codes(const float* x, int64_t count, const rt::InputDef& input, bool raw01,
                         void* codes);

}  // namespace f8net::qat
