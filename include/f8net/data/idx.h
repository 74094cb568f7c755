// The IDX format of MNIST and Fashion-MNIST (gzipped or not): an image file (magic 0x00000803:
// count x rows x cols uint8) and a label file (magic 0x00000801: count uint8).
#pragma once

#include <cstdint>
#include <string>

#include "f8net/data/image.h"

namespace f8net::data {

// Validates magic, dimensions, equal counts, label range [0, num_classes) and exact file sizes
// (truncated or trailing bytes are errors); a file is never inflated past what its header
// declares. Throws DataError naming the file.
ImageArray read_idx(const std::string& images_path, const std::string& labels_path,
                    int64_t num_classes = 10);

}  // namespace f8net::data
