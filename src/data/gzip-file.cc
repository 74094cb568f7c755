// read_maybe_gzip (gzip-file.h): zlib's gzread in 1 MiB chunks, stopping as soon as the output
// would pass the cap, and reporting a truncated or corrupt stream rather than a short file.
#include "f8net/data/gzip-file.h"

#include <zlib.h>

#include <filesystem>

#include "fail.h"

namespace f8net::data {

using detail::fail;

std::vector<uint8_t> read_maybe_gzip(const std::string& path, uint64_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail(path, "no such file");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) fail(path, "cannot open");
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk(1 << 20);
  for (;;) {
    const int n = gzread(f, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int err = 0;
      const std::string msg = gzerror(f, &err);
      gzclose(f);
      fail(path, "corrupt gzip data (" + msg + ")");
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      gzclose(f);
      fail(path, "decompresses to more than " + std::to_string(max_bytes) +
                     " bytes (the limit for this file; docs/limits.md)");
    }
    out.insert(out.end(), chunk.begin(), chunk.begin() + n);
  }
  int err = 0;
  const std::string msg = gzerror(f, &err);
  gzclose(f);
  if (err != Z_OK) fail(path, "corrupt or truncated gzip data (" + msg + ")");
  return out;
}

}  // namespace f8net::data
