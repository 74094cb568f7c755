// Data-set readers (f8net_data): IDX (gzipped and plain), CIFAR-10 batches and ImageFolder trees on
// small generated files, and every malformed input rejected with the file named.
#include <gtest/gtest.h>

#include <filesystem>

#include "f8net/data/cifar10.h"
#include "f8net/data/error.h"
#include "f8net/data/idx.h"
#include "f8net/data/open-dataset.h"
#include "qat/data-fixtures.h"

namespace f8net::data {
namespace {

using testing::TempDir;
using testing::write_bytes;

// Expects `f` to throw DataError whose message contains every string of `parts`.
template <typename F>
void expect_data_error(F&& f, std::vector<std::string> parts) {
  try {
    f();
    FAIL() << "no DataError";
  } catch (const DataError& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
  }
}

TEST(DataIdx, ReadsGzippedAndPlainFiles) {
  TempDir dir;
  const auto idx = testing::make_idx(7, 5, 10, 3);
  for (bool gz : {true, false}) {
    write_bytes(dir / "i", idx.images, gz);
    write_bytes(dir / "l", idx.labels, gz);
    const ImageArray a = read_idx(dir / "i", dir / "l");
    EXPECT_EQ(a.count, 7);
    EXPECT_EQ(a.channels, 1);
    EXPECT_EQ(a.height, 5);
    EXPECT_EQ(a.width, 5);
    ASSERT_EQ(a.pixels.size(), 7u * 25u);
    EXPECT_TRUE(std::equal(a.pixels.begin(), a.pixels.end(), idx.images.begin() + 16));
    for (int i = 0; i < 7; ++i) EXPECT_EQ(a.labels[i], idx.labels[8 + i]);
  }
}

TEST(DataIdx, RejectsMalformedFiles) {
  TempDir dir;
  const auto idx = testing::make_idx(4, 6, 10, 3);
  write_bytes(dir / "l", idx.labels, true);
  // Bad magic (a label file given as images).
  write_bytes(dir / "i", idx.labels, true);
  expect_data_error([&] { read_idx(dir / "i", dir / "l"); }, {dir / "i", "magic"});
  // Truncated data.
  auto cut = idx.images;
  cut.resize(cut.size() - 5);
  write_bytes(dir / "i", cut, true);
  expect_data_error([&] { read_idx(dir / "i", dir / "l"); }, {"truncated"});
  // Truncated header.
  write_bytes(dir / "i", std::vector<uint8_t>(idx.images.begin(), idx.images.begin() + 10), true);
  expect_data_error([&] { read_idx(dir / "i", dir / "l"); }, {"header"});
  // Trailing bytes.
  auto extra = idx.images;
  extra.push_back(1);
  write_bytes(dir / "i", extra, true);
  expect_data_error([&] { read_idx(dir / "i", dir / "l"); }, {"trailing"});
  // Much more data than the header declares (a gzip bomb behind a small header) stops at the
  // declared size instead of inflating everything; a header declaring more than the limit is
  // refused before any data is read.
  auto bomb = idx.images;
  bomb.resize(bomb.size() + (8 << 20), 0);
  write_bytes(dir / "i", bomb, true);
  expect_data_error([&] { read_idx(dir / "i", dir / "l"); }, {"decompresses to more than"});
  auto huge = idx.images;
  huge[4] = huge[5] = 0x7F;  // count ~ 2^31 images of 6x6
  write_bytes(dir / "i", huge, true);
  expect_data_error([&] { read_idx(dir / "i", dir / "l"); }, {"header declares more than"});
  // Count mismatch.
  write_bytes(dir / "i", idx.images, true);
  const auto other = testing::make_idx(5, 6, 10, 3);
  write_bytes(dir / "l5", other.labels, true);
  expect_data_error([&] { read_idx(dir / "i", dir / "l5"); }, {"5 labels for 4 images"});
  // Label out of range.
  auto bad = idx.labels;
  bad[9] = 10;
  write_bytes(dir / "lb", bad, true);
  expect_data_error([&] { read_idx(dir / "i", dir / "lb"); }, {"label 10", "out of range"});
  // Corrupt gzip: a gzip stream cut in the middle.
  write_bytes(dir / "g", idx.images, true);
  std::vector<uint8_t> gz;
  {
    std::ifstream in(dir / "g", std::ios::binary);
    gz.assign(std::istreambuf_iterator<char>(in), {});
  }
  gz.resize(gz.size() / 2);
  write_bytes(dir / "g", gz, false);
  expect_data_error([&] { read_idx(dir / "g", dir / "l"); }, {dir / "g", "gzip"});
  // Missing file.
  expect_data_error([&] { read_idx(dir / "nope", dir / "l"); }, {"nope", "no such file"});
}

TEST(DataIdx, OpensFashionMnistLayoutWithStridedLimit) {
  TempDir dir;
  testing::write_fashion_dir(dir.path(), 40, 20, 8);
  DataOptions dc;
  dc.dir = dir.path();
  const auto train = open_dataset(dc, Split::kTrain);
  const auto val = open_dataset(dc, Split::kVal);
  EXPECT_EQ(train->size(), 40);
  EXPECT_EQ(val->size(), 20);
  EXPECT_EQ(train->native_size(), 8);
  EXPECT_EQ(train->class_names().at(9), "Ankle boot");
  dc.train_limit = 10;
  const auto sub = open_dataset(dc, Split::kTrain);
  ASSERT_EQ(sub->size(), 10);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(sub->label(i), train->label(i * 4));
  std::filesystem::remove(dir / "t10k-labels-idx1-ubyte.gz");
  expect_data_error([&] { open_dataset(dc, Split::kVal); }, {"t10k-labels-idx1-ubyte"});
  dc.dir = dir / "absent";
  expect_data_error([&] { open_dataset(dc, Split::kTrain); }, {"absent", "not found"});
}

TEST(DataCifar, ReadsBatchesAndRejectsBadOnes) {
  TempDir dir;
  const std::string sub = dir / "cifar-10-batches-bin";
  std::filesystem::create_directories(sub);
  for (int i = 1; i <= 5; ++i) {
    write_bytes(sub + "/data_batch_" + std::to_string(i) + ".bin",
                testing::make_cifar_records(3, i), false);
  }
  const auto test_records = testing::make_cifar_records(4, 9);
  write_bytes(sub + "/test_batch.bin", test_records, false);
  DataOptions dc;
  dc.dataset = "cifar10";
  dc.dir = dir.path();
  const auto train = open_dataset(dc, Split::kTrain);
  const auto val = open_dataset(dc, Split::kVal);
  EXPECT_EQ(train->size(), 15);
  EXPECT_EQ(val->size(), 4);
  EXPECT_EQ(val->channels(), 3);
  EXPECT_EQ(val->native_size(), 32);
  EXPECT_EQ(val->label(3), 3);
  Image img;
  val->image(1, img);
  ASSERT_EQ(img.hwc.size(), 3u * 32 * 32);
  // HWC from CHW: pixel (y=2, x=5), channel 1.
  EXPECT_EQ(img.hwc[(2 * 32 + 5) * 3 + 1], test_records[3073 + 1 + 1024 + 2 * 32 + 5]);

  auto truncated = test_records;
  truncated.pop_back();
  write_bytes(sub + "/test_batch.bin", truncated, false);
  expect_data_error([&] { open_dataset(dc, Split::kVal); }, {"test_batch.bin", "whole number"});
  auto bad_label = test_records;
  bad_label[3073] = 11;
  write_bytes(sub + "/test_batch.bin", bad_label, false);
  expect_data_error([&] { open_dataset(dc, Split::kVal); }, {"label 11"});
  std::filesystem::remove(sub + "/data_batch_4.bin");
  expect_data_error([&] { open_dataset(dc, Split::kTrain); }, {"missing data_batch_4.bin"});
}

void write_png(const std::string& path, int64_t label, int w, int h) {
  std::vector<uint8_t> rgb(static_cast<size_t>(w * h * 3));
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>((i * 7 + label * 40) % 256);
  write_bytes(path, testing::encode_png(rgb, w, h, 3), false);
}

TEST(DataImageFolder, ListsClassesAndDecodesPng) {
  TempDir dir;
  for (const std::string split : {"train", "val"}) {
    for (const std::string cls : {"cat", "dog"}) {
      std::filesystem::create_directories(dir / (split + "/" + cls));
      for (int i = 0; i < 2; ++i) {
        write_png(dir / (split + "/" + cls + "/" + std::to_string(i) + ".png"), cls == "dog", 20,
                  14);
      }
    }
  }
  DataOptions dc;
  dc.dataset = "imagefolder";
  dc.dir = dir.path();
  dc.input_size = 8;
  const auto train = open_dataset(dc, Split::kTrain);
  EXPECT_EQ(train->size(), 4);
  EXPECT_EQ(train->num_classes(), 2);
  EXPECT_EQ(train->class_names(), (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(train->label(0), 0);
  EXPECT_EQ(train->label(3), 1);
  Image img;
  train->image(2, img);
  EXPECT_EQ(img.width, 20);
  EXPECT_EQ(img.height, 14);
  EXPECT_EQ(img.channels, 3);
  EXPECT_EQ(img.hwc[0], static_cast<uint8_t>(40));  // RGB order kept: first byte is R
  EXPECT_EQ(img.hwc[1], static_cast<uint8_t>(47));

  // An undecodable file fails when loaded, naming it.
  write_bytes(dir / "train/dog/zz.png", {1, 2, 3}, false);
  const auto broken = open_dataset(dc, Split::kTrain);
  expect_data_error([&] { broken->image(broken->size() - 1, img); }, {"zz.png", "not a PNG"});
  // A PNG cut short (no IEND chunk) is refused as truncated instead of decoded in part; one that
  // declares 32768x32768 pixels is refused from its header, before OpenCV allocates for it.
  std::vector<uint8_t> png = testing::encode_png(std::vector<uint8_t>(20 * 14 * 3, 9), 20, 14, 3);
  write_bytes(dir / "train/dog/zz.png", std::vector<uint8_t>(png.begin(), png.end() - 20), false);
  expect_data_error([&] { broken->image(broken->size() - 1, img); }, {"zz.png", "truncated"});
  png[16] = png[20] = 0;
  png[17] = png[21] = 0x80;  // width = height = 32768 (IHDR CRC left stale: never decoded)
  png[18] = png[19] = png[22] = png[23] = 0;
  write_bytes(dir / "train/dog/zz.png", png, false);
  expect_data_error([&] { broken->image(broken->size() - 1, img); }, {"zz.png", "limit"});
  // A validation class unknown to train/.
  std::filesystem::create_directories(dir / "val/bird");
  write_png(dir / "val/bird/0.png", 0, 4, 4);
  expect_data_error([&] { open_dataset(dc, Split::kVal); }, {"bird", "not in train"});
}

}  // namespace
}  // namespace f8net::data
