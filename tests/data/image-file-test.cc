// Image header checks (f8net/data/image-file.h) on crafted files: each format's size is read
// from its header, a declared size over the pixel limit is refused, truncated JPEG/PNG files
// are flagged, and unknown or malformed headers give a reason instead of a size.
#include "f8net/data/image-file.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace data = f8net::data;

namespace {

using Bytes = std::vector<uint8_t>;

std::string header_of(const Bytes& b, data::ImageHeader* h) {
  return data::read_image_header(b.data(), b.size(), h);
}

// SOI, APP0 (short), SOF0 (h x w), SOS, two coded bytes (one stuffed FF 00), optionally EOI.
Bytes jpeg(int w, int h, bool eoi) {
  Bytes b = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 'J', 'F'};
  b.insert(b.end(),
           {0xFF, 0xC0, 0x00, 0x0B, 0x08, static_cast<uint8_t>(h >> 8), static_cast<uint8_t>(h),
            static_cast<uint8_t>(w >> 8), static_cast<uint8_t>(w), 0x01, 0x01, 0x11, 0x00});
  b.insert(b.end(), {0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00});
  b.insert(b.end(), {0x12, 0xFF, 0x00, 0x34});
  if (eoi) b.insert(b.end(), {0xFF, 0xD9});
  return b;
}

Bytes png(uint32_t w, uint32_t h, bool iend) {
  Bytes b = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  for (uint32_t v : {w, h}) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
  }
  b.insert(b.end(), {8, 2, 0, 0, 0, 1, 2, 3, 4});  // depth, colour, ..., CRC (not checked here)
  if (iend) b.insert(b.end(), {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82});
  return b;
}

}  // namespace

TEST(ImageFile, ReadsTheSizeOfEveryFormatFromItsHeader) {
  data::ImageHeader h;
  EXPECT_EQ(header_of(jpeg(640, 480, true), &h), "");
  EXPECT_EQ(h.format, data::ImageFormat::kJpeg);
  EXPECT_EQ(h.width, 640);
  EXPECT_EQ(h.height, 480);
  EXPECT_FALSE(h.truncated);
  EXPECT_EQ(header_of(png(20, 14, true), &h), "");
  EXPECT_EQ(h.format, data::ImageFormat::kPng);
  EXPECT_EQ(h.width, 20);
  EXPECT_EQ(h.height, 14);
  EXPECT_FALSE(h.truncated);
  const std::string pgm = "P5\n# comment\n12 7\n255\n";
  EXPECT_EQ(header_of(Bytes(pgm.begin(), pgm.end()), &h), "");
  EXPECT_EQ(h.width * 100 + h.height, 1207);
  Bytes bmp(54, 0);
  bmp[0] = 'B';
  bmp[1] = 'M';
  bmp[18] = 33;
  bmp[22] = 0xF6;  // height -10 (top-down) as int32
  bmp[23] = bmp[24] = bmp[25] = 0xFF;
  EXPECT_EQ(header_of(bmp, &h), "");
  EXPECT_EQ(h.width, 33);
  EXPECT_EQ(h.height, 10);
}

TEST(ImageFile, TruncatedFilesAreFlagged) {
  data::ImageHeader h;
  EXPECT_EQ(header_of(jpeg(64, 64, false), &h), "");
  EXPECT_TRUE(h.truncated);
  Bytes cut = jpeg(64, 64, true);
  cut.resize(14);  // inside the frame header
  EXPECT_NE(header_of(cut, &h), "");
  EXPECT_EQ(header_of(png(8, 8, false), &h), "");
  EXPECT_TRUE(h.truncated);
}

TEST(ImageFile, HugeDeclaredSizesAndUnknownFormatsAreRefused) {
  data::ImageHeader h;
  EXPECT_NE(header_of(png(32768, 32768, true), &h).find("more than the limit"), std::string::npos);
  EXPECT_NE(header_of(jpeg(65535, 65535, true), &h).find("more than the limit"), std::string::npos);
  EXPECT_EQ(header_of(png(8192, 8192, true), &h), "");  // exactly the limit
  EXPECT_NE(header_of(png(0, 5, true), &h).find("empty"), std::string::npos);
  EXPECT_NE(header_of(Bytes{'G', 'I', 'F', '8', '9', 'a'}, &h).find("not a PNG"),
            std::string::npos);
  EXPECT_NE(header_of(Bytes{}, &h), "");
  Bytes bad = jpeg(8, 8, true);
  bad[2] = 0x00;  // not a marker where one must be
  EXPECT_NE(header_of(bad, &h), "");
}
