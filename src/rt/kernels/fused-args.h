// Argument blocks of the fused channels-last engine's microkernels (families: gemm conv, depthwise,
// element-wise, pool, layout). Activations are NHWC per image ([H][W][C], C fastest). Every int32
// a kernel writes equals what the IR ops (kernels/ref) compute; the epilogue is exactly
// add (int64 left shifts, saturate to +-(2^31-1)) -> ReLU -> [int32 store] -> fixed::requantize,
// each optional.
#pragma once

#include <cstdint>

namespace f8net::rt::kernels {

// What happens to each int32 accumulator of output pixel m, channel o (tables have >= n entries,
// padded to a multiple of 64 with harmless values).
struct Epilogue {
  int32_t n = 0;                      // channels per pixel
  const int32_t* other = nullptr;     // Add: the other int32 operand, NHWC with n channels, or null
  const int32_t* add_self = nullptr;  // left shift of the accumulator, per channel, [0, 31]
  const int32_t* add_other = nullptr;  // left shift of `other`, per channel, [0, 31]
  bool relu = false;                   // max(x, 0) (after the add)
  bool requant = false;                // write codes (else int32)
  bool out_signed = false;
  int32_t out_bits = 8;  // the output codes' word length (2..8): the saturation range
  // Requantize tables per channel: right shift [0, 31] and left shift [0, 8] (one is 0), and for
  // the RNE right shift rs: rmask = 2^rs - 1, rhalf = (rmask >> 1) + 1.
  const int32_t* rshift = nullptr;
  const int32_t* lshift = nullptr;
  const int32_t* rmask = nullptr;
  const int32_t* rhalf = nullptr;
  bool any_left = false;  // some channel left-shifts (else the clamp before it is skipped)
  void* out = nullptr;    // NHWC: codes (1 byte) or int32, n per pixel
  // With requant: also the int32 value before it (after add / ReLU), NHWC, n per pixel, for a
  // value that other ops read as int32 (a residual block's output, read by the next block's
  // Add). One pass writes both instead of a second stage re-reading the int32 tensor.
  int32_t* out32 = nullptr;
};

constexpr int64_t kScratchSlack = 64;

// Implicit-GEMM convolution (groups 1; FC is a conv whose window is the whole input).
// K = kh*kw*c in (ky, kx, c) order, padded to kp (multiple of 4) with zero weights.
struct GemmConvArgs {
  const uint8_t* src = nullptr;  // NHWC codes (int8 bytes when src_signed)
  bool src_signed = false;
  int32_t c = 0, h = 0, w = 0, oh = 0, ow = 0;
  int32_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  int32_t k = 0, kp = 0;
  // Weights packed per block of nr output channels (kernels/fused-table.h, GemmPacking):
  // s8 quads [n/nr][kp/4][nr][4] in `packed`, or s16 pairs [n/nr][kp/2][nr][2] in `packed16`.
  const int8_t* packed = nullptr;
  const int16_t* packed16 = nullptr;
  // Initial accumulators per channel: bias, minus 128 * sum(w) for signed sources with s8 quads
  // (wraps mod 2^32; the final sums are exact because the loader proved they fit).
  const int32_t* init = nullptr;
  bool direct = false;  // s8 quads only: 1x1 / whole-input FC with c % 4 == 0, in place
  // s8 quads only, dilation_w 1 and c % 4 == 0 (not direct): a patch that lies inside the input
  // is read in place as kh runs of kw * c bytes; only the patches that touch the padding are
  // gathered, into the scratch, with their pixel indices (int64) at pixel_list_offset.
  bool tap_rows = false;
  int64_t pixel_list_offset = 0;
  int32_t m_tile = 0;          // pixels per work item (any count: remainders run as short calls)
  int32_t n_split = 1;         // work items per m tile (each takes a range of nr-channel blocks)
  uint8_t* scratch = nullptr;  // per thread: m_tile patches of kp bytes (or kp int16), then
                               // kScratchSlack bytes that short unmasked stores may overrun into
                               // (then the tap_rows pixel list)
  int64_t scratch_stride = 0;
  // The next weighted stage's packed weights (or null): each work item pulls its share of these
  // bytes into L2 while it computes (avx512vnni; other drivers ignore it), so that stage does not
  // start on weights from DRAM. Prefetches only: no effect on any result.
  const uint8_t* prefetch = nullptr;
  int64_t prefetch_bytes = 0;
  Epilogue ep;
};

// Pixels for a GEMM driver's next microkernel call of at most mr rows when `left` remain: as many
// calls as mr-row calls would take, sizes as equal as possible (26 pixels: 6 5 5 5 5, not
// 6 6 6 6 2). A call of few rows is bound by its weight loads and vpdpbusd latency rather than
// by its MACs: ResNet-18's 28-pixel rows spent 4 % of the model in 2-row calls (1 thread, Xeon).
// Internal linkage: each ISA's translation unit keeps its own copy (no inline function is
// shared across ISA flags).
namespace {
inline int32_t call_rows(int32_t mr, int64_t left) {
  const int64_t calls = (left + mr - 1) / mr;
  return static_cast<int32_t>((left + calls - 1) / calls);
}
}  // namespace

// Depthwise conv (groups == c == n), channels-last, kh * kw <= 64; weights as int16 pairs
// (w[c][2p] low, w[c][2p + 1] high, 0 past the last tap) in int32 [(taps + 1) / 2][round16(n)],
// and one per tap as int32 [taps][round16(n)] holding uint16(w) (high half 0, so vpmaddwd of a
// code widened to int32 is x * w for either sign of x). Items: output rows x c_split channel
// ranges (row-major; each range a run of whole 16-channel groups, or with quad_weights of whole
// 64-channel blocks). quad_weights (DepthwisePacking::kTapQuads): per 64-channel block, per quad
// of taps (taps padded to a multiple of 4 with zero weights), 4 vectors of 16 s8 quads: vector
// q's lane 4l + i is channel 16l + 4q + i (the order in-lane byte and word interleaves of 4 tap
// vectors produce), bytes its 4 taps; quad_init the bias in that order, minus 128 * sum(w) for
// signed sources (whose codes the kernel flips to x + 128).
struct DepthwiseArgs {
  const uint8_t* src = nullptr;
  bool src_signed = false;
  int32_t c = 0, h = 0, w = 0, oh = 0, ow = 0;
  int32_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  const int32_t* weights = nullptr;
  const int32_t* tap_weights = nullptr;
  const int32_t* bias = nullptr;
  const int8_t* quad_weights = nullptr;
  const int32_t* quad_init = nullptr;
  int32_t c_split = 1;
  Epilogue ep;
};

// Element-wise and pooling on int32 NHWC; items are output pixels.
struct EltArgs {
  const int32_t* src = nullptr;
  int32_t c = 0, h = 0, w = 0, oh = 0, ow = 0;
  int32_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;  // MaxPool
  Epilogue ep;  // Requantize / Relu / Add (ep.other) applied to src; MaxPool and sums write ep.out
};

// Layout conversion of one image: CHW -> HWC (bytes) or HWC -> CHW (int32).
struct LayoutArgs {
  const void* src = nullptr;
  void* dst = nullptr;
  int32_t c = 0, h = 0, w = 0;
  // CHW -> HWC only: the HWC image gets a border of pad_h rows and pad_w columns of code 0 on
  // each side, (h + 2 pad_h) x (w + 2 pad_w) x c, rewritten by every run (the arena is shared).
  int32_t pad_h = 0, pad_w = 0;
};

}  // namespace f8net::rt::kernels
