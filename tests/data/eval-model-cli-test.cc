// `f8net eval --model` on every data set format training reads: Fashion-MNIST IDX (.gz), CIFAR-10
// binary batches and an ImageFolder tree of PNG files of several sizes, each generated here. The
// expected top-1/top-5 come from an independent evaluation: the pixels this test wrote (for
// ImageFolder brought to the model's size with the torchvision-exact resize primitives of
// f8net/data/resize.h), the model's preprocessing (rt::image_to_codes) and the interpreter, one
// image at a time. Labels are chosen from those predictions (the 1st, 5th or 6th choice), so
// both accuracies are strictly between 0 and 100 % and move with any change in ranking. A data
// set the model cannot take is refused with one line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "e2e/cli-runner.h"
#include "f8net/data/resize.h"
#include "f8net/rt/interpreter.h"
#include "f8net/rt/logits.h"
#include "f8net/rt/model-file.h"
#include "f8net/rt/preprocess.h"
#include "support/tiny-models.h"

namespace f8net::testing {
namespace {

namespace fs = std::filesystem;

// One FC layer straight on the C x size x size input codes (10 classes): a linear classifier
// whose ranking moves with every pixel (a bias-dominated or pooled model would hide a wrong crop
// or channel order). `normalized`: signed int8 input codes at FL 5 from (pixel/255 - mean) / std.
rt::ModelDef linear_model(uint64_t seed, int32_t channels, int32_t size, bool normalized) {
  std::mt19937_64 rng(seed);
  rt::ModelDef m;
  m.metadata.name = "linear-model";
  if (normalized) {
    m.metadata.preprocessing.mode = rt::Preprocess::kNormalized;
    m.metadata.preprocessing.mean = {0.49f, 0.48f, 0.45f};
    m.metadata.preprocessing.std = {0.25f, 0.24f, 0.26f};
    m.input = {rt::Shape{channels, size, size}, rt::DType::kInt8, 5};
  } else {
    m.metadata.preprocessing.mode = rt::Preprocess::kRaw01;
    m.input = {rt::Shape{channels, size, size}, rt::DType::kUint8, 8};
  }
  const size_t k = static_cast<size_t>(channels * size * size);
  rt::add_fully_connected(&m, 0, 10, random_weights(rng, 10 * k, 127), random_bias(rng, 10, 100),
                          {6});
  return m;
}

// The interpreter's ranking of one planar image (channels x H x W pixels), best first.
std::vector<int> ranking(const rt::ModelDef& m, const std::vector<uint8_t>& planar,
                         int32_t channels) {
  rt::Interpreter it;
  EXPECT_TRUE(it.load(m).is_ok());
  EXPECT_TRUE(it.prepare({1, false}).is_ok());
  EXPECT_TRUE(rt::image_to_codes(planar.data(), channels, m.input, m.metadata.preprocessing,
                                 it.input_data())
                  .is_ok());
  EXPECT_TRUE(it.run().is_ok());
  return rt::top_k(it.output(), 10);
}

// Expected counts, and the label given to image i: its 1st, 5th or 6th choice, so that a
// different ranking on either side of the top-1 or top-5 boundary changes a count.
struct Expected {
  int images = 0, top1 = 0, top5 = 0;
  int label_for(const std::vector<int>& rank) {
    const int label = images % 3 == 0 ? rank[0] : images % 3 == 1 ? rank[4] : rank[5];
    ++images;
    top1 += label == rank[0];
    top5 += std::find(rank.begin(), rank.begin() + 5, label) != rank.begin() + 5;
    return label;
  }
};

// Runs eval --json and checks its counts against `want`.
void expect_eval(const std::string& args, const Expected& want, const TempDir& dir) {
  const CliResult r = run_cli("eval --json --threads 2 " + args, dir);
  ASSERT_EQ(r.code, 0) << args << "\n" << r.err;
  const nlohmann::json j = nlohmann::json::parse(last_line(r.out), nullptr, false);
  ASSERT_TRUE(j.is_object()) << args << "\n" << r.out;
  // The JSON rounds percentages to 4 decimals; one image more or less moves them by far more.
  EXPECT_NEAR(j.value("top1", -1.0), 100.0 * want.top1 / want.images, 5.1e-5) << args << "\n"
                                                                              << r.out;
  EXPECT_NEAR(j.value("top5", -1.0), 100.0 * want.top5 / want.images, 5.1e-5) << args << "\n"
                                                                              << r.out;
  EXPECT_EQ(j.value("images", -1), want.images) << args << "\n" << r.out;
  EXPECT_GT(want.top1, 0);
  EXPECT_LT(want.top5, want.images);
}

void expect_refused(const std::string& args, const std::string& why, const TempDir& dir) {
  const CliResult r = run_cli("eval " + args, dir);
  EXPECT_EQ(r.code, 1) << args << "\n" << r.out << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << args << "\n" << r.err;
  EXPECT_NE(r.err.find(why), std::string::npos) << args << "\n" << r.err;
}

std::vector<uint8_t> random_pixels(std::mt19937& rng, size_t n) {
  std::vector<uint8_t> px(n);
  for (uint8_t& p : px) p = static_cast<uint8_t>(rng());
  return px;
}

std::string write_model(const rt::ModelDef& m, const std::string& path) {
  EXPECT_TRUE(rt::write_model_file(m, path).is_ok());
  return path;
}

TEST(EvalModelCli, FashionMnistIdxMatchesTheInterpreter) {
  TempDir dir;
  const rt::ModelDef m = linear_model(21, 1, 12, false);
  const std::string model = write_model(m, dir / "fm.f8");
  const int n = 40;
  std::mt19937 rng(5);
  IdxFiles f;
  for (uint32_t v : {0x00000803u, static_cast<uint32_t>(n), 12u, 12u}) put_be32(f.images, v);
  for (uint32_t v : {0x00000801u, static_cast<uint32_t>(n)}) put_be32(f.labels, v);
  std::vector<std::vector<int>> ranks;
  Expected all;
  for (int i = 0; i < n; ++i) {
    const std::vector<uint8_t> px = random_pixels(rng, 144);
    f.images.insert(f.images.end(), px.begin(), px.end());
    ranks.push_back(ranking(m, px, 1));
    f.labels.push_back(static_cast<uint8_t>(all.label_for(ranks.back())));
  }
  fs::create_directories(dir / "fm");
  write_bytes(dir / "fm/t10k-images-idx3-ubyte.gz", f.images, true);
  write_bytes(dir / "fm/t10k-labels-idx1-ubyte.gz", f.labels, true);
  expect_eval("--model " + model + " --data " + (dir / "fm"), all, dir);
  expect_eval("--model " + model + " --dataset mnist --data " + (dir / "fm"), all, dir);
  // --limit keeps train's evenly strided subset (data.val_limit): images i * 40 / 7.
  Expected sub;
  for (int i = 0; i < 7; ++i) {
    const std::vector<int>& rank = ranks[static_cast<size_t>(i * n / 7)];
    const int label = f.labels[8 + static_cast<size_t>(i * n / 7)];
    ++sub.images;
    sub.top1 += label == rank[0];
    sub.top5 += std::find(rank.begin(), rank.begin() + 5, label) != rank.begin() + 5;
  }
  expect_eval("--model " + model + " --data " + (dir / "fm") + " --limit 7", sub, dir);

  // Models that cannot take 1-channel 12x12 images, and data that is not there.
  rt::ModelDef rgb = random_cnn(22, 3);
  rgb.metadata.preprocessing.replicate_gray = false;
  expect_refused("--model " + write_model(rgb, dir / "rgb.f8") + " --data " + (dir / "fm"),
                 "does not replicate gray", dir);
  expect_refused("--model " + write_model(linear_model(3, 1, 28, false), dir / "28.f8") +
                     " --data " + (dir / "fm"),
                 "has 12x12 images but the model takes 28x28", dir);
  expect_refused("--model " + model + " --dataset cifar10 --data " + (dir / "fm"),
                 "missing test_batch.bin", dir);
  const CliResult bad = run_cli("eval --model " + model + " --dataset svhn", dir);
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_EQ(count_lines(bad.err), 1) << bad.err;
}

TEST(EvalModelCli, Cifar10BinaryMatchesTheInterpreterWithNormalization) {
  TempDir dir;
  const rt::ModelDef m = linear_model(7, 3, 32, true);
  const std::string model = write_model(m, dir / "cifar.f8");
  std::mt19937 rng(6);
  std::vector<uint8_t> records;
  Expected all;
  for (int i = 0; i < 24; ++i) {
    const std::vector<uint8_t> chw = random_pixels(rng, 3 * 32 * 32);
    records.push_back(static_cast<uint8_t>(all.label_for(ranking(m, chw, 3))));
    records.insert(records.end(), chw.begin(), chw.end());
  }
  fs::create_directories(dir / "c/cifar-10-batches-bin");
  write_bytes(dir / "c/cifar-10-batches-bin/test_batch.bin", records, false);
  expect_eval("--model " + model + " --dataset cifar10 --data " + (dir / "c"), all, dir);

  expect_refused("--model " + write_model(random_cnn(8, 1), dir / "gray.f8") +
                     " --dataset cifar10 --data " + (dir / "c"),
                 "has 3-channel images but the model takes 1", dir);
  expect_refused("--model " + write_model(random_cnn(9, 3), dir / "12.f8") +
                     " --dataset cifar10 --data " + (dir / "c"),
                 "has 32x32 images but the model takes 12x12", dir);
  // A truncated record: the reader's one line.
  records.pop_back();
  write_bytes(dir / "c/cifar-10-batches-bin/test_batch.bin", records, false);
  expect_refused("--model " + model + " --dataset cifar10 --data " + (dir / "c"), "whole number",
                 dir);
}

// torchvision's Resize(size) + CenterCrop(size) of an h x w RGB image (HWC) to planar CHW;
// `centre` false crops the top-left corner instead (to show the test would notice).
std::vector<uint8_t> resize_crop_planar(const std::vector<uint8_t>& hwc, int h, int w, int size,
                                        bool centre) {
  auto [rows, cols] = data::resize_shorter_side(h, w, size);
  std::vector<uint8_t> resized = hwc;
  if (rows != h || cols != w) {
    resized.assign(static_cast<size_t>(rows * cols * 3), 0);
    data::resize_bilinear_pil(hwc.data(), h, w, 3, resized.data(), rows, cols);
  }
  const int y0 = centre ? data::center_crop_offset(rows, size) : 0;
  const int x0 = centre ? data::center_crop_offset(cols, size) : 0;
  std::vector<uint8_t> planar(static_cast<size_t>(3 * size * size));
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < size; ++y) {
      for (int x = 0; x < size; ++x) {
        planar[static_cast<size_t>((c * size + y) * size + x)] =
            resized[static_cast<size_t>(((y0 + y) * cols + x0 + x) * 3 + c)];
      }
    }
  }
  return planar;
}

