// The fused engine's layout changes at the graph's two ends, shared by every ISA (plain C++,
// no ISA flags): the API's CHW input codes -> NHWC, and a spatial NHWC int32 output -> CHW.
// Pure copies: the bytes equal the source's.
#include "kernels/fused-table.h"

namespace f8net::rt::kernels {

void u8_chw_to_hwc(const LayoutArgs& a, int64_t begin, int64_t end, int /*thread*/) {
  const auto* src = static_cast<const uint8_t*>(a.src);
  auto* dst = static_cast<uint8_t*>(a.dst);
  for (int64_t y = begin; y < end; ++y) {
    for (int32_t x = 0; x < a.w; ++x) {
      uint8_t* d = dst + (y * a.w + x) * a.c;
      for (int32_t c = 0; c < a.c; ++c) d[c] = src[(int64_t{c} * a.h + y) * a.w + x];
    }
  }
}

void s32_hwc_to_chw(const LayoutArgs& a, int64_t begin, int64_t end, int /*thread*/) {
  const auto* src = static_cast<const int32_t*>(a.src);
  auto* dst = static_cast<int32_t*>(a.dst);
  const int64_t hw = int64_t{a.h} * a.w;
  for (int64_t c = begin; c < end; ++c) {
    for (int64_t p = 0; p < hw; ++p) dst[c * hw + p] = src[p * a.c + c];
  }
}

}  // namespace f8net::rt::kernels
