// The fused engine's layout changes at the graph's two ends, shared by every ISA (plain C++,
// no ISA flags): the API's CHW input codes -> NHWC, and a spatial NHWC int32 output -> CHW.
// Pure copies: the bytes equal the source's.
#include <cstdint>
#include <cstring>

#include "kernels/fused-table.h"

namespace f8net::rt::kernels {

namespace {

// Rows [begin, end) of a CHW -> HWC copy with C known at compile time (C > 0), so the channel loop
// unrolls into straight loads and stores: an RGB image's interleave costs a few cycles per pixel
// instead of a loop per pixel. C == 0: the channel count is read from a.c.
// Row y also writes its border columns, and the first and last rows the border rows above and
// below them (LayoutArgs::pad_h, pad_w).
template <int32_t C>
void chw_to_hwc_rows(const LayoutArgs& a, int64_t begin, int64_t end) {
  const auto* src = static_cast<const uint8_t*>(a.src);
  auto* dst = static_cast<uint8_t*>(a.dst);
  const int32_t c_count = C > 0 ? C : a.c;
  const int64_t plane = int64_t{a.h} * a.w;
  const int64_t pad_bytes = int64_t{a.pad_w} * c_count;
  const int64_t dst_row = int64_t{a.w} * c_count + 2 * pad_bytes;
  const auto zero = [](uint8_t* p, int64_t n) { std::memset(p, 0, static_cast<size_t>(n)); };
  for (int64_t y = begin; y < end; ++y) {
    const uint8_t* row = src + y * a.w;
    uint8_t* line = dst + (y + a.pad_h) * dst_row;
    if (y == 0) zero(dst, a.pad_h * dst_row);
    if (y == a.h - 1) zero(line + dst_row, a.pad_h * dst_row);
    zero(line, pad_bytes);
    zero(line + dst_row - pad_bytes, pad_bytes);
    uint8_t* d = line + pad_bytes;
    for (int32_t x = 0; x < a.w; ++x, d += c_count) {
      for (int32_t c = 0; c < c_count; ++c) d[c] = row[c * plane + x];
    }
  }
}

}  // namespace

void u8_chw_to_hwc(const LayoutArgs& a, int64_t begin, int64_t end, int /*thread*/) {
  switch (a.c) {
    case 1:
      chw_to_hwc_rows<1>(a, begin, end);
      break;
    case 3:
      chw_to_hwc_rows<3>(a, begin, end);
      break;
    case 4:
      chw_to_hwc_rows<4>(a, begin, end);
      break;
    default:
      chw_to_hwc_rows<0>(a, begin, end);
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
