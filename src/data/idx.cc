// read_idx (idx.h). Every size read from a file is checked before it is used: the header is read
// first, the file is inflated no further than the header declares, and the dimensions must
// account for every byte.
#include "f8net/data/idx.h"

#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <vector>

#include "f8net/data/gzip-file.h"
#include "fail.h"

namespace f8net::data {
namespace {

using detail::fail;

uint32_t read_be32(const std::vector<uint8_t>& b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) |
         uint32_t{b[at + 3]};
}

// Validates an IDX header with `ndims` dimensions and returns them; checks the exact file size.
std::vector<int64_t> idx_dims(const std::vector<uint8_t>& b, int ndims, const std::string& path) {
  const size_t header = 4 + 4 * static_cast<size_t>(ndims);
  if (b.size() < 4) fail(path, "truncated IDX header (" + std::to_string(b.size()) + " bytes)");
  if (b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] != ndims) {
    char magic[16];
    std::snprintf(magic, sizeof(magic), "0x%08x", read_be32(b, 0));
    fail(path, std::string("bad IDX magic ") + magic + " (expected unsigned-byte data with " +
                   std::to_string(ndims) + " dimension" + (ndims > 1 ? "s)" : ")"));
  }
  if (b.size() < header) {
    fail(path, "truncated IDX header (" + std::to_string(b.size()) + " bytes)");
  }
  std::vector<int64_t> dims;
  uint64_t total = 1;
  for (int i = 0; i < ndims; ++i) {
    const uint32_t d = read_be32(b, 4 + 4 * static_cast<size_t>(i));
    if (d == 0 && i == 0) {
      fail(path, std::string(ndims == 1 ? "no labels" : "no images") + " (IDX dimension 0 is 0)");
    }
    if (d == 0) fail(path, "IDX dimension " + std::to_string(i) + " is 0");
    if (i > 0 && d > 4096) fail(path, "IDX image dimension " + std::to_string(d) + " too large");
    total *= d;
    if (total > (uint64_t{1} << 34)) fail(path, "IDX data too large");
    dims.push_back(d);
  }
  const uint64_t expected = header + total;
  if (b.size() < expected) {
    fail(path, "truncated: its header declares " + std::to_string(total) + " data bytes, " +
                   std::to_string(b.size() - header) + " follow it");
  }
  if (b.size() > expected) {
    fail(path, std::to_string(b.size() - expected) + " unexpected trailing bytes");
  }
  return dims;
}

// An IDX file read no further than its header says (header + product of the dimensions, capped
// at kMaxDataFileBytes), so a file whose data outgrows its header stops at once.
std::vector<uint8_t> read_idx_file(const std::string& path, int ndims) {
  const size_t header = 4 + 4 * static_cast<size_t>(ndims);
  std::vector<uint8_t> head;
  {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) fail(path, "no such file");
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) fail(path, "cannot open");
    head.resize(header);
    const int n = gzread(f, head.data(), static_cast<unsigned>(header));
    gzclose(f);
    head.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  uint64_t data = 0;  // the product of the dimensions (each factor < 2^32: no overflow)
  if (head.size() == header) {
    data = 1;
    for (int i = 0; i < ndims; ++i) {
      data *= read_be32(head, 4 + 4 * static_cast<size_t>(i));
      if (data > kMaxDataFileBytes) {
        fail(path, "its header declares more than " + std::to_string(kMaxDataFileBytes) +
                       " bytes of data (the limit; docs/limits.md)");
      }
    }
  }
  // One byte of slack so trailing data is still reported as such by idx_dims.
  return read_maybe_gzip(path, header + data + 1);
}

}  // namespace

ImageArray read_idx(const std::string& images_path, const std::string& labels_path,
                    int64_t num_classes) {
  const std::vector<uint8_t> images = read_idx_file(images_path, 3);
  const std::vector<int64_t> idims = idx_dims(images, 3, images_path);
  const std::vector<uint8_t> labels = read_idx_file(labels_path, 1);
  const std::vector<int64_t> ldims = idx_dims(labels, 1, labels_path);
  if (idims[0] != ldims[0]) {
    fail(labels_path, std::to_string(ldims[0]) + " labels for " + std::to_string(idims[0]) +
                          " images in " + images_path);
  }
  ImageArray a;
  a.count = idims[0];
  a.channels = 1;
  a.height = idims[1];
  a.width = idims[2];
  a.pixels.assign(images.begin() + 16, images.end());
  a.labels.reserve(static_cast<size_t>(a.count));
  for (int64_t i = 0; i < a.count; ++i) {
    const int64_t label = labels[8 + static_cast<size_t>(i)];
    if (label >= num_classes) {
      fail(labels_path, "label " + std::to_string(label) + " of item " + std::to_string(i) +
                            " is out of range [0, " + std::to_string(num_classes) + ")");
    }
    a.labels.push_back(label);
  }
  return a;
}

}  // namespace f8net::data
