// Image resizing that reproduces torchvision's PIL path bit for bit (f8net_data, no
// dependencies): Pillow's antialiased bilinear resample (a triangle filter widened by the
// downscale factor, 22-bit fixed-point coefficients, horizontal pass then vertical, each rounded
// to 8 bits), torchvision's Resize(size) output size and CenterCrop offset. A pretrained model
// sees the pixels it was trained on (docs/import.md).
#pragma once

#include <cstdint>
#include <utility>

namespace f8net::data {

// Resizes an 8-bit interleaved image (h x w x channels, channels 1..4) to out_h x out_w exactly
// as Pillow's Image.resize((out_w, out_h), Image.BILINEAR). dst holds out_h * out_w * channels.
void resize_bilinear_pil(const uint8_t* src, int h, int w, int channels, uint8_t* dst, int out_h,
                         int out_w);

// torchvision's Resize(size) on an h x w image: the shorter side becomes `size`, the longer
// int(size * long / short) (truncated). Returns {rows, cols}.
std::pair<int, int> resize_shorter_side(int h, int w, int size);

// torchvision's CenterCrop offset of an `out` crop of `in`: int(round((in - out) / 2.0)) with
// Python's round-half-to-even.
int center_crop_offset(int in, int out);

}  // namespace f8net::data
