// Test data written to disk (no LibTorch): IDX files (optionally gzipped) laid out like
// Fashion-MNIST, CIFAR-10 batch files, minimal PNG files for ImageFolder trees, and a temporary
// directory that removes itself. Images of class c carry a bright block whose position depends on
// c, so a small network learns them within a few iterations.
#pragma once

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace f8net::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "f8net-test-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (!f) throw std::runtime_error("gzopen " + path);
    if (!bytes.empty()) gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
    return;
  }
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

inline void put_be32(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

// A learnable synthetic image: noise plus a bright block placed by the label.
inline std::vector<uint8_t> pattern_image(int64_t label, int64_t channels, int64_t size,
                                          std::mt19937& rng) {
  std::vector<uint8_t> img(static_cast<size_t>(channels * size * size));
  for (auto& v : img) v = static_cast<uint8_t>(rng() % 64);
  const int64_t block = std::max<int64_t>(1, size / 4);
  const int64_t cells = std::max<int64_t>(1, size / block);
  const int64_t y0 = (label / cells) % cells * block, x0 = label % cells * block;
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t y = y0; y < y0 + block; ++y) {
      for (int64_t x = x0; x < x0 + block; ++x) img[(c * size + y) * size + x] = 230;
    }
  }
  return img;
}

struct IdxFiles {
  std::vector<uint8_t> images, labels;
};

// IDX bytes for `count` size x size images with labels i % classes.
inline IdxFiles make_idx(int64_t count, int64_t size, int64_t classes, uint32_t seed) {
  std::mt19937 rng(seed);
  IdxFiles f;
  put_be32(f.images, 0x00000803);
  put_be32(f.images, static_cast<uint32_t>(count));
  put_be32(f.images, static_cast<uint32_t>(size));
  put_be32(f.images, static_cast<uint32_t>(size));
  put_be32(f.labels, 0x00000801);
  put_be32(f.labels, static_cast<uint32_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t label = (i * 7 + i / classes) % classes;
    const auto img = pattern_image(label, 1, size, rng);
    f.images.insert(f.images.end(), img.begin(), img.end());
    f.labels.push_back(static_cast<uint8_t>(label));
  }
  return f;
}

// A Fashion-MNIST-style directory: {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz.
inline void write_fashion_dir(const std::string& dir, int64_t train_count, int64_t test_count,
                              int64_t size = 12, int64_t classes = 10) {
  std::filesystem::create_directories(dir);
  const IdxFiles train = make_idx(train_count, size, classes, 1);
  const IdxFiles test = make_idx(test_count, size, classes, 2);
  write_bytes(dir + "/train-images-idx3-ubyte.gz", train.images, true);
  write_bytes(dir + "/train-labels-idx1-ubyte.gz", train.labels, true);
  write_bytes(dir + "/t10k-images-idx3-ubyte.gz", test.images, true);
  write_bytes(dir + "/t10k-labels-idx1-ubyte.gz", test.labels, true);
}

// CIFAR-10 records (label byte + 3x32x32 CHW).
inline std::vector<uint8_t> make_cifar_records(int64_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> b;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t label = i % 10;
    b.push_back(static_cast<uint8_t>(label));
    const auto img = pattern_image(label, 3, 32, rng);
    b.insert(b.end(), img.begin(), img.end());
  }
  return b;
}

// A minimal PNG (8-bit gray or RGB, no interlace, filter 0 on every row).
inline std::vector<uint8_t> encode_png(const std::vector<uint8_t>& hwc, int width, int height,
                                       int channels) {
  std::vector<uint8_t> raw;
  for (int y = 0; y < height; ++y) {
    raw.push_back(0);
    raw.insert(raw.end(), hwc.begin() + static_cast<long>(y) * width * channels,
               hwc.begin() + static_cast<long>(y + 1) * width * channels);
  }
  uLongf zsize = compressBound(static_cast<uLong>(raw.size()));
  std::vector<uint8_t> z(zsize);
  compress(z.data(), &zsize, raw.data(), static_cast<uLong>(raw.size()));
  z.resize(zsize);
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  auto chunk = [&](const char* type, const std::vector<uint8_t>& data) {
    put_be32(png, static_cast<uint32_t>(data.size()));
    std::vector<uint8_t> body(type, type + 4);
    body.insert(body.end(), data.begin(), data.end());
    png.insert(png.end(), body.begin(), body.end());
    put_be32(png, static_cast<uint32_t>(crc32(0, body.data(), static_cast<uInt>(body.size()))));
  };
  std::vector<uint8_t> ihdr;
  put_be32(ihdr, static_cast<uint32_t>(width));
  put_be32(ihdr, static_cast<uint32_t>(height));
  ihdr.insert(ihdr.end(), {8, static_cast<uint8_t>(channels == 3 ? 2 : 0), 0, 0, 0});
  chunk("IHDR", ihdr);
  chunk("IDAT", z);
  chunk("IEND", {});
  return png;
}

}  // namespace f8net::testing
