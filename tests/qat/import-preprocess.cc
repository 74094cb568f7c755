// ImageNet preprocessing parity (docs/import.md): the ImageFolder evaluation transform (resize the
// shorter side, center crop) against torchvision's Resize + CenterCrop on PIL images, computed by
// import-make-preprocess-refs.py. Required: >= 99.9 % of pixels within one 8-bit level (the
// implementation follows Pillow's fixed-point resample, so all are expected identical).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "f8net/data/batch-loader.h"
#include "f8net/data/dataset.h"
#include "f8net/data/error.h"
#include "f8net/data/open-dataset.h"
#include "f8net/data/resize.h"
#include "f8net/data/transform.h"

namespace f8net::qat {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(ImportPreprocess, EvalTransformMatchesTorchvisionPil) {
  const std::string python = F8NET_PYTHON3;
  if (python.empty() ||
      std::system((python + " -c 'import torchvision, PIL, numpy' >/dev/null 2>&1").c_str()) != 0) {
    GTEST_SKIP() << "python3 with torchvision and PIL is not installed (python3-torchvision)";
  }
  std::string dir = (fs::temp_directory_path() / "f8net-preprocess-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  ASSERT_EQ(
      std::system((python + " " F8NET_SOURCE_DIR "/tests/qat/import-make-preprocess-refs.py " + dir)
                      .c_str()),
      0);
  std::ifstream manifest(dir + "/manifest.txt");
  std::string name;
  int h = 0, w = 0, c = 0, resize = 0, crop = 0, cases = 0;
  while (manifest >> name >> h >> w >> c >> resize >> crop) {
    ++cases;
    data::Image img;
    img.height = h;
    img.width = w;
    img.channels = c;
    img.hwc = read_bytes(dir + "/" + name + ".in");
    const std::vector<uint8_t> want = read_bytes(dir + "/" + name + ".out");
    ASSERT_EQ(img.hwc.size(), static_cast<size_t>(h) * w * c) << name;
    ASSERT_EQ(want.size(), static_cast<size_t>(crop) * crop * c) << name;
    data::TransformOptions o;
    o.size = crop;
    o.resize = resize;
    o.variable_size = true;
    o.out_channels = c;
    std::mt19937_64 rng(1);
    std::vector<float> out(want.size());
    data::transform_image(img, o, rng, out.data());
    int64_t exact = 0, within1 = 0;
    for (int ch = 0; ch < c; ++ch) {
      for (int p = 0; p < crop * crop; ++p) {
        const int got = static_cast<int>(std::lround(out[ch * crop * crop + p] * 255.0f));
        const int ref = want[static_cast<size_t>(p) * c + ch];
        exact += got == ref;
        within1 += std::abs(got - ref) <= 1;
      }
    }
    const double n = static_cast<double>(want.size());
    EXPECT_GE(within1 / n, 0.999) << name << ": " << within1 << " of " << n << " within 1 level";
    EXPECT_GE(exact / n, 0.999) << name << ": " << exact << " of " << n << " identical";
  }
  EXPECT_EQ(cases, 7);
  fs::remove_all(dir);
}

TEST(ImportPreprocess, TorchvisionSizeAndCropRules) {
  // Resize(256): the longer side is truncated, not rounded (500 x 333 -> 384.38 -> 384).
  EXPECT_EQ(data::resize_shorter_side(500, 333, 256), (std::pair<int, int>{384, 256}));
  EXPECT_EQ(data::resize_shorter_side(375, 500, 256), (std::pair<int, int>{256, 341}));
  EXPECT_EQ(data::resize_shorter_side(200, 200, 64), (std::pair<int, int>{64, 64}));
  // CenterCrop: int(round((in - out) / 2.0)), Python rounding half to even.
  EXPECT_EQ(data::center_crop_offset(341, 224), 58);  // 58.5 -> 58
  EXPECT_EQ(data::center_crop_offset(343, 224), 60);  // 59.5 -> 60
  EXPECT_EQ(data::center_crop_offset(256, 224), 16);
  EXPECT_EQ(data::center_crop_offset(224, 224), 0);
}

}  // namespace
}  // namespace f8net::qat
