// Reading a data file whole, gunzipping it when it is gzip (zlib reads plain files too), with a
// cap on what it may decompress to, so a small gzip "bomb" cannot allocate gigabytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace f8net::data {

// The most bytes a data file may decompress to (docs/limits.md). IDX files are also held to the
// size their header declares (idx.h).
constexpr uint64_t kMaxDataFileBytes = uint64_t{1} << 30;

// Reads `path`, reading at most `max_bytes` (more is a DataError naming the limit). Throws
// DataError on a missing file or corrupt/truncated gzip data.
std::vector<uint8_t> read_maybe_gzip(const std::string& path,
                                     uint64_t max_bytes = kMaxDataFileBytes);

}  // namespace f8net::data
