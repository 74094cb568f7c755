// Transforms and the BatchLoader: exact pixel values, normalization and channel replication,
// deterministic augmentation, batches independent of the worker count, resume from a batch, and
// worker errors surfacing in next().
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "f8net/data/batch-loader.h"
#include "f8net/data/error.h"
#include "f8net/data/transform.h"
#include "qat/data-fixtures.h"

namespace f8net::data {
namespace {

std::shared_ptr<const Dataset> gradient_dataset(int64_t count, int64_t channels, int64_t size) {
  ImageArray a;
  a.count = count;
  a.channels = channels;
  a.height = a.width = size;
  for (int64_t i = 0; i < count * channels * size * size; ++i) {
    a.pixels.push_back(static_cast<uint8_t>((i * 13) % 256));
  }
  for (int64_t i = 0; i < count; ++i) a.labels.push_back(i % 10);
  return make_array_dataset(std::move(a), 10, {}, "gradient");
}

TEST(DataTransform, EvalTransformIsRawOver255) {
  const auto ds = gradient_dataset(2, 1, 6);
  DataOptions dc;
  const TransformOptions t = make_transform(dc, *ds, false);
  EXPECT_EQ(t.size, 6);
  EXPECT_EQ(t.out_channels, 1);
  Image img;
  ds->image(1, img);
  std::vector<float> out(36);
  std::mt19937_64 rng(1);
  transform_image(img, t, rng, out.data());
  for (int i = 0; i < 36; ++i) EXPECT_EQ(out[i], static_cast<float>(img.hwc[i]) / 255.0f) << i;
}

TEST(DataTransform, ReplicatesChannelsAndNormalizes) {
  const auto ds = gradient_dataset(1, 1, 4);
  DataOptions dc;
  dc.channels = 3;
  dc.normalize = true;
  dc.mean = {0.5, 0.25, 0.0};
  dc.std_dev = {0.5};
  const TransformOptions t = make_transform(dc, *ds, false);
  ASSERT_EQ(t.out_channels, 3);
  Image img;
  ds->image(0, img);
  std::vector<float> out(48);
  std::mt19937_64 rng(1);
  transform_image(img, t, rng, out.data());
  for (int c = 0; c < 3; ++c) {
    for (int p = 0; p < 16; ++p) {
      const float x = static_cast<float>(img.hwc[p]) / 255.0f;
      EXPECT_NEAR(out[c * 16 + p], (x - static_cast<float>(dc.mean[c])) / 0.5f, 1e-6);
    }
  }
  // 3-channel images into a 1-channel model, and a mean of the wrong length, are refused.
  const auto rgb = gradient_dataset(1, 3, 4);
  DataOptions one;
  one.channels = 1;
  EXPECT_THROW(make_transform(one, *rgb, false), DataError);
  dc.mean = {0.1, 0.2};
  EXPECT_THROW(make_transform(dc, *ds, false), DataError);
}

TEST(DataTransform, PaddedCropAndFlipAreDeterministicPermutations) {
  const auto ds = gradient_dataset(1, 1, 8);
  DataOptions dc;
  dc.random_crop_padding = 2;
  dc.hflip = true;
  const TransformOptions t = make_transform(dc, *ds, true);
  Image img;
  ds->image(0, img);
  std::vector<float> a(64), b(64);
  bool moved = false;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::mt19937_64 r1(seed), r2(seed);
    transform_image(img, t, r1, a.data());
    transform_image(img, t, r2, b.data());
    EXPECT_EQ(a, b);
    // Every output pixel is zero padding or some input pixel.
    for (float v : a) {
      const bool ok = v == 0.0f || std::any_of(img.hwc.begin(), img.hwc.end(), [&](uint8_t p) {
                        return static_cast<float>(p) / 255.0f == v;
                      });
      EXPECT_TRUE(ok);
    }
    moved |= a[9] != static_cast<float>(img.hwc[9]) / 255.0f;
  }
  EXPECT_TRUE(moved) << "20 seeds never cropped or flipped";
}

TEST(DataTransform, ResizesAndCropsVariableSizeImages) {
  Image img;
  img.height = 10;
  img.width = 20;
  img.channels = 3;
  img.hwc.assign(600, 200);
  TransformOptions t;
  t.size = 6;
  t.out_channels = 3;
  t.variable_size = true;
  t.resize = 8;
  std::vector<float> out(108, -1.0f);
  std::mt19937_64 rng(3);
  transform_image(img, t, rng, out.data());  // 10x20 -> 8x16 -> center 6x6
  for (float v : out) EXPECT_NEAR(v, 200.0f / 255.0f, 1e-6);
  t.train = true;
  t.random_resized_crop = true;
  std::fill(out.begin(), out.end(), -1.0f);
  transform_image(img, t, rng, out.data());
  for (float v : out) EXPECT_NEAR(v, 200.0f / 255.0f, 1e-6);
}

TEST(DataLoader, EpochOrderIsASeededPermutation) {
  const auto a = epoch_order(100, true, 7, 0);
  const auto b = epoch_order(100, true, 7, 0);
  const auto c = epoch_order(100, true, 7, 1);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(100);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  EXPECT_EQ(epoch_order(5, false, 7, 3), (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

std::vector<Batch> all_batches(const std::shared_ptr<const Dataset>& ds, const TransformOptions& t,
                               LoaderOptions o) {
  BatchLoader loader(ds, t, o);
  std::vector<Batch> out;
  Batch b;
  while (loader.next(b)) out.push_back(b);
  return out;
}

TEST(DataLoader, BatchesDependOnlyOnSeedEpochAndIndex) {
  const auto ds = gradient_dataset(50, 1, 8);
  DataOptions dc;
  dc.random_crop_padding = 1;
  dc.hflip = true;
  const TransformOptions t = make_transform(dc, *ds, true);
  LoaderOptions o;
  o.batch_size = 8;
  o.shuffle = true;
  o.drop_last = true;
  o.seed = 11;
  o.epoch = 2;
  o.workers = 1;
  const auto one = all_batches(ds, t, o);
  ASSERT_EQ(one.size(), 6u);  // 50 / 8, last partial batch dropped
  o.workers = 3;
  o.prefetch = 2;
  const auto three = all_batches(ds, t, o);
  ASSERT_EQ(three.size(), one.size());
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(one[i].index, static_cast<int64_t>(i));
    EXPECT_EQ(one[i].images, three[i].images) << "batch " << i;
    EXPECT_EQ(one[i].labels, three[i].labels) << "batch " << i;
  }
  o.start_batch = 4;
  const auto tail = all_batches(ds, t, o);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].index, 4);
  EXPECT_EQ(tail[0].images, one[4].images);
  EXPECT_EQ(tail[1].labels, one[5].labels);
  o.epoch = 3;
  o.start_batch = 0;
  EXPECT_NE(all_batches(ds, t, o)[0].labels, one[0].labels);
  // Without drop_last the partial batch comes last.
  o.drop_last = false;
  o.shuffle = false;
  const auto full = all_batches(ds, t, o);
  ASSERT_EQ(full.size(), 7u);
  EXPECT_EQ(full.back().n, 2);
  EXPECT_EQ(full.back().labels, (std::vector<int64_t>{48 % 10, 49 % 10}));
}

class FailingDataset final : public Dataset {
 public:
  int64_t size() const override { return 20; }
  int64_t num_classes() const override { return 2; }
  int64_t channels() const override { return 1; }
  int64_t native_size() const override { return 4; }
  int64_t label(int64_t) const override { return 0; }
  void image(int64_t index, Image& out) const override {
    if (index == 13) throw DataError("image 13: broken");
    out.height = out.width = 4;
    out.channels = 1;
    out.hwc.assign(16, 1);
  }
  std::vector<std::string> class_names() const override { return {}; }
  std::string description() const override { return "failing"; }
};

TEST(DataLoader, WorkerErrorsSurfaceInOrder) {
  const auto ds = std::make_shared<FailingDataset>();
  DataOptions dc;
  const TransformOptions t = make_transform(dc, *ds, false);
  LoaderOptions o;
  o.batch_size = 5;
  o.workers = 2;
  BatchLoader loader(ds, t, o);
  Batch b;
  EXPECT_TRUE(loader.next(b));
  EXPECT_TRUE(loader.next(b));
  try {
    loader.next(b);
    FAIL() << "the batch holding image 13 did not fail";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("image 13"), std::string::npos);
  }
}

}  // namespace
}  // namespace f8net::data
