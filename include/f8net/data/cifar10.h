// CIFAR-10's binary batches: records of 1 label byte + 3x32x32 uint8 (CHW, RGB).
#pragma once

#include <string>
#include <vector>

#include "f8net/data/image.h"

namespace f8net::data {

// Reads the batch files in order (gzipped or not, at most 256 MiB each). Validates that each is
// a non-empty whole number of records and that labels are < 10. Throws DataError.
ImageArray read_cifar10(const std::vector<std::string>& paths);

}  // namespace f8net::data