TEST(EvalModelCli, ImageFolderResizesCropsAndMatchesTheInterpreter) {
  TempDir dir;
  const rt::ModelDef m = linear_model(23, 3, 12, false);
  const std::string model = write_model(m, dir / "folder.f8");
  for (int c = 0; c < 10; ++c) fs::create_directories(dir / ("f/train/class" + std::to_string(c)));
  std::mt19937 rng(8);
  const int sizes[][2] = {{12, 12}, {14, 20}, {17, 13}, {12, 30}};  // h, w
  Expected all;
  bool off_centre_differs = false;
  for (int i = 0; i < 24; ++i) {
    const int h = sizes[i % 4][0], w = sizes[i % 4][1];
    const std::vector<uint8_t> hwc = random_pixels(rng, static_cast<size_t>(h * w * 3));
    const std::vector<int> rank = ranking(m, resize_crop_planar(hwc, h, w, 12, true), 3);
    if (h != w)
      off_centre_differs |= ranking(m, resize_crop_planar(hwc, h, w, 12, false), 3) != rank;
    const int label = all.label_for(rank);
    const std::string cls = dir / ("f/val/class" + std::to_string(label));
    fs::create_directories(cls);
    char name[32];
    std::snprintf(name, sizeof(name), "/img%02d.png", i);
    write_bytes(cls + name, encode_png(hwc, w, h, 3), false);
  }
  // The test has the power to see a wrong crop: a top-left crop would rank some image otherwise.
  EXPECT_TRUE(off_centre_differs);
  expect_eval("--model " + model + " --dataset imagefolder --data " + (dir / "f"), all, dir);

  // --resize below the model's size, a 1-channel model, and a class val/ has but train/ lacks.
  expect_refused("--model " + model + " --dataset imagefolder --resize 8 --data " + (dir / "f"),
                 "smaller than the model's 12x12 input", dir);
  expect_refused("--model " + write_model(random_cnn(24, 1), dir / "gray.f8") +
                     " --dataset imagefolder --data " + (dir / "f"),
                 "has 3-channel images but the model takes 1", dir);
  fs::create_directories(dir / "f/val/zebra");
  write_bytes(dir / "f/val/zebra/z.png", encode_png(std::vector<uint8_t>(48, 1), 4, 4, 3), false);
  expect_refused("--model " + model + " --dataset imagefolder --data " + (dir / "f"),
                 "class is not in train/", dir);
}

}  // namespace
}  // namespace f8net::testing
