// Tensor element types, shapes and read-only views. Every runtime tensor is one image's
// [C, H, W] in NCHW order (N = 1, W fastest); a vector of length n is [n, 1, 1]. DType numbers
// are part of the .f8 file format: they are pinned and never reused.
#pragma once

#include <cstddef>
#include <cstdint>

namespace f8net::rt {

enum class DType : uint32_t {
  kUint8 = 1,  // unsigned activation codes [0, 255], one FL per tensor
  kInt8 = 2,   // signed codes [-127, 127] (weights, signed activations), one FL per tensor
  kInt32 = 3,  // accumulators, one FL per channel
};

inline bool is_code_dtype(DType d) { return d == DType::kUint8 || d == DType::kInt8; }
inline size_t dtype_size(DType d) { return d == DType::kInt32 ? 4 : 1; }
const char* dtype_name(DType d);  // "uint8", "int8", "int32", "invalid"

struct Shape {
  int32_t c = 0, h = 0, w = 0;
  int64_t elements() const { return int64_t{c} * h * w; }
};
inline bool operator==(const Shape& a, const Shape& b) {
  return a.c == b.c && a.h == b.h && a.w == b.w;
}
inline bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

// A view of a tensor owned by someone else (usually the interpreter's arena). `fl` has
// shape.c entries: the FL of each channel (all equal for code tensors). value = code * 2^-FL.
struct TensorView {
  DType dtype = DType::kInt32;
  Shape shape;
  const void* data = nullptr;
  const int32_t* fl = nullptr;

  const uint8_t* u8() const { return static_cast<const uint8_t*>(data); }
  const int8_t* s8() const { return static_cast<const int8_t*>(data); }
  const int32_t* s32() const { return static_cast<const int32_t*>(data); }
  size_t bytes() const { return static_cast<size_t>(shape.elements()) * dtype_size(dtype); }
};

}  // namespace f8net::rt
