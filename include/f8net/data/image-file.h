// Checks on an encoded image file before any pixel is decoded (f8net_data, no dependencies):
// the format is recognised from its signature (PNG, JPEG, BMP, binary or ASCII PGM/PPM), the
// width and height come from the header, and their product must stay within kMaxImagePixels,
// so a small file that declares a huge image is refused before a decoder allocates for it. A
// JPEG without its end-of-image marker (a truncated download) is refused unless allowed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace f8net::data {

// 8192 x 8192; docs/limits.md.
constexpr int64_t kMaxImagePixels = int64_t{1} << 26;
// Encoded files larger than this are not read (docs/limits.md).
constexpr int64_t kMaxImageFileBytes = int64_t{1} << 28;

enum class ImageFormat { kUnknown, kPng, kJpeg, kBmp, kNetpbm };
const char* image_format_name(ImageFormat f);

struct ImageHeader {
  ImageFormat format = ImageFormat::kUnknown;
  int64_t width = 0, height = 0;
  bool truncated = false;  // JPEG: no end-of-image marker after the scan; PNG: no IEND chunk
};

// Parses the header of `bytes`. Returns "" on success, else the reason (one line, no path).
std::string read_image_header(const uint8_t* bytes, size_t size, ImageHeader* header);

// Reads `path` into `bytes` and checks it: a known format, 1..kMaxImagePixels pixels, not
// truncated unless `allow_truncated`. Returns "" or "<path>: <reason>".
std::string read_checked_image_file(const std::string& path, bool allow_truncated,
                                    std::vector<uint8_t>* bytes);

}  // namespace f8net::data
