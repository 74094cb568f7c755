// Reading a gzip-compressed IDX image/label pair (Fashion-MNIST's t10k files) with zlib. Headers
// are validated (magic 0x803 images [n, rows, cols], 0x801 labels [n], equal n, exact data
// length with nothing after it); any problem throws cli::Error naming the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace f8net::cli {

struct IdxDataset {
  int64_t count = 0;
  int rows = 0, cols = 0;
  std::vector<uint8_t> images;  // count x rows x cols
  std::vector<uint8_t> labels;  // count
};

IdxDataset read_idx_pair(const std::string& images_gz, const std::string& labels_gz);

}  // namespace f8net::cli
