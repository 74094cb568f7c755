// Bring your own float model, end to end through the CLI (docs/import.md): a torchvision
// ResNet-18 state dict (made by Debian's python3-torchvision) is imported, evaluated as a float
// checkpoint, fine-tuned by a scaled-down configs/imagenet-resnet18-tiny-ft.yaml on a small
// ImageFolder, exported and verified bit-exact. Also: bad weights give one line and no file.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "cli-runner.h"

namespace {

namespace fs = std::filesystem;
using f8net::testing::CliResult;
using f8net::testing::count_lines;
using f8net::testing::last_line;
using f8net::testing::run_cli;
using f8net::testing::TempDir;

bool have_torchvision() {
  const std::string python = F8NET_PYTHON3;
  return !python.empty() &&
         std::system((python + " -c 'import torchvision' >/dev/null 2>&1").c_str()) == 0;
}

// dir/{train,val}/c<k>/<i>.png: 32x32 RGB pattern images of 3 classes.
void write_image_folder(const std::string& dir, int per_class_train, int per_class_val) {
  std::mt19937 rng(5);
  for (const char* split : {"train", "val"}) {
    const int n = std::string(split) == "train" ? per_class_train : per_class_val;
    for (int c = 0; c < 3; ++c) {
      const std::string cls = dir + "/" + split + "/c" + std::to_string(c);
      fs::create_directories(cls);
      for (int i = 0; i < n; ++i) {
        const std::vector<uint8_t> chw = f8net::testing::pattern_image(c, 3, 32, rng);
        std::vector<uint8_t> hwc(chw.size());
        for (int ch = 0; ch < 3; ++ch) {
          for (int p = 0; p < 32 * 32; ++p) hwc[p * 3 + ch] = chw[ch * 32 * 32 + p];
        }
        f8net::testing::write_bytes(cls + "/" + std::to_string(i) + ".png",
                                    f8net::testing::encode_png(hwc, 32, 32, 3), false);
      }
    }
  }
}

TEST(ImportCli, ImportedResnet18FineTunesExportsAndVerifies) {
  if (!have_torchvision()) GTEST_SKIP() << "python3-torchvision is not installed";
  TempDir dir;
  write_image_folder(dir / "data", 8, 4);
  const std::string weights = dir / "r18.pth";
  const std::string py = std::string(F8NET_PYTHON3) +
                         " -c 'import torch, torchvision; torch.manual_seed(3); "
                         "torch.save(torchvision.models.resnet18(num_classes=3).state_dict(), \"" +
                         weights + "\")'";
  ASSERT_EQ(std::system(py.c_str()), 0);

  const std::string data_sets =
      " --set data.dir=" + (dir / "data") + " --set data.input_size=32 --set data.resize=32";
  const std::string fl = dir / "float.pt";
  const CliResult im = run_cli(
      "import --from torchvision --arch resnet18 " + weights + " -o " + fl + data_sets + " --json",
      dir);
  ASSERT_EQ(im.code, 0) << im.err;
  const auto ij = nlohmann::json::parse(last_line(im.out));
  EXPECT_EQ(ij.at("tensors").get<int>(), 102);  // 20 conv+BN layers x 5, FC weight and bias
  EXPECT_EQ(ij.at("num_classes").get<int>(), 3);

  // The imported checkpoint is an ordinary float checkpoint.
  const CliResult ev = run_cli("eval --checkpoint " + fl + " --json", dir);
  ASSERT_EQ(ev.code, 0) << ev.err;
  EXPECT_EQ(nlohmann::json::parse(last_line(ev.out)).at("images").get<int>(), 12);

  // The tiny fine-tuning recipe, scaled down: a few iterations at lr 0 (calibration) on 32x32.
  const CliResult tr =
      run_cli("train --config " F8NET_SOURCE_DIR "/configs/imagenet-resnet18-tiny-ft.yaml" +
                  data_sets + " --set train.init=" + fl +
                  " --set train.iterations=3 --set train.batch_size=6 --set data.workers=1"
                  " --set data.random_resized_crop=false --set threads=1 --out " +
                  (dir / "run") + " --json",
              dir);
  ASSERT_EQ(tr.code, 0) << tr.err;
  EXPECT_NE(tr.err.find("initialized from " + fl), std::string::npos) << tr.err;
  const std::string ckpt = dir / "run/train-best.pt";

  const std::string model = dir / "model.f8";
  const CliResult ex = run_cli("export --checkpoint " + ckpt + " -o " + model, dir);
  ASSERT_EQ(ex.code, 0) << ex.err;
  const CliResult v =
      run_cli("verify --checkpoint " + ckpt + " --model " + model + " --json --threads 1", dir);
  ASSERT_EQ(v.code, 0) << v.err << v.out;
  const auto vj = nlohmann::json::parse(last_line(v.out));
  EXPECT_EQ(vj.at("images").get<int>(), 12);
  EXPECT_EQ(vj.at("bit_exact").get<int>(), 12);
}

TEST(ImportCli, BadWeightsAreOneLineAndWriteNothing) {
  TempDir dir;
  const std::string out = dir / "out.pt";
  auto expect_refused = [&](const std::string& args, const std::string& needle, int code) {
    const CliResult r = run_cli("import " + args + " -o " + out, dir);
    EXPECT_EQ(r.code, code) << args;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out));
  };
  f8net::testing::write_text(dir / "text.pth", "not a zip archive");
  expect_refused("--from torchvision --arch resnet18 " + (dir / "text.pth"), "not a zip", 1);
  expect_refused("--from torchvision --arch resnet18 " + (dir / "missing.pth"), "missing.pth", 1);
  expect_refused("--from torchvision --arch vgg16 " + (dir / "text.pth"), "vgg16", 1);
  expect_refused("--from keras --arch resnet18 " + (dir / "text.pth"), "--from", 2);
  expect_refused("--from torchvision --arch resnet18 --strict maybe " + (dir / "text.pth"),
                 "--strict", 2);
  if (!have_torchvision()) return;
  // A state dict of another family, a NaN, a wrong dtype, a mis-shaped tensor.
  const std::string py =
      std::string(F8NET_PYTHON3) +
      " -c '\n"
      "import torch, torchvision\n"
      "d = \"" +
      dir.path() +
      "/\"\n"
      "sd = torchvision.models.resnet18(num_classes=4).state_dict()\n"
      "torch.save(sd, d + \"r18.pth\")\n"
      "torch.save([1, 2], d + \"list.pth\")\n"
      "n = dict(sd); n[\"layer1.0.bn1.running_var\"] = n[\"layer1.0.bn1.running_var\"] * "
      "float(\"nan\")\n"
      "torch.save(n, d + \"nan.pth\")\n"
      "h = dict(sd); h[\"fc.weight\"] = h[\"fc.weight\"].double()\n"
      "torch.save(h, d + \"double.pth\")\n"
      "e = dict(sd); e[\"extra.weight\"] = torch.zeros(2)\n"
      "torch.save(e, d + \"extra.pth\")\n"
      "m = dict(sd); del m[\"layer2.0.downsample.0.weight\"]\n"
      "torch.save(m, d + \"missing.pth\")\n"
      "torch.save(sd, d + \"legacy.pth\", _use_new_zipfile_serialization=False)\n'";
  ASSERT_EQ(std::system(py.c_str()), 0);
  expect_refused("--from torchvision --arch resnet50 " + (dir / "r18.pth"),
                 "not a torchvision resnet50", 1);
  expect_refused("--from torchvision --arch resnet18 " + (dir / "list.pth"), "not a dict", 1);
  expect_refused("--from torchvision --arch resnet18 " + (dir / "nan.pth"), "NaN", 1);
  expect_refused("--from torchvision --arch resnet18 " + (dir / "double.pth"), "float32", 1);
  expect_refused("--from torchvision --arch resnet18 " + (dir / "extra.pth"), "extra.weight", 1);
  expect_refused("--from torchvision --arch resnet18 " + (dir / "missing.pth"),
                 "layer2.0.downsample.0.weight", 1);
  expect_refused("--from torchvision --arch resnet18 " + (dir / "legacy.pth"), "legacy", 1);
  expect_refused("--from torchvision --arch resnet18 --num-classes 10 " + (dir / "r18.pth"),
                 "fc.weight", 1);
  // --strict false: the 10-class classifier keeps f8net's initialization and is listed.
  const CliResult ok = run_cli(
      "import --from torchvision --arch resnet18 --num-classes 10 "
      "--strict false " +
          (dir / "extra.pth") + " -o " + out + " --json",
      dir);
  ASSERT_EQ(ok.code, 0) << ok.err;
  const auto j = nlohmann::json::parse(last_line(ok.out));
  EXPECT_EQ(j.at("num_classes").get<int>(), 10);
  EXPECT_EQ(j.at("kept_init").size(), 2u);  // fc.weight, fc.bias
  EXPECT_EQ(j.at("skipped").size(), 3u);    // the two source fc tensors and extra.weight
  EXPECT_NE(ok.err.find("extra.weight"), std::string::npos) << ok.err;
}

}  // namespace
