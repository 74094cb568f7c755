// The fused channels-last program (every ISA but ref): IR ops grouped by graph/fusion.h into
// stages, each one microkernel of the ISA's row of kernels/fused-table.h over work items;
// activations NHWC in one planned arena; weights packed once here for that row's GEMM. Stage 0
// turns the CHW input into NHWC, a last stage turns a spatial output back into CHW, so the API's
// input and output layouts are those of the IR.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "f8net/rt/model.h"
#include "f8net/rt/status.h"
#include "kernels/fused-args.h"
#include "kernels/fused-table.h"
#include "ops/gemm-plan.h"
#include "ops/page-buffer.h"
#include "threads/thread-pool.h"

namespace f8net::rt::ops {

enum class StageFamily {
  kGemm,
  kConvPool,  // a GEMM conv and the max pool that alone reads it (ops/conv-pool.h)
  kDepthwise,
  kPointwise,
  kMaxPool,
  kGlobalSumPool,
  kToHwc,
  kToChw
};

// A stage's packed weights and per-channel tables.
struct StageTables {
  std::vector<int8_t> packed;
  std::vector<int16_t> packed16;
  std::vector<int32_t> init, weights32, rshift, lshift, rmask, rhalf, add_self, add_other;
};

// A kConvPool stage's work: the conv's output rows in bands of band_rows, each of the stage's
// items one band computed into the running thread's scratch (at band_offset) and pooled from there,
// so the conv's int32 tensor never exists whole. A pooled row whose window spans two bands
// ("straddles") gets a partial max from each band into `partials` ([straddle][2][pool ow][c]
// int32), and a second pass takes their max and runs the pool's epilogue: max is exact in any
// grouping, so the bytes are the unfused pool's.
struct ConvPoolPlan {
  int32_t band_rows = 0;  // >= the pool's kernel rows: a window spans at most two bands
  GemmPlan band_plan;     // the conv's items within one band (one thread)
  int64_t band_pixel_list_offset = 0;
  int64_t band_offset = 0;                        // the band's int32 rows in each thread's scratch
  std::vector<int32_t> inside_begin, inside_end;  // per band: pooled rows whose window it holds
  std::vector<int32_t> straddle;                  // pooled rows spanning bands (b - 1, b)
  std::vector<int32_t> straddle_band;             // that b
  int32_t* partials = nullptr;
};

struct FusedStage {
  StageFamily family = StageFamily::kPointwise;
  const kernels::FusedKernels* kernels = nullptr;  // the ISA's row
  std::string name;             // kernel name, e.g. "u8_gemm_conv_6x64__avx512vnni"
  std::vector<int32_t> ir_ops;  // the IR ops this stage computes (head first)
  int64_t items = 0;
  int64_t work_per_item = 0;  // rough inner steps, to decide threading
  int64_t macs = 0;
  int32_t src_buf = -1, other_buf = -1, out_buf = -1;
  // With a side Requantize (its int32 input has other readers): the int32 value (ep.out32), while
  // out_buf holds the codes.
  int32_t out32_buf = -1;
  kernels::GemmConvArgs gemm;
  // The GEMM microkernel for `gemm`: the row's gemm_conv, or its gemm_conv_u8s8 for weights
  // proven safe for vpmaddubsw (the packing follows).
  kernels::FusedFn<kernels::GemmConvArgs> gemm_fn = nullptr;
  GemmShape gemm_shape;  // what gemm's plan was made for
  kernels::DepthwiseArgs dw;
  kernels::EltArgs elt;
  kernels::LayoutArgs layout;
  // Storage the args point into (filled at prepare, never resized afterwards; the packed
  // weights then move to FusedProgram::weights); shared read-only by the copies of the program
  // that run other images of a batch.
  std::shared_ptr<StageTables> tables;
  // kConvPool: elt holds the pool (its tables here), gemm the conv; partials_buf is an arena
  // buffer of this stage only.
  ConvPoolPlan conv_pool;
  std::shared_ptr<const StageTables> pool_tables;
  int32_t partials_buf = -1;
};

struct FusedProgram {
  std::vector<FusedStage> stages;
  std::vector<uint8_t*> buffers;  // buffer 0: the API input (CHW); then in the order written
  std::vector<uint64_t> offsets;  // buffer b at arena + offsets[b]
  PageBuffer arena;
  uint64_t arena_bytes = 0;
  PageBuffer scratch;  // per-thread im2col rows
  // Every stage's packed GEMM and depthwise weights in one block (huge pages when large), which
  // the stages' arguments point into; shared with the clones.
  std::shared_ptr<const PageBuffer> weights;
  uint64_t scratch_bytes = 0;
  uint64_t scratch_stride = 0;       // bytes per thread
  int32_t output_buf = -1;           // the buffer holding the int32 CHW logits
  uint64_t packed_bytes = 0;         // packed weights and widened tables
  std::vector<int32_t> stage_of_op;  // IR op -> stage index
  const uint8_t* output = nullptr;   // int32 CHW logits
};

// Whether every op has a fused kernel (convs: groups 1, or depthwise with kh * kw <= 64).
bool fused_supports(const ModelDef& model);

// Builds the program with `ks`'s kernels for `threads` threads; refuses (kUnsupported) arenas
// above max_arena_bytes.
Status prepare_fused(const ModelDef& model, const GraphInfo& info, const kernels::FusedKernels& ks,
                     int threads, uint64_t max_arena_bytes, FusedProgram* out);

// A program computing the same stages on its own arena and one thread's scratch (for another
// image of a batch), sharing `p`'s packed weights and tables. kUnsupported if allocation fails.
Status clone_fused_for_image(const FusedProgram& p, FusedProgram* out);

// Runs stage s (all its items, on the pool when it is big enough). Allocates nothing.
void run_stage(const FusedStage& st, ThreadPool* pool);

// Sets g's tile, split and scratch layout for `plan` (patch_bytes: scratch bytes per pixel).
void set_gemm_plan(const GemmPlan& plan, int64_t patch_bytes, kernels::GemmConvArgs* g);

// Fills a stage's kernel arguments other than buffer addresses (fused-stages.cc).
Status build_stage(const ModelDef& model, const GraphInfo& info, int32_t head, int32_t add_op,
                   int32_t add_other, int32_t relu_op, int32_t requant_op,
                   const kernels::FusedKernels& ks, int threads, FusedStage* st);

}  // namespace f8net::rt::ops
