// image-file.h: signature sniffing and header parsing for PNG (IHDR), JPEG (the first SOFn
// marker, then a search for EOI after the scan), BMP (BITMAPINFOHEADER) and netpbm (P1-P6).
// Every read is bounds-checked against `size`.
#include "f8net/data/image-file.h"

#include <cstdio>
#include <cstring>

namespace f8net::data {
namespace {

uint32_t be16(const uint8_t* p) { return uint32_t{p[0]} << 8 | p[1]; }
uint32_t be32(const uint8_t* p) { return be16(p) << 16 | be16(p + 2); }
int32_t le32(const uint8_t* p) {
  return static_cast<int32_t>(uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
                              uint32_t{p[3]} << 24);
}

std::string png_header(const uint8_t* p, size_t n, ImageHeader* h) {
  if (n < 33 || std::memcmp(p + 12, "IHDR", 4) != 0) return "truncated PNG header";
  h->width = be32(p + 16);
  h->height = be32(p + 20);
  // The last chunk of a complete file is IEND (length 0, type, CRC: the final 12 bytes).
  h->truncated = n < 45 || std::memcmp(p + n - 8, "IEND", 4) != 0;
  return "";
}

bool is_sof(uint8_t m) { return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC; }

std::string jpeg_header(const uint8_t* p, size_t n, ImageHeader* h) {
  size_t pos = 2;
  bool have_size = false;
  while (pos + 4 <= n) {
    if (p[pos] != 0xFF) return "corrupt JPEG marker structure";
    uint8_t m = p[pos + 1];
    while (m == 0xFF && pos + 2 < n) m = p[++pos + 1];  // fill bytes
    if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
      pos += 2;
      continue;
    }
    if (m == 0xD9) return have_size ? "" : "JPEG without a frame header";
    if (pos + 4 > n) break;
    const size_t len = be16(p + pos + 2);
    if (len < 2 || pos + 2 + len > n) return "truncated JPEG header";
    if (is_sof(m)) {
      if (len < 8) return "bad JPEG frame header";
      h->height = be16(p + pos + 5);
      h->width = be16(p + pos + 7);
      have_size = true;
    }
    if (m == 0xDA) {  // start of scan: entropy-coded data follows; EOI must come after it
      if (!have_size) return "JPEG scan before its frame header";
      h->truncated = true;
      // In the coded data a 0xFF byte is always followed by 0x00 or a restart marker, so
      // FF D9 after the scan header is the end-of-image marker.
      for (size_t i = n; i-- > pos + 2 + len + 1;) {
        if (p[i - 1] == 0xFF && p[i] == 0xD9) {
          h->truncated = false;
          break;
        }
      }
      return "";
    }
    pos += 2 + len;
  }
  if (!have_size) return "truncated JPEG header";
  h->truncated = true;  // cut inside the headers, before any scan
  return "";
}

std::string bmp_header(const uint8_t* p, size_t n, ImageHeader* h) {
  if (n < 26) return "truncated BMP header";
  const int32_t w = le32(p + 18), hh = le32(p + 22);
  if (w <= 0 || hh == 0 || hh == INT32_MIN) return "bad BMP size";
  h->width = w;
  h->height = hh < 0 ? -int64_t{hh} : hh;
  return "";
}

std::string netpbm_header(const uint8_t* p, size_t n, ImageHeader* h) {
  size_t pos = 2;
  auto number = [&](int64_t* v) {
    while (pos < n) {
      if (p[pos] == '#') {
        while (pos < n && p[pos] != '\n') ++pos;
      } else if (p[pos] == ' ' || p[pos] == '\n' || p[pos] == '\r' || p[pos] == '\t') {
        ++pos;
      } else {
        break;
      }
    }
    int digits = 0;
    *v = 0;
    while (pos < n && p[pos] >= '0' && p[pos] <= '9' && digits < 9) {
      *v = *v * 10 + (p[pos++] - '0');
      ++digits;
    }
    return digits > 0;
  };
  if (!number(&h->width) || !number(&h->height)) return "bad PGM/PPM header";
  return "";
}

}  // namespace

const char* image_format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kBmp:
      return "BMP";
    case ImageFormat::kNetpbm:
      return "PGM/PPM";
    case ImageFormat::kUnknown:
      break;
  }
  return "unknown";
}

std::string read_image_header(const uint8_t* p, size_t n, ImageHeader* h) {
  *h = ImageHeader{};
  std::string why;
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (n >= 8 && std::memcmp(p, kPng, 8) == 0) {
    h->format = ImageFormat::kPng;
    why = png_header(p, n, h);
  } else if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) {
    h->format = ImageFormat::kJpeg;
    why = jpeg_header(p, n, h);
  } else if (n >= 2 && p[0] == 'B' && p[1] == 'M') {
    h->format = ImageFormat::kBmp;
    why = bmp_header(p, n, h);
  } else if (n >= 2 && p[0] == 'P' && p[1] >= '1' && p[1] <= '6') {
    h->format = ImageFormat::kNetpbm;
    why = netpbm_header(p, n, h);
  } else {
    return "not a PNG, JPEG, BMP or PGM/PPM image";
  }
  if (!why.empty()) return why;
  if (h->width <= 0 || h->height <= 0) return "the header declares an empty image";
  if (h->width > kMaxImagePixels || h->height > kMaxImagePixels ||
      h->width * h->height > kMaxImagePixels) {
    return "the header declares " + std::to_string(h->width) + "x" + std::to_string(h->height) +
           " pixels, more than the limit of " + std::to_string(kMaxImagePixels) + " (8192x8192)";
  }
  return "";
}

std::string read_checked_image_file(const std::string& path, bool allow_truncated,
                                    std::vector<uint8_t>* bytes) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return "cannot open " + path;
  bytes->clear();
  uint8_t buf[1 << 16];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    bytes->insert(bytes->end(), buf, buf + got);
    if (static_cast<int64_t>(bytes->size()) > kMaxImageFileBytes) {
      std::fclose(f);
      return path + ": larger than the limit of " + std::to_string(kMaxImageFileBytes) +
             " bytes for an image file";
    }
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return "cannot read " + path;
  ImageHeader h;
  const std::string why = read_image_header(bytes->data(), bytes->size(), &h);
  if (!why.empty()) return path + ": " + why;
  if (h.truncated && !allow_truncated) {
    return path + ": truncated " + std::string(image_format_name(h.format)) +
           " file (no end-of-image marker); pass --allow-truncated to decode what is there";
  }
  return "";
}

}  // namespace f8net::data
