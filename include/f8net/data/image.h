// Decoded 8-bit images as the data readers hand them out: one image (HWC, RGB order), and a
// whole data set held in memory (NCHW with labels), which the IDX and CIFAR-10 readers return.
#pragma once

#include <cstdint>
#include <vector>

namespace f8net::data {

// One decoded image: height x width x channels uint8, channels interleaved (HWC), RGB order.
struct Image {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> hwc;
};

// Images held in memory: count x channels x height x width uint8 (NCHW) and their labels.
struct ImageArray {
  int64_t count = 0, channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
};

}  // namespace f8net::data
