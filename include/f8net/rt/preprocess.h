// Turning an 8-bit image into the model's input codes, as the model's metadata says
// (Preprocess::kRaw01 or kNormalized, F8NET.md §15.3 and TV11). This is the only place the
// runtime touches floating point, and it happens before the integer graph.
#pragma once

#include <cstdint>

#include "f8net/rt/model.h"
#include "f8net/rt/status.h"

namespace f8net::rt {

// The normalised value of one 8-bit pixel, z = (pixel/255 - mean) / std in float32 (torchvision's
// ToTensor + Normalize). The one definition shared by the runtime and the training data loader,
// so that both see the same z, bit for bit, and so the same input codes.
inline float normalized_pixel(uint8_t pixel, float mean, float std_dev) {
  return (static_cast<float>(pixel) / 255.0f - mean) / std_dev;
}

// `pixels` is an image [channels, H, W] (planar, 0..255) with H, W equal to the input's and
// channels == input C, or channels == 1 when the input has C > 1 and replicate_gray is set.
// Writes input.shape.elements() codes of input.dtype to `codes`. Allocates nothing.
Status image_to_codes(const uint8_t* pixels, int32_t channels, const InputDef& input,
                      const Preprocessing& pre, void* codes);

}  // namespace f8net::rt
