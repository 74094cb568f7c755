// The conv + max pool stage (conv-pool.h). Coordinates: the conv writes rows [0, oh) of an
// oh x ow x n int32 image (= the pool's input: elt.h, elt.w, elt.c); band b holds conv rows
// [b * R, min(oh, (b + 1) * R)). Pooled row p reads conv rows [p * sh - ph, + kh) clipped to the
// image; it lies inside band b when its first and last rows do, else it straddles two bands
// (R >= kh, so never more). Each pass is the ordinary kernels on sub-images: the conv as a conv of
// the band's rows (its input rows from band start * stride - padding on), the pool over the band's
// rows with the padding shifted by the band's offset, partials as one-row pools over a window's
// rows in one band, and the merge as a 2 x 1 pool over the two partial rows.
#include "ops/conv-pool.h"

#include <algorithm>

namespace f8net::rt::ops {
namespace {

constexpr int64_t kBandBytes = 256 << 10;  // int32 conv rows per band: L2-resident
constexpr int64_t kMinParallelMerge = 1 << 14;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Conv rows [lo, hi) that pooled row p reads (clipped; the validator keeps it non-empty).
void window_rows(const kernels::EltArgs& e, int32_t p, int32_t* lo, int32_t* hi) {
  *lo = std::max(0, p * e.sh - e.ph);
  *hi = std::min(e.h, p * e.sh - e.ph + e.kh);
}

int32_t* band_rows_of(const FusedStage& st, int thread) {
  return reinterpret_cast<int32_t*>(st.gemm.scratch + thread * st.gemm.scratch_stride +
                                    st.conv_pool.band_offset);
}

// The pool's epilogue writing pooled rows from `row` on (codes or int32, and the int32 side
// output), reading nothing else.
kernels::Epilogue pool_epilogue_at(const kernels::EltArgs& e, int32_t row) {
  kernels::Epilogue ep = e.ep;
  const int64_t at = int64_t{row} * e.ow * e.c;
  ep.other = nullptr;
  ep.out = static_cast<uint8_t*>(e.ep.out) + at * (e.ep.requant ? 1 : 4);
  ep.out32 = e.ep.out32 != nullptr ? e.ep.out32 + at : nullptr;
  return ep;
}

void run_band(const FusedStage& st, int32_t b, int thread) {
  const ConvPoolPlan& cp = st.conv_pool;
  const kernels::GemmConvArgs& g = st.gemm;
  const kernels::EltArgs& e = st.elt;
  const int32_t r0 = b * cp.band_rows, r1 = std::min(g.oh, r0 + cp.band_rows);
  const int64_t conv_row = int64_t{g.ow} * g.ep.n;
  int32_t* rows = band_rows_of(st, thread);

  kernels::GemmConvArgs band = g;
  const int32_t start = r0 * g.sh - g.ph;  // the first input row band row 0 reads
  if (start >= g.h) {  // padding larger than the kernel: the band reads only padding rows
    band.src = g.src + int64_t{g.h} * g.w * g.c;
    band.h = 0;
    band.ph = 0;
  } else if (start >= 0) {
    band.src = g.src + int64_t{start} * g.w * g.c;
    band.h = g.h - start;
    band.ph = 0;
  } else {
    band.ph = -start;
  }
  band.oh = r1 - r0;
  band.m_tile = static_cast<int32_t>(cp.band_plan.m_tile);
  band.n_split = cp.band_plan.n_split;
  band.pixel_list_offset = cp.band_pixel_list_offset;
  band.ep.out = rows;
  band.ep.out32 = nullptr;
  band.prefetch = nullptr;  // every band would prefetch all of it again
  band.ep.other = g.ep.other != nullptr ? g.ep.other + r0 * conv_row : nullptr;
  const int64_t m = int64_t{band.oh} * g.ow;
  const int64_t items = (m + band.m_tile - 1) / band.m_tile * band.n_split;
  st.gemm_fn(band, 0, items, thread);

  const int32_t pa = cp.inside_begin[static_cast<size_t>(b)];
  const int32_t pb = cp.inside_end[static_cast<size_t>(b)];
  if (pb > pa) {
    kernels::EltArgs in = e;
    in.src = rows;
    in.h = r1 - r0;
    in.ph = e.ph + r0 - pa * e.sh;  // negative below the image's top: windows start inside
    in.oh = pb - pa;
    in.ep = pool_epilogue_at(e, pa);
    st.kernels->s32_maxpool(in, 0, int64_t{in.oh} * in.ow, thread);
  }
  for (size_t j = 0; j < cp.straddle.size(); ++j) {
    const int32_t lower = cp.straddle_band[j];
    if (lower != b && lower - 1 != b) continue;
    int32_t lo = 0, hi = 0;
    window_rows(e, cp.straddle[j], &lo, &hi);
    const int32_t a0 = std::max(lo, r0), a1 = std::min(hi, r1);
    kernels::EltArgs part = e;  // one output row: the max over this band's rows of the window
    part.src = rows + (a0 - r0) * conv_row;
    part.h = part.kh = a1 - a0;
    part.sh = 1;
    part.ph = 0;
    part.oh = 1;
    part.ep = kernels::Epilogue{};
    part.ep.n = e.c;
    part.ep.out = cp.partials + (2 * int64_t(j) + (lower == b ? 1 : 0)) * e.ow * e.c;
    st.kernels->s32_maxpool(part, 0, part.ow, thread);
  }
}

void run_bands(const void* ctx, int64_t begin, int64_t end, int thread) {
  const auto* st = static_cast<const FusedStage*>(ctx);
  for (int64_t b = begin; b < end; ++b) run_band(*st, static_cast<int32_t>(b), thread);
}

void run_merges(const void* ctx, int64_t begin, int64_t end, int thread) {
  const auto* st = static_cast<const FusedStage*>(ctx);
  const ConvPoolPlan& cp = st->conv_pool;
  const kernels::EltArgs& e = st->elt;
  for (int64_t j = begin; j < end; ++j) {
    kernels::EltArgs merge = e;  // the two partial rows as a 2-row image, pooled 2 x 1
    merge.src = cp.partials + 2 * j * e.ow * e.c;
    merge.h = merge.kh = 2;
    merge.w = e.ow;
    merge.kw = 1;
    merge.sh = merge.sw = 1;
    merge.ph = merge.pw = 0;
    merge.oh = 1;
    merge.ep = pool_epilogue_at(e, cp.straddle[static_cast<size_t>(j)]);
    st->kernels->s32_maxpool(merge, 0, e.ow, thread);
  }
}

}  // namespace

bool can_fuse_conv_pool(const FusedStage& conv, const FusedStage& pool) {
  return conv.family == StageFamily::kGemm && pool.family == StageFamily::kMaxPool &&
         !conv.gemm.ep.requant && conv.out32_buf < 0 && conv.gemm.oh > 1 &&
         pool.elt.h == conv.gemm.oh && pool.elt.w == conv.gemm.ow && pool.elt.c == conv.gemm.ep.n;
}

int64_t fuse_conv_pool(FusedStage* conv, FusedStage&& pool, int threads) {
  FusedStage& st = *conv;
  const kernels::EltArgs& e = pool.elt;
  const int32_t oh = st.gemm.oh;
  const int64_t row_bytes = int64_t{st.gemm.ow} * st.gemm.ep.n * 4;
  // About 8 bands per thread (so the pool can balance them), each at most kBandBytes, at least
  // the pool's kernel rows, a multiple of its stride (every boundary alike).
  int64_t rows = (oh + 8 * threads - 1) / (8 * int64_t{threads});
  rows = std::min(rows, std::max<int64_t>(1, kBandBytes / row_bytes));
  rows = round_up(std::max<int64_t>(rows, e.kh), e.sh);
  ConvPoolPlan& cp = st.conv_pool;
  cp.band_rows = static_cast<int32_t>(std::min<int64_t>(rows, oh));
  const int32_t bands = (oh + cp.band_rows - 1) / cp.band_rows;
  cp.inside_begin.assign(static_cast<size_t>(bands), 0);
  cp.inside_end.assign(static_cast<size_t>(bands), 0);
  for (int32_t p = 0; p < e.oh; ++p) {
    int32_t lo = 0, hi = 0;
    window_rows(e, p, &lo, &hi);
    const int32_t first = lo / cp.band_rows, last = (hi - 1) / cp.band_rows;
    if (first == last) {
      auto& b = cp.inside_begin[static_cast<size_t>(first)];
      auto& en = cp.inside_end[static_cast<size_t>(first)];
      if (en == b) b = p;  // rows inside one band are contiguous (windows move down with p)
      en = p + 1;
    } else {
      cp.straddle.push_back(p);
      cp.straddle_band.push_back(last);
    }
  }
  // The conv's plan for one band on one thread, then the band's rows after its patches.
  GemmShape shape = st.gemm_shape;
  shape.m = int64_t{cp.band_rows} * st.gemm.ow;
  cp.band_plan = plan_gemm(shape, 1);
  kernels::GemmConvArgs planned = st.gemm;
  set_gemm_plan(cp.band_plan, st.gemm.packed != nullptr ? st.gemm.kp : 2 * int64_t{st.gemm.kp},
                &planned);
  cp.band_pixel_list_offset = planned.pixel_list_offset;
  cp.band_offset = round_up(planned.scratch_stride, 64);
  // A multiple of 64: each thread's slot (and its int64 pixel list) stays aligned.
  st.gemm.scratch_stride = round_up(cp.band_offset + cp.band_rows * row_bytes, 64);

  st.family = StageFamily::kConvPool;
  st.name = st.name.substr(0, st.name.find("__")) + "+" + pool.name;
  st.elt = pool.elt;
  st.pool_tables = std::move(pool.tables);
  st.items = bands;  // one band per item
  st.work_per_item = st.macs / std::max<int64_t>(bands, 1);
  return static_cast<int64_t>(cp.straddle.size()) * 2 * e.ow * e.c * 4;
}

void run_conv_pool(const FusedStage& st, ThreadPool* pool, bool parallel) {
  const ConvPoolPlan& cp = st.conv_pool;
  if (parallel) {
    pool->parallel_for(st.items, run_bands, &st);
  } else {
    run_bands(&st, 0, st.items, 0);
  }
  const auto merges = static_cast<int64_t>(cp.straddle.size());
  if (parallel && merges > 1 && merges * st.elt.ow * st.elt.c >= kMinParallelMerge) {
    pool->parallel_for(merges, run_merges, &st);
  } else {
    run_merges(&st, 0, merges, 0);
  }
}

}  // namespace f8net::rt::ops
