// prepare_op(): shapes, geometry, per-channel shifts and kernel choice for each op type;
// run_op(): the kernel call, split across threads by whole work items (bit-identical results
// for any thread count, since every item is computed by exactly one call in the same order).
#include "ops/prepared-op.h"

#include <string>

#include "ops/op-window.h"

namespace f8net::rt::ops {
namespace {

constexpr int64_t kMinParallelWork = 1 << 14;  // inner-loop steps below which threads cost more

void run_chunk(const void* ctx, int64_t begin, int64_t end) {
  const auto* p = static_cast<const PreparedOp*>(ctx);
  p->kernel->fn(p->args, begin, end);
}

}  // namespace

Status prepare_op(const OpDef& op, size_t index, const GraphInfo& info,
                  const std::vector<uint8_t*>& values, bool force_reference, PreparedOp* out) {
  const ValueInfo& src = info.values[static_cast<size_t>(op.inputs[0])];
  const ValueInfo& dst = info.values[index + 1];
  kernels::KernelArgs& a = out->args;
  a = kernels::KernelArgs{};
  a.src = values[static_cast<size_t>(op.inputs[0])];
  a.dst = values[index + 1];
  a.c = src.shape.c;
  a.h = src.shape.h;
  a.w = src.shape.w;
  a.oc = dst.shape.c;
  a.oh = dst.shape.h;
  a.ow = dst.shape.w;
  out->op = op.type;
  switch (op.type) {
    case OpType::kConv2d:
      copy_window(op, &a);
      a.dh = op.dilation_h;
      a.dw = op.dilation_w;
      a.groups = op.groups;
      a.weights = op.weights.data();
      a.bias = op.bias.data();
      out->cost_per_item = int64_t{a.ow} * (a.c / a.groups) * a.kh * a.kw;
      break;
    case OpType::kFullyConnected:
      a.weights = op.weights.data();
      a.bias = op.bias.data();
      out->cost_per_item = src.shape.elements();
      break;
    case OpType::kRequantize:
      out->src_fl = src.fl;
      a.src_fl = out->src_fl.data();
      a.out_fl = op.out_fl;
      a.out_signed = op.out_signed;
      a.out_bits = op.code_bits;
      out->cost_per_item = a.w;
      break;
    case OpType::kRelu:
      out->cost_per_item = a.w;
      break;
    case OpType::kMaxPool:
      copy_window(op, &a);
      out->cost_per_item = int64_t{a.ow} * a.kh * a.kw;
      break;
    case OpType::kAdd: {
      const ValueInfo& src2 = info.values[static_cast<size_t>(op.inputs[1])];
      a.src2 = values[static_cast<size_t>(op.inputs[1])];
      out->shift.resize(static_cast<size_t>(a.c));
      out->shift2.resize(static_cast<size_t>(a.c));
      for (size_t c = 0; c < out->shift.size(); ++c) {
        out->shift[c] = dst.fl[c] - src.fl[c];
        out->shift2[c] = dst.fl[c] - src2.fl[c];
      }
      a.shift = out->shift.data();
      a.shift2 = out->shift2.data();
      out->cost_per_item = a.w;
      break;
    }
    case OpType::kGlobalSumPool:
      out->cost_per_item = int64_t{a.h} * a.w;
      break;
  }
  out->items = kernels::work_items(out->op, a);
  out->kernel = kernels::select_kernel(out->op, src.dtype, dst.dtype, a, force_reference);
  if (out->kernel == nullptr) {
    return Status(StatusCode::kUnsupported,
                  "op " + std::to_string(index) + " (" + op_type_name(op.type) +
                      "): no kernel for " + dtype_name(src.dtype) + " -> " + dtype_name(dst.dtype));
  }
  return Status::ok();
}

void run_op(const PreparedOp& p, ThreadPool* pool) {
  if (pool == nullptr || pool->size() == 1 || p.items * p.cost_per_item < kMinParallelWork) {
    p.kernel->fn(p.args, 0, p.items);
    return;
  }
  pool->parallel_for(p.items, run_chunk, &p);
}

}  // namespace f8net::rt::ops
