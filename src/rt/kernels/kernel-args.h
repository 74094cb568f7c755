// The one argument block every kernel takes, and the kernel function type. A kernel is a pure
// function on raw pointers: it computes work items [begin, end) of its op (the unit is per op,
// see work_items()) and writes only those items' outputs. Layouts are CHW (NCHW with N = 1).
#pragma once

#include <cstdint>

#include "f8net/rt/model.h"
#include "f8net/rt/tensor.h"

namespace f8net::rt::kernels {

struct KernelArgs {
  const void* src = nullptr;   // codes (Conv2d, FC) or int32
  const void* src2 = nullptr;  // Add: the second int32 operand
  void* dst = nullptr;
  int32_t c = 0, h = 0, w = 0;     // src shape
  int32_t oc = 0, oh = 0, ow = 0;  // dst shape
  // Conv2d / MaxPool geometry.
  int32_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  // Conv2d / FC: int8 weights [O, I/groups, kh, kw] or [O, K]; int32 bias [O].
  const int8_t* weights = nullptr;
  const int32_t* bias = nullptr;
  // Requantize: FL of each src channel and the output code format.
  const int32_t* src_fl = nullptr;
  int32_t out_fl = 0;
  bool out_signed = false;
  int32_t out_bits = 8;  // the output codes' word length (2..8): the saturation range
  // Add: per-channel left shifts that align src and src2 to the output FL (each in [0, 31]).
  const int32_t* shift = nullptr;
  const int32_t* shift2 = nullptr;
};

using KernelFn = void (*)(const KernelArgs& args, int64_t begin, int64_t end);

// The number of work items of an op (the range a kernel call covers when it does everything):
// Conv2d (o, oy) output rows, o-major; FullyConnected output channels; Requantize, Relu, Add
// (c, y) rows; MaxPool (c, oy) output rows; GlobalSumPool channels. Kernels are keyed by the
// IR's own OpType (one op enum).
int64_t work_items(OpType op, const KernelArgs& a);

}  // namespace f8net::rt::kernels
