// IDX reader: gzread in chunks into memory (capped at 1 GiB), big-endian header parsing, exact
// length checks. Pixel and label bytes are copied as they are.
#include "idx-data.h"

#include <zlib.h>

#include "commands.h"

namespace f8net::cli {
namespace {

constexpr size_t kMaxBytes = size_t{1} << 30;

std::vector<uint8_t> gunzip_file(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw Error("cannot open " + path);
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  for (;;) {
    const int n = gzread(f, buf, sizeof(buf));
    if (n < 0) {
      gzclose(f);
      throw Error(path + ": corrupt gzip data");
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
    if (out.size() > kMaxBytes) {
      gzclose(f);
      throw Error(path + ": larger than 1 GiB uncompressed");
    }
  }
  gzclose(f);
  return out;
}

uint32_t be32(const std::vector<uint8_t>& b, size_t at) {
  return uint32_t{b[at]} << 24 | uint32_t{b[at + 1]} << 16 | uint32_t{b[at + 2]} << 8 | b[at + 3];
}

}  // namespace

IdxDataset read_idx_pair(const std::string& images_gz, const std::string& labels_gz) {
  const std::vector<uint8_t> img = gunzip_file(images_gz);
  const std::vector<uint8_t> lab = gunzip_file(labels_gz);
  if (img.size() < 16 || be32(img, 0) != 0x00000803u) {
    throw Error(images_gz + ": not an IDX image file (magic 0x00000803)");
  }
  if (lab.size() < 8 || be32(lab, 0) != 0x00000801u) {
    throw Error(labels_gz + ": not an IDX label file (magic 0x00000801)");
  }
  IdxDataset d;
  const uint64_t n = be32(img, 4), rows = be32(img, 8), cols = be32(img, 12);
  if (rows == 0 || cols == 0 || rows > 65535 || cols > 65535) {
    throw Error(images_gz + ": bad image size " + std::to_string(rows) + "x" +
                std::to_string(cols));
  }
  if (img.size() - 16 != n * rows * cols) {  // n < 2^32, rows*cols < 2^32: no overflow
    throw Error(images_gz + ": header says " + std::to_string(n) + " images of " +
                std::to_string(rows) + "x" + std::to_string(cols) + " but the file has " +
                std::to_string(img.size() - 16) + " data bytes");
  }
  if (be32(lab, 4) != n || lab.size() - 8 != n) {
    throw Error(labels_gz + ": label count does not match the " + std::to_string(n) + " images");
  }
  d.count = static_cast<int64_t>(n);
  d.rows = static_cast<int>(rows);
  d.cols = static_cast<int>(cols);
  d.images.assign(img.begin() + 16, img.end());
  d.labels.assign(lab.begin() + 8, lab.end());
  return d;
}

}  // namespace f8net::cli
