// prepare_fused(): chains -> stages -> buffers (one per stage, planned like IR values, so a
// buffer is reused once its last reader ran and never aliases a live input) -> arena, per-thread
// scratch, and the addresses in every stage's arguments. run_stage(): one kernel over all items,
// split by the pool in fixed contiguous ranges (each output written by exactly one call).
#include "ops/fused-program.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <new>

#include "graph/fusion.h"
#include "graph/memory-plan.h"
#include "ops/conv-pool.h"

namespace f8net::rt::ops {
namespace {

constexpr int64_t kMinParallelWork = 1 << 15;

void run_items(const void* ctx, int64_t begin, int64_t end, int thread) {
  const auto* st = static_cast<const FusedStage*>(ctx);
  const kernels::FusedKernels& k = *st->kernels;
  switch (st->family) {
    case StageFamily::kGemm:
      st->gemm_fn(st->gemm, begin, end, thread);
      break;
    case StageFamily::kConvPool:  // run_stage runs it (two passes)
      break;
    case StageFamily::kDepthwise:
      k.depthwise_conv(st->dw, begin, end, thread);
      break;
    case StageFamily::kPointwise:
      k.s32_pointwise(st->elt, begin, end, thread);
      break;
    case StageFamily::kMaxPool:
      k.s32_maxpool(st->elt, begin, end, thread);
      break;
    case StageFamily::kGlobalSumPool:
      k.s32_global_sum_pool(st->elt, begin, end, thread);
      break;
    case StageFamily::kToHwc:
      k.u8_chw_to_hwc(st->layout, begin, end, thread);
      break;
    case StageFamily::kToChw:
      k.s32_hwc_to_chw(st->layout, begin, end, thread);
      break;
  }
}

uint64_t bytes_of(const ValueInfo& v) {
  return static_cast<uint64_t>(v.shape.elements()) * dtype_size(v.dtype);
}

// Allocates p's arena and scratch and points every stage's arguments at its buffers.
Status allocate_and_bind(FusedProgram* prog) {
  FusedProgram& p = *prog;
  if (!p.arena.allocate(std::max<uint64_t>(p.arena_bytes, 64)) ||
      !p.scratch.allocate(std::max<uint64_t>(p.scratch_bytes, 64))) {
    return Status(StatusCode::kUnsupported,
                  "cannot allocate a " + std::to_string(p.arena_bytes) + "-byte arena");
  }
  p.buffers.resize(p.offsets.size());
  for (size_t b = 0; b < p.offsets.size(); ++b) p.buffers[b] = p.arena.data() + p.offsets[b];
  for (FusedStage& st : p.stages) {
    uint8_t* src = p.buffers[static_cast<size_t>(st.src_buf)];
    uint8_t* dst = p.buffers[static_cast<size_t>(st.out_buf)];
    const int32_t* other =
        st.other_buf >= 0
            ? reinterpret_cast<const int32_t*>(p.buffers[static_cast<size_t>(st.other_buf)])
            : nullptr;
    st.layout.src = src;
    st.layout.dst = dst;
    st.gemm.src = src;
    st.gemm.scratch = p.scratch.data();
    int32_t* out32 = st.out32_buf >= 0
                         ? reinterpret_cast<int32_t*>(p.buffers[static_cast<size_t>(st.out32_buf)])
                         : nullptr;
    for (kernels::Epilogue* ep : {&st.gemm.ep, &st.dw.ep, &st.elt.ep}) {
      ep->out = dst;
      ep->other = other;
      ep->out32 = out32;
    }
    st.dw.src = src;
    st.elt.src = reinterpret_cast<const int32_t*>(src);
    if (st.partials_buf >= 0) {
      st.conv_pool.partials =
          reinterpret_cast<int32_t*>(p.buffers[static_cast<size_t>(st.partials_buf)]);
    }
  }
  p.output = p.buffers[static_cast<size_t>(p.output_buf)];
  return Status::ok();
}

// Moves every stage's packed GEMM and depthwise weights into one PageBuffer (each stage's at a
// 64-byte boundary) and points the stages' arguments at it: one block instead of a heap
// allocation per stage, so large models get huge pages (page-buffer.h).
Status pool_weights(FusedProgram* prog) {
  FusedProgram& p = *prog;
  auto line = [](uint64_t n) { return (n + 63) / 64 * 64; };
  uint64_t total = 0;
  for (const FusedStage& st : p.stages) {
    if (st.tables == nullptr) continue;
    total += line(st.tables->packed.size()) + line(2 * st.tables->packed16.size());
  }
  if (total == 0) return Status::ok();
  auto pool = std::make_shared<PageBuffer>();
  if (!pool->allocate(total)) {
    return Status(StatusCode::kUnsupported,
                  "cannot allocate " + std::to_string(total) + " bytes of packed weights");
  }
  uint64_t at = 0;
  std::vector<uint64_t> weight_at(p.stages.size(), 0), weight_bytes(p.stages.size(), 0);
  for (size_t s = 0; s < p.stages.size(); ++s) {
    FusedStage& st = p.stages[s];
    if (st.tables == nullptr) continue;
    StageTables& t = *st.tables;
    weight_at[s] = at;
    if (!t.packed.empty()) {
      auto* dst = reinterpret_cast<int8_t*>(pool->data() + at);
      std::memcpy(dst, t.packed.data(), t.packed.size());
      if (st.gemm.packed == t.packed.data()) st.gemm.packed = dst;
      if (st.dw.quad_weights == t.packed.data()) st.dw.quad_weights = dst;
      at += line(t.packed.size());
      std::vector<int8_t>().swap(t.packed);
    }
    if (!t.packed16.empty()) {
      auto* dst = reinterpret_cast<int16_t*>(pool->data() + at);
      std::memcpy(dst, t.packed16.data(), 2 * t.packed16.size());
      if (st.gemm.packed16 == t.packed16.data()) st.gemm.packed16 = dst;
      at += line(2 * t.packed16.size());
      std::vector<int16_t>().swap(t.packed16);
    }
    weight_bytes[s] = at - weight_at[s];
  }
  // Each GEMM stage prefetches the next weighted stage's weights.
  const uint8_t* next = nullptr;
  int64_t next_bytes = 0;
  for (size_t s = p.stages.size(); s-- > 0;) {
    FusedStage& st = p.stages[s];
    st.gemm.prefetch = next;
    st.gemm.prefetch_bytes = next_bytes;
    if (weight_bytes[s] > 0) {
      next = pool->data() + weight_at[s];
      next_bytes = static_cast<int64_t>(weight_bytes[s]);
    }
  }
  p.weights = std::move(pool);
  return Status::ok();
}

// Whether two Requantize ops make the same codes (FL, signedness, word length).
bool same_code_format(const OpDef& a, const OpDef& b) {
  return a.out_fl == b.out_fl && a.out_signed == b.out_signed && a.code_bits == b.code_bits;
}

// The first of `earlier` (Requantize ops reading op's input) that makes the same code format, or
// -1.
int32_t first_same_requantize(const ModelDef& model, const std::vector<int32_t>& earlier,
                              const OpDef& op) {
  for (int32_t e : earlier) {
    if (same_code_format(model.ops[static_cast<size_t>(e)], op)) return e;
  }
  return -1;
}

// When the HWC input has one reader and it is a GEMM with padding (ResNet's 7x7/2 stem), the
// layout stage writes the padding around the image (code 0, as a padding tap reads) and the GEMM
// reads the larger image without padding: no patch touches the border, and its border patches
// were a third of the stem's patch gathering (perf, 1 thread, Zen 4). The same bytes either way.
void pad_model_input(FusedProgram* p, int32_t hwc_buf, std::vector<uint64_t>* sizes) {
  FusedStage* reader = nullptr;
  for (size_t s = 1; s < p->stages.size(); ++s) {
    FusedStage& st = p->stages[s];
    if (st.src_buf != hwc_buf && st.other_buf != hwc_buf) continue;
    if (reader != nullptr || st.other_buf == hwc_buf) return;
    reader = &st;
  }
  if (reader == nullptr ||
      (reader->family != StageFamily::kGemm && reader->family != StageFamily::kConvPool)) {
    return;
  }
  kernels::GemmConvArgs& g = reader->gemm;
  if (g.direct || (g.ph == 0 && g.pw == 0)) return;
  kernels::LayoutArgs& layout = p->stages[0].layout;
  layout.pad_h = g.ph;
  layout.pad_w = g.pw;
  g.h += 2 * g.ph;
  g.w += 2 * g.pw;
  g.ph = g.pw = 0;
  (*sizes)[static_cast<size_t>(hwc_buf)] = static_cast<uint64_t>(g.h) * g.w * g.c;
}

}  // namespace

bool fused_supports(const ModelDef& model) {
  for (const OpDef& op : model.ops) {
    if (op.type == OpType::kConv2d && op.groups != 1 && int64_t{op.kernel_h} * op.kernel_w > 64) {
      return false;
    }
  }
  return true;
}

Status prepare_fused(const ModelDef& model, const GraphInfo& info, const kernels::FusedKernels& ks,
                     int threads, uint64_t max_arena_bytes, FusedProgram* out) {
  FusedProgram& p = *out;
  p = FusedProgram{};
  const std::vector<FusedChain> chains = plan_fusion(model);
  const size_t n_values = model.ops.size() + 1;
  std::vector<int32_t> buf_of_value(n_values, -1);
  std::vector<uint64_t> sizes;
  std::vector<int32_t> written_at;  // per buffer: the stage that writes it
  auto add_bytes = [&](uint64_t bytes, int32_t stage) {
    sizes.push_back(bytes);
    written_at.push_back(stage);
    return static_cast<int32_t>(sizes.size()) - 1;
  };
  auto add_buffer = [&](const ValueInfo& v, int32_t stage) {
    return add_bytes(bytes_of(v), stage);
  };
  std::vector<std::vector<int32_t>> readers_of(n_values);  // the ops reading each value
  for (size_t i = 0; i < model.ops.size(); ++i) {
    for (int32_t v : model.ops[i].inputs) {
      if (v >= 0) readers_of[static_cast<size_t>(v)].push_back(static_cast<int32_t>(i));
    }
  }
  add_buffer(info.values[0], -1);  // buffer 0: the API input, CHW

  FusedStage to_hwc;
  to_hwc.family = StageFamily::kToHwc;
  to_hwc.kernels = &ks;
  to_hwc.name = "u8_chw_to_hwc__portable";
  to_hwc.src_buf = 0;
  to_hwc.out_buf = 1;
  to_hwc.layout.c = info.values[0].shape.c;
  to_hwc.layout.h = info.values[0].shape.h;
  to_hwc.layout.w = info.values[0].shape.w;
  to_hwc.items = to_hwc.layout.h;
  to_hwc.work_per_item = int64_t{to_hwc.layout.w} * to_hwc.layout.c;
  p.stages.push_back(std::move(to_hwc));
  buf_of_value[0] = add_buffer(info.values[0], 0);

  // The first Requantize chain reading each value: a chain that stores that value as int32 also
  // writes these codes from its registers (a residual block's output is read as int32 by the
  // next block's Add and as codes by its conv), and the Requantize stage disappears.
  std::vector<int32_t> side_requant(n_values, -1);
  std::vector<bool> absorbed(model.ops.size(), false);
  for (const FusedChain& ch : chains) {
    const OpDef& op = model.ops[static_cast<size_t>(ch.head)];
    if (op.type != OpType::kRequantize) continue;
    int32_t& first = side_requant[static_cast<size_t>(op.inputs[0])];
    if (first < 0) first = ch.head;
  }

  p.stage_of_op.assign(model.ops.size(), -1);
  // Requantize chains so far by the value they read (a Requantize head absorbs nothing).
  std::vector<std::vector<int32_t>> requants_of_value(n_values);
  for (const FusedChain& ch : chains) {
    if (absorbed[static_cast<size_t>(ch.head)]) continue;
    const OpDef& head_op = model.ops[static_cast<size_t>(ch.head)];
    if (head_op.type == OpType::kRequantize) {
      // A second Requantize of the same int32 value to the same code format (a residual block's
      // output read by the next block's conv and by its downsample shortcut) reuses the first's
      // codes: the same bytes, one stage less.
      std::vector<int32_t>& earlier = requants_of_value[static_cast<size_t>(head_op.inputs[0])];
      const int32_t same = first_same_requantize(model, earlier, head_op);
      if (same >= 0) {
        buf_of_value[static_cast<size_t>(ch.out_value)] =
            buf_of_value[static_cast<size_t>(same) + 1];  // op `same` makes value same + 1
        const int32_t stage = p.stage_of_op[static_cast<size_t>(same)];
        p.stage_of_op[static_cast<size_t>(ch.head)] = stage;
        p.stages[static_cast<size_t>(stage)].ir_ops.push_back(ch.head);
        continue;
      }
      earlier.push_back(ch.head);
    }
    const bool has_epilogue = head_op.type == OpType::kConv2d ||
                              head_op.type == OpType::kFullyConnected ||
                              head_op.type == OpType::kAdd || head_op.type == OpType::kRelu ||
                              head_op.type == OpType::kMaxPool;
    const int32_t side =
        has_epilogue && ch.requant_op < 0 ? side_requant[static_cast<size_t>(ch.out_value)] : -1;
    // When every reader of the int32 value is a Requantize to the side one's code format (a
    // block output read by the next block's conv and by its downsample shortcut, no Add), they
    // all take the side codes and nobody reads the int32 bytes: the stage writes codes only
    // (ResNet-18: 1.4 MB of int32 stores per image less).
    bool int32_unread = side >= 0 && static_cast<size_t>(ch.out_value) + 1 != n_values;
    if (int32_unread) {
      const OpDef& rq = model.ops[static_cast<size_t>(side)];
      for (int32_t r : readers_of[static_cast<size_t>(ch.out_value)]) {
        const OpDef& o = model.ops[static_cast<size_t>(r)];
        int32_unread = int32_unread && o.type == OpType::kRequantize && same_code_format(o, rq);
      }
    }
    FusedStage st;
    F8NET_RETURN_IF_ERROR(build_stage(model, info, ch.head, ch.add_op, ch.add_other, ch.relu_op,
                                      side >= 0 ? side : ch.requant_op, ks, threads, &st));
    const OpDef& head = model.ops[static_cast<size_t>(ch.head)];
    st.src_buf = buf_of_value[static_cast<size_t>(head.inputs[0])];
    const int32_t other = head.type == OpType::kAdd ? head.inputs[1] : ch.add_other;
    if (other >= 0) st.other_buf = buf_of_value[static_cast<size_t>(other)];
    // A max pool alone reading the previous stage's int32 conv output joins that stage
    // (conv-pool.h); the conv's int32 buffer is then never written.
    const bool into_conv = head.type == OpType::kMaxPool && !p.stages.empty() &&
                           p.stages.back().out_buf == st.src_buf &&
                           readers_of[static_cast<size_t>(head.inputs[0])].size() == 1 &&
                           can_fuse_conv_pool(p.stages.back(), st);
    const int32_t stage = static_cast<int32_t>(p.stages.size()) - (into_conv ? 1 : 0);
    for (int32_t op : {ch.head, ch.add_op, ch.relu_op, ch.requant_op, side}) {
      if (op < 0) continue;
      st.ir_ops.push_back(op);
      p.stage_of_op[static_cast<size_t>(op)] = stage;
    }
    if (!int32_unread) {
      const int32_t value_buf = add_buffer(info.values[static_cast<size_t>(ch.out_value)], stage);
      buf_of_value[static_cast<size_t>(ch.out_value)] = value_buf;
      st.out_buf = value_buf;
      if (side >= 0) st.out32_buf = value_buf;
    }
    if (side >= 0) {
      st.out_buf = add_buffer(info.values[static_cast<size_t>(side) + 1], stage);
      buf_of_value[static_cast<size_t>(side) + 1] = st.out_buf;
      absorbed[static_cast<size_t>(side)] = true;
      requants_of_value[static_cast<size_t>(ch.out_value)].push_back(side);
    }
    if (!into_conv) {
      p.stages.push_back(std::move(st));
      continue;
    }
    FusedStage& conv = p.stages.back();
    sizes[static_cast<size_t>(conv.out_buf)] = 0;
    conv.ir_ops.insert(conv.ir_ops.end(), st.ir_ops.begin(), st.ir_ops.end());
    conv.out_buf = st.out_buf;
    conv.out32_buf = st.out32_buf;
    const int64_t partial_bytes = fuse_conv_pool(&conv, std::move(st), threads);
    if (partial_bytes > 0)
      conv.partials_buf = add_bytes(static_cast<uint64_t>(partial_bytes), stage);
  }
  pad_model_input(&p, buf_of_value[0], &sizes);
  const ValueInfo& out_info = info.values.back();
  const bool spatial = out_info.shape.h * int64_t{out_info.shape.w} > 1;
  if (spatial) {
    FusedStage to_chw;
    to_chw.family = StageFamily::kToChw;
    to_chw.kernels = &ks;
    to_chw.name = "s32_hwc_to_chw__portable";
    to_chw.src_buf = buf_of_value.back();  // the last op's chain (not always the last stage)
    to_chw.out_buf = add_buffer(out_info, static_cast<int32_t>(p.stages.size()));
    to_chw.layout.c = out_info.shape.c;
    to_chw.layout.h = out_info.shape.h;
    to_chw.layout.w = out_info.shape.w;
    to_chw.items = out_info.shape.c;
    to_chw.work_per_item = int64_t{out_info.shape.h} * out_info.shape.w;
    p.stages.push_back(std::move(to_chw));
  }

  // Liveness in stage order.
  const int32_t n_stages = static_cast<int32_t>(p.stages.size());
  std::vector<int32_t> last_use = written_at;  // a buffer nobody reads dies at once
  for (int32_t s = 0; s < n_stages; ++s) {
    for (int32_t b :
         {p.stages[static_cast<size_t>(s)].src_buf, p.stages[static_cast<size_t>(s)].other_buf}) {
      if (b >= 0) last_use[static_cast<size_t>(b)] = std::max(last_use[static_cast<size_t>(b)], s);
    }
  }
  last_use[0] = n_stages;
  last_use.back() = n_stages;
  last_use[static_cast<size_t>(buf_of_value.back())] = n_stages;
  const MemoryPlan plan = plan_memory(sizes, written_at, last_use);

  uint64_t scratch_stride = 0;
  for (const FusedStage& st : p.stages) {
    if (st.family == StageFamily::kGemm || st.family == StageFamily::kConvPool) {
      scratch_stride =
          std::max<uint64_t>(scratch_stride, static_cast<uint64_t>(st.gemm.scratch_stride));
    }
    if (st.tables != nullptr) {
      const StageTables& t = *st.tables;
      p.packed_bytes +=
          t.packed.size() + 2 * t.packed16.size() + 4 * (t.init.size() + t.weights32.size());
    }
  }
  p.scratch_stride = scratch_stride;
  p.scratch_bytes = scratch_stride * static_cast<uint64_t>(threads);
  if (plan.arena_bytes + p.scratch_bytes > max_arena_bytes) {
    return Status(StatusCode::kUnsupported,
                  "the model needs a " + std::to_string(plan.arena_bytes + p.scratch_bytes) +
                      "-byte arena (limit " + std::to_string(max_arena_bytes) + ")");
  }
  p.offsets = plan.offsets;
  p.arena_bytes = plan.arena_bytes;
  p.output_buf = spatial ? static_cast<int32_t>(sizes.size()) - 1 : buf_of_value.back();
  F8NET_RETURN_IF_ERROR(pool_weights(&p));
  return allocate_and_bind(&p);
}

Status clone_fused_for_image(const FusedProgram& p, FusedProgram* out) {
  FusedProgram& c = *out;
  c = FusedProgram{};
  c.stages = p.stages;  // arguments copied, tables and weights shared
  c.weights = p.weights;
  c.offsets = p.offsets;
  c.arena_bytes = p.arena_bytes;
  c.scratch_stride = p.scratch_stride;
  c.scratch_bytes = p.scratch_stride;  // one thread
  c.stage_of_op = p.stage_of_op;
  c.output_buf = p.output_buf;
  return allocate_and_bind(&c);
}

void run_stage(const FusedStage& st, ThreadPool* pool) {
  const bool parallel =
      pool != nullptr && pool->size() > 1 && st.items * st.work_per_item >= kMinParallelWork;
  if (st.family == StageFamily::kConvPool) {
    run_conv_pool(st, pool, parallel);
    return;
  }
  if (!parallel) {
    run_items(&st, 0, st.items, 0);
    return;
  }
  pool->parallel_for(st.items, run_items, &st);
}

}  // namespace f8net::rt::ops
