// Interval analysis of a validated runtime model for the ONNX writer: per value and channel, the
// range of the integer it holds and a bound on every partial result the float path computes
// (in that channel's LSBs). ORT is exact on a value when that bound is below 2^24.
#pragma once

#include <cstdint>
#include <vector>

#include "f8net/rt/model.h"

namespace f8net::rt::onnx_export {

constexpr int64_t kFloatExactLimit = int64_t{1} << 24;

struct ValueBounds {
  std::vector<int64_t> lo, hi;  // per channel: the value's integer range (after saturation)
  std::vector<int64_t> mag;     // per channel: bound on |partial results| (before saturation)
  std::vector<int64_t> terms;   // per channel: how many roundings a float path could make
};

// One entry per value (input first), for a model that passed validate_model() into `g`.
std::vector<ValueBounds> compute_bounds(const ModelDef& m, const GraphInfo& g);

// The smallest and largest code a requantize of `src` to FL `out_fl` can produce before its
// saturation: what decides whether ONNX's uint8 QuantizeLinear (which saturates to [0, 255]) needs
// a Clip to f8net's code range (symmetric signed, or narrower than 8 bits).
struct CodeRange {
  int64_t lo = 0, hi = 0;
};
CodeRange requantize_code_range(const ValueBounds& src, const std::vector<int32_t>& src_fl,
                                int32_t out_fl);

// True when GlobalSumPool op `i` is written in int32 (Cast, ReduceSum, then a rounding shift in
// integer ops for each requantize): its input is never negative, every consumer is a requantize
// that shifts right (or by 0), and the sum stays below 2^31. It is then exact at any size.
bool integer_pool(const ModelDef& m, const GraphInfo& g, const std::vector<ValueBounds>& bounds,
                  size_t i);

}  // namespace f8net::rt::onnx_export
