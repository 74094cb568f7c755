// build_stage(): one fused chain -> its microkernel's arguments. Packs conv/FC weights for the
// ISA row's GEMM (K in (ky, kx, c) order = NHWC patches): s8 quads [n/nr][kp/4][nr][4] with
// init = bias - 128 * sum(w) for signed sources (mod 2^32), or s16 pairs [n/nr][kp/2][nr][2]
// with init = bias; packs depthwise weights as int16 pairs, and turns the absorbed Add / ReLU /
// Requantize into per-channel shift tables.
#include <algorithm>
#include <memory>

#include "ops/fused-program.h"
#include "ops/gemm-plan.h"
#include "ops/op-window.h"

namespace f8net::rt::ops {
namespace {

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// The epilogue tables of a chain whose accumulator is value `acc_value`.
void build_epilogue(const ModelDef& model, const GraphInfo& info, int32_t acc_value, int32_t add_op,
                    int32_t add_other, int32_t relu_op, int32_t requant_op, StageTables* st,
                    kernels::Epilogue* ep) {
  const ValueInfo& acc = info.values[static_cast<size_t>(acc_value)];
  const int32_t n = acc.shape.c;
  const size_t padded = static_cast<size_t>(round_up(n, 64));
  ep->n = n;
  if (add_op >= 0) {
    const ValueInfo& sum = info.values[static_cast<size_t>(add_op) + 1];
    const ValueInfo& other = info.values[static_cast<size_t>(add_other)];
    st->add_self.assign(padded, 0);
    st->add_other.assign(padded, 0);
    for (int32_t c = 0; c < n; ++c) {
      st->add_self[static_cast<size_t>(c)] = sum.fl[c] - acc.fl[c];
      st->add_other[static_cast<size_t>(c)] = sum.fl[c] - other.fl[c];
    }
    ep->add_self = st->add_self.data();
    ep->add_other = st->add_other.data();
  }
  ep->relu = relu_op >= 0;
  if (requant_op >= 0) {
    const OpDef& rq = model.ops[static_cast<size_t>(requant_op)];
    const ValueInfo& in = info.values[static_cast<size_t>(rq.inputs[0])];
    st->rshift.assign(padded, 0);
    st->lshift.assign(padded, 0);
    st->rmask.assign(padded, 0);
    st->rhalf.assign(padded, 1);
    for (int32_t c = 0; c < n; ++c) {
      const int32_t shift = in.fl[c] - rq.out_fl;
      st->rshift[static_cast<size_t>(c)] = std::max(shift, 0);
      st->lshift[static_cast<size_t>(c)] = std::max(-shift, 0);
      const uint32_t mask = (uint32_t{1} << std::max(shift, 0)) - 1;  // shift <= 31
      st->rmask[static_cast<size_t>(c)] = static_cast<int32_t>(mask);
      st->rhalf[static_cast<size_t>(c)] = static_cast<int32_t>((mask >> 1) + 1);
      if (shift < 0) ep->any_left = true;
    }
    ep->requant = true;
    ep->out_signed = rq.out_signed;
    ep->out_bits = rq.code_bits;
    ep->rshift = st->rshift.data();
    ep->lshift = st->lshift.data();
    ep->rmask = st->rmask.data();
    ep->rhalf = st->rhalf.data();
  }
}

std::string kernel_name(const kernels::FusedKernels& ks, const std::string& base) {
  return base + "__" + kernels::isa_name(ks.isa);
}

// The geometry GemmConvArgs and DepthwiseArgs share. An FC is a conv whose kernel covers its
// whole input (stride 1, no padding: the args' defaults).
template <class Args>
void set_geometry(const OpDef& op, const ValueInfo& src, const ValueInfo& dst, Args* a) {
  a->src_signed = src.dtype == DType::kInt8;
  a->c = src.shape.c;
  a->h = src.shape.h;
  a->w = src.shape.w;
  a->oh = dst.shape.h;
  a->ow = dst.shape.w;
  if (op.type == OpType::kFullyConnected) {
    a->kh = src.shape.h;
    a->kw = src.shape.w;
    return;
  }
  copy_window(op, a);
  a->dh = op.dilation_h;
  a->dw = op.dilation_w;
}

// Whether vpmaddubsw is exact for these weights (gemm-u8s8-driver.h): patches are bytes in
// [0, 255], so a pair (K indices 2j, 2j + 1 in (ky, kx, c) order, the last one padded with a zero
// weight) sums to at most 255 * (its positive weights) and at least -255 * (its |negative|
// weights); both stay inside int16 when each of those weight sums is at most 128.
bool safe_weight_pairs(const OpDef& op, int32_t c, int32_t kh, int32_t kw) {
  const int64_t k = int64_t{kh} * kw * c;
  for (int32_t o = 0; o < op.out_channels; ++o) {
    // The weights are stored [o][ci][ky][kx]; K runs (ky, kx, ci).
    const int8_t* wo = op.weights.data() + static_cast<size_t>(int64_t{o} * k);
    int32_t pos = 0, neg = 0;
    int64_t kidx = 0;
    for (int32_t ky = 0; ky < kh; ++ky) {
      for (int32_t kx = 0; kx < kw; ++kx) {
        for (int32_t ci = 0; ci < c; ++ci) {
          const int32_t w = wo[(int64_t{ci} * kh + ky) * kw + kx];
          (w > 0 ? pos : neg) += w > 0 ? w : -w;
          if (++kidx % 2 == 0) {
            if (pos > 128 || neg > 128) return false;
            pos = neg = 0;
          }
        }
      }
    }
    if (pos > 128 || neg > 128) return false;  // an odd K's last pair (its partner weight is 0)
  }
  return true;
}

void build_gemm(const OpDef& op, const ValueInfo& src, const ValueInfo& dst,
                const kernels::FusedKernels& ks, int threads, StageTables* t, FusedStage* st) {
  kernels::GemmConvArgs& g = st->gemm;
  const bool fc = op.type == OpType::kFullyConnected;
  set_geometry(op, src, dst, &g);
  const int32_t n = dst.shape.c;
  const int64_t k = int64_t{g.kh} * g.kw * g.c;
  g.k = static_cast<int32_t>(k);
  g.kp = static_cast<int32_t>(round_up(k, 4));
  const int32_t nr = ks.gemm_nr;
  const int64_t n_blocks = round_up(n, nr) / nr;
  // avx512vnni: quads always; avxvnni: quads through the u8s8 driver always; avx2 / avx512:
  // quads (vpmaddubsw) when the weights allow, else s16 pairs.
  const bool vnni = ks.packing == kernels::GemmPacking::kU8S8Quads;
  const bool u8s8 = !vnni && ks.gemm_conv_u8s8 != nullptr &&
                    (ks.u8s8_any_weights || safe_weight_pairs(op, g.c, g.kh, g.kw));
  const bool quads = vnni || u8s8;
  st->gemm_fn = u8s8 ? ks.gemm_conv_u8s8 : ks.gemm_conv;
  const bool subtract = quads && g.src_signed;  // +128 flip: init carries -128 * sum(w)
  if (quads) {
    t->packed.assign(static_cast<size_t>(n_blocks * g.kp * nr), 0);
  } else {
    t->packed16.assign(static_cast<size_t>(n_blocks * g.kp * nr), 0);
  }
  t->init.assign(static_cast<size_t>(round_up(n_blocks * nr, 64)), 0);
  for (int32_t o = 0; o < n; ++o) {
    int64_t sum = 0;
    const int64_t block = int64_t{o / nr} * g.kp * nr;
    const int32_t lane = o % nr;
    for (int32_t ci = 0; ci < g.c; ++ci) {
      for (int32_t ky = 0; ky < g.kh; ++ky) {
        for (int32_t kx = 0; kx < g.kw; ++kx) {
          const int8_t w =
              op.weights[static_cast<size_t>(((int64_t{o} * g.c + ci) * g.kh + ky) * g.kw + kx)];
          const int64_t kidx = (int64_t{ky} * g.kw + kx) * g.c + ci;
          if (quads) {
            t->packed[static_cast<size_t>(block + (kidx / 4) * 4 * nr + lane * 4 + kidx % 4)] = w;
          } else {
            t->packed16[static_cast<size_t>(block + (kidx / 2) * 2 * nr + lane * 2 + kidx % 2)] = w;
          }
          sum += w;
        }
      }
    }
    const int64_t init = int64_t{op.bias[static_cast<size_t>(o)]} - (subtract ? 128 * sum : 0);
    t->init[static_cast<size_t>(o)] = static_cast<int32_t>(static_cast<uint32_t>(init));
  }
  g.packed = quads ? t->packed.data() : nullptr;
  g.packed16 = quads ? nullptr : t->packed16.data();
  g.init = t->init.data();
  const bool pointwise =
      g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 && g.c % 4 == 0;
  const bool whole = g.oh == 1 && g.ow == 1 && g.kh == g.h && g.kw == g.w && g.ph == 0 &&
                     g.pw == 0 && g.dh == 1 && g.dw == 1 && g.k % 4 == 0;
  g.direct = vnni && (pointwise || whole);  // the other drivers always gather (im2col)
  const int64_t patch_bytes = quads ? g.kp : 2 * int64_t{g.kp};
  GemmShape shape;
  shape.m = int64_t{g.oh} * g.ow;
  shape.n_blocks = n_blocks;
  shape.nr = nr;
  shape.mr = ks.gemm_mr;
  shape.kp = g.kp;
  shape.patch_bytes = g.direct ? 0 : patch_bytes;
  // vpdpbusd zmm: 64 MACs; vpmaddwd: 32 (zmm) or 16 (ymm); two vector ports; vpmaddubsw: 4/3
  // of vpmaddwd's rate (three instructions per 32 MACs instead of two per 16).
  const double s16_rate = nr >= 64 ? 64 : 32;
  const double u8s8_rate = s16_rate * (ks.u8s8_any_weights ? 2.0 : 4.0 / 3);
  shape.macs_per_cycle = vnni ? 128 : u8s8 ? u8s8_rate : s16_rate;
  const GemmPlan plan = plan_gemm(shape, threads);
  g.tap_rows = vnni && !g.direct && g.dw == 1 && g.c % 4 == 0;
  set_gemm_plan(plan, patch_bytes, &g);
  st->gemm_shape = shape;
  st->family = StageFamily::kGemm;
  st->name =
      kernel_name(ks, std::string(g.src_signed ? "s8" : "u8") + (fc ? "_gemm_fc_" : "_gemm_conv_") +
                          ks.gemm_tile + (u8s8 ? "q" : ""));
  st->items = plan.items;
  st->macs = shape.m * n * k;
  st->work_per_item = st->macs / std::max<int64_t>(st->items, 1);
}

// DepthwisePacking::kTapQuads (kernels/fused-args.h): s8 quads in `packed` and the Q-ordered
// init after the bias in `init`.
void pack_depthwise_quads(const OpDef& op, int32_t c, int64_t taps, bool src_signed,
                          StageTables* tables) {
  const int64_t blocks = round_up(c, 64) / 64, quads = (taps + 3) / 4;
  tables->packed.assign(static_cast<size_t>(blocks * quads * 256), 0);
  const size_t init_at = tables->init.size();
  tables->init.resize(init_at + static_cast<size_t>(blocks * 64), 0);
  for (int64_t b = 0; b < blocks; ++b) {
    for (int32_t q = 0; q < 4; ++q) {
      for (int32_t lane = 0; lane < 16; ++lane) {
        const int64_t ch = 64 * b + 16 * (lane / 4) + 4 * q + lane % 4;
        if (ch >= c) continue;
        int32_t init = op.bias[static_cast<size_t>(ch)];
        for (int64_t t = 0; t < taps; ++t) {
          const int8_t w = op.weights[static_cast<size_t>(ch * taps + t)];
          tables
              ->packed[static_cast<size_t>(((b * quads + t / 4) * 4 + q) * 64 + 4 * lane + t % 4)] =
              w;
          // Wraps like the kernel's int32 sums (mod 2^32); the true sums fit (loader's bound).
          if (src_signed)
            init = static_cast<int32_t>(static_cast<uint32_t>(init) -
                                        128u * static_cast<uint32_t>(static_cast<int32_t>(w)));
        }
        tables->init[init_at + static_cast<size_t>(b * 64 + 16 * q + lane)] = init;
      }
    }
  }
}

void build_depthwise(const OpDef& op, const ValueInfo& src, const ValueInfo& dst,
                     const kernels::FusedKernels& ks, int threads, StageTables* tables,
                     FusedStage* st) {
  kernels::DepthwiseArgs& d = st->dw;
  set_geometry(op, src, dst, &d);
  const int64_t cpad = round_up(d.c, 16);
  const int64_t taps = int64_t{d.kh} * d.kw;
  const int64_t pairs = (taps + 1) / 2;
  // Pairs [pairs][cpad] (avx2), then one int32 per tap [taps][cpad] holding uint16(w) (avx512).
  tables->weights32.assign(static_cast<size_t>((pairs + taps) * cpad), 0);
  tables->init.assign(static_cast<size_t>(round_up(d.c, 64)), 0);
  for (int32_t c = 0; c < d.c; ++c) {
    for (int64_t t = 0; t < taps; ++t) {
      const auto w = static_cast<uint16_t>(int16_t{op.weights[static_cast<size_t>(c * taps + t)]});
      uint32_t& pair =
          reinterpret_cast<uint32_t&>(tables->weights32[static_cast<size_t>((t / 2) * cpad + c)]);
      pair |= t % 2 == 0 ? uint32_t{w} : uint32_t{w} << 16;
      tables->weights32[static_cast<size_t>((pairs + t) * cpad + c)] = int32_t{w};
    }
    tables->init[static_cast<size_t>(c)] = op.bias[static_cast<size_t>(c)];
  }
  const bool quads = ks.dw_packing == kernels::DepthwisePacking::kTapQuads;
  // Blocks of at most 32 channels take the widening kernel: no quad tables for c <= 32.
  if (quads && d.c > 32) pack_depthwise_quads(op, d.c, taps, d.src_signed, tables);
  d.weights = tables->weights32.data();
  d.tap_weights = tables->weights32.data() + pairs * cpad;
  d.bias = tables->init.data();
  if (quads && d.c > 32) {
    d.quad_weights = tables->packed.data();
    d.quad_init = tables->init.data() + round_up(d.c, 64);
  }
  // Few output rows (7 x 7 maps): split the channels too (16-channel groups, or 64-channel
  // blocks for quads), so T threads get equal work.
  const int64_t units = quads ? round_up(d.c, 64) / 64 : cpad / 16;
  d.c_split = 1;
  if (threads > 1 && d.oh < 8 * threads) {
    d.c_split = static_cast<int32_t>(std::min<int64_t>(units, (8 * threads + d.oh - 1) / d.oh));
  }
  st->family = StageFamily::kDepthwise;
  st->name = kernel_name(ks, std::string(d.src_signed ? "s8" : "u8") + "_dw_conv_" +
                                 (quads ? std::string("64c_quads") : std::string(ks.vec)));
  st->items = int64_t{d.oh} * d.c_split;
  st->macs = int64_t{d.oh} * d.ow * d.c * taps;
  st->work_per_item = int64_t{d.ow} * d.c * taps / d.c_split;
}

}  // namespace

void set_gemm_plan(const GemmPlan& plan, int64_t patch_bytes, kernels::GemmConvArgs* g) {
  g->m_tile = static_cast<int32_t>(plan.m_tile);
  g->n_split = plan.n_split;
  g->pixel_list_offset = round_up(plan.m_tile * patch_bytes + kernels::kScratchSlack, 64);
  g->scratch_stride =
      g->direct ? 0
                : g->pixel_list_offset + (g->tap_rows ? round_up(plan.m_tile * 8, 64) : int64_t{0});
}

Status build_stage(const ModelDef& model, const GraphInfo& info, int32_t head, int32_t add_op,
                   int32_t add_other, int32_t relu_op, int32_t requant_op,
                   const kernels::FusedKernels& ks, int threads, FusedStage* st) {
  st->kernels = &ks;
  auto tables = std::make_shared<StageTables>();
  StageTables* t = tables.get();
  st->tables = tables;
  const OpDef& op = model.ops[static_cast<size_t>(head)];
  const ValueInfo& src = info.values[static_cast<size_t>(op.inputs[0])];
  const ValueInfo& dst = info.values[static_cast<size_t>(head) + 1];
  int32_t acc_value = head + 1;
  switch (op.type) {
    case OpType::kConv2d:
      if (op.groups == 1) {
        build_gemm(op, src, dst, ks, threads, t, st);
      } else if (op.groups == src.shape.c && op.out_channels == src.shape.c &&
                 int64_t{op.kernel_h} * op.kernel_w <= 64) {
        build_depthwise(op, src, dst, ks, threads, t, st);
      } else {
        return Status(StatusCode::kUnsupported,
                      "op " + std::to_string(head) + ": grouped conv not in the fused engine");
      }
      break;
    case OpType::kFullyConnected:
      build_gemm(op, src, dst, ks, threads, t, st);
      break;
    case OpType::kAdd:
      add_op = head;
      add_other = op.inputs[1];
      acc_value = op.inputs[0];
      break;
    case OpType::kRelu:
      relu_op = head;
      acc_value = op.inputs[0];
      break;
    case OpType::kRequantize:
      requant_op = head;
      acc_value = op.inputs[0];
      break;
    case OpType::kMaxPool:
    case OpType::kGlobalSumPool:
      break;
  }
  kernels::EltArgs& e = st->elt;
  e.c = src.shape.c;
  e.h = src.shape.h;
  e.w = src.shape.w;
  e.oh = dst.shape.h;
  e.ow = dst.shape.w;
  if (op.type == OpType::kMaxPool) {
    copy_window(op, &e);
    st->family = StageFamily::kMaxPool;
    if (requant_op >= 0) build_epilogue(model, info, head + 1, -1, -1, -1, requant_op, t, &e.ep);
    st->name = kernel_name(
        ks, std::string(requant_op >= 0 ? "s32_maxpool_requant_" : "s32_maxpool_") + ks.vec);
    st->items = int64_t{e.oh} * e.ow;
    st->work_per_item = int64_t{e.c} * e.kh * e.kw;
    return Status::ok();
  }
  if (op.type == OpType::kGlobalSumPool) {
    st->family = StageFamily::kGlobalSumPool;
    st->name = kernel_name(ks, "s32_globalsumpool_16c");
    st->items = round_up(e.c, 16) / 16;
    st->work_per_item = int64_t{e.h} * e.w * 16;
    return Status::ok();
  }
  kernels::Epilogue* ep = op.type == OpType::kConv2d || op.type == OpType::kFullyConnected
                              ? (st->family == StageFamily::kGemm ? &st->gemm.ep : &st->dw.ep)
                              : &e.ep;
  build_epilogue(model, info, acc_value, add_op, add_other, relu_op, requant_op, t, ep);
  if (ep == &e.ep) {
    st->family = StageFamily::kPointwise;
    st->name = kernel_name(ks, std::string("s32_pointwise_") + ks.vec);
    st->items = int64_t{e.h} * e.w;
    st->work_per_item = e.c;
  }
  return Status::ok();
}

}  // namespace f8net::rt::ops
