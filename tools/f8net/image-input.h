// Decoding an image file into the planar 8-bit [C, H, W] pixels a model's preprocessing expects.
// With OpenCV (F8NET_HAVE_OPENCV) any format it reads (PNG, JPEG, ...); without it, binary
// netpbm (PGM P5 / PPM P6, maxval 255) only. The runtime library itself never decodes images.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace f8net::cli {

struct Image {
  int channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;  // planar CHW; RGB order for 3 channels
};

// Reads `path` as `channels` (1: grayscale, 3: RGB) planes. Sizes must equal height x width
// unless `resize` (bilinear). The header is checked before decoding (f8net/data/image-file.h:
// known format, at most 8192x8192 pixels, a truncated JPEG refused unless `allow_truncated`).
// Throws cli::Error with one line on failure.
Image load_image(const std::string& path, int channels, int height, int width, bool resize,
                 bool allow_truncated = false);

}  // namespace f8net::cli
