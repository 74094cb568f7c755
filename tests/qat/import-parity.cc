// Float parity of imported weights (docs/import.md): import-make-refs.py (Debian's python3-torch
// and python3-torchvision) saves every supported family with random weights and BN statistics
// plus its logits on random inputs; f8net imports each state dict, loads the written checkpoint
// into the float model and must reproduce the logits to 1e-4 of their largest magnitude.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "f8net/qat/checkpoint.h"
#include "f8net/qat/import.h"
#include "f8net/qat/models.h"

namespace f8net::qat {
namespace {

namespace fs = std::filesystem;

// Makes the references of one model (ctest runs each test in its own process) in a fresh
// temporary directory; empty with *skip set when Python's torchvision is not installed.
std::string make_refs(const std::string& name, std::string* skip) {
  const std::string python = F8NET_PYTHON3;
  if (python.empty() ||
      std::system((python + " -c 'import torch, torchvision' >/dev/null 2>&1").c_str()) != 0) {
    *skip = "python3 with torch and torchvision is not installed (python3-torchvision)";
    return "";
  }
  std::string dir = (fs::temp_directory_path() / "f8net-import-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) {
    ADD_FAILURE() << "cannot create a temporary directory";
    return "";
  }
  const std::string cmd = python + " " + F8NET_SOURCE_DIR "/tests/qat/import-make-refs.py " + dir +
                          " " + name + " > " + dir + "/make-refs.log 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::ifstream log(dir + "/make-refs.log");
    std::stringstream s;
    s << log.rdbuf();
    ADD_FAILURE() << "import-make-refs.py failed:\n" << s.str();
  }
  return dir;
}

struct Spec {
  std::string name, from, arch, stem;
  int64_t size = 0;
};

std::vector<Spec> manifest(const std::string& dir) {
  std::vector<Spec> v;
  std::ifstream in(dir + "/manifest.txt");
  Spec s;
  while (in >> s.name >> s.from >> s.arch >> s.stem >> s.size) v.push_back(s);
  return v;
}

torch::Tensor get(const StateDict& sd, const std::string& key) {
  for (const auto& [k, t] : sd.tensors) {
    if (k == key) return t;
  }
  ADD_FAILURE() << "no " << key;
  return {};
}

class ImportParity : public ::testing::TestWithParam<std::string> {};

TEST_P(ImportParity, FloatLogitsMatchPyTorch) {
  const std::string name = GetParam();
  std::string skip;
  const std::string dir = make_refs(name, &skip);
  if (dir.empty() && !skip.empty()) GTEST_SKIP() << skip;
  ASSERT_FALSE(dir.empty());
  Spec spec;
  for (const Spec& s : manifest(dir)) {
    if (s.name == name) spec = s;
  }
  ASSERT_FALSE(spec.name.empty()) << name << " missing from the references";
  torch::set_num_threads(2);
  ImportOptions o;
  o.from = spec.from;
  o.arch = spec.arch;
  o.stem = spec.stem;
  o.weights = dir + "/" + name + ".pth";
  o.out = dir + "/" + name + "-f8net.pt";
  o.overrides = {"data.input_size=" + std::to_string(spec.size)};
  const ImportReport report = import_weights(o);
  EXPECT_TRUE(report.skipped.empty());
  EXPECT_TRUE(report.kept_init.empty());
  EXPECT_EQ(report.model.num_classes, 10);

  Net net = make_model(report.model);
  load_checkpoint(o.out, *net, nullptr, false);
  net->eval();
  const StateDict ref = read_torch_state_dict(dir + "/" + name + "-ref.pt");
  const torch::Tensor x = get(ref, "input"), want = get(ref, "logits");
  torch::Tensor got;
  {
    torch::NoGradGuard no_grad;
    got = net->forward(x);
  }
  ASSERT_EQ(got.sizes(), want.sizes());
  const double scale = want.abs().max().item<double>();
  const double err = (got - want).abs().max().item<double>();
  EXPECT_GT(scale, 0.0);
  EXPECT_LE(err, 1e-4 * scale) << name << ": max |f8net - torch| = " << err << ", max |torch| "
                               << scale;
  // The arg-max agrees too (the random logits are far from ties).
  EXPECT_TRUE(torch::equal(got.argmax(1), want.argmax(1))) << name;
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Families, ImportParity,
                         ::testing::Values("tv-resnet18", "tv-resnet34", "tv-resnet50",
                                           "tv-resnet101", "tv-resnet152", "tv-mobilenet_v2",
                                           "tv-resnet18-cifar", "cv-resnet18", "cv-resnet50b",
                                           "cv-resnet50", "cv-mobilenet_w1"),
                         [](const auto& p) {
                           std::string s = p.param;
                           for (char& c : s) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return s;
                         });

// A stride mistake is not silent: pytorchcv's v1 ResNet-50 weights imported as the "b" (v1.5)
// variant give other logits (the stride placement changes numerics, so the option matters).
TEST(ImportParityNegative, WrongResnetVariantChangesLogits) {
  std::string skip;
  const std::string tmp = make_refs("cv-resnet50", &skip);
  if (tmp.empty() && !skip.empty()) GTEST_SKIP() << skip;
  ASSERT_FALSE(tmp.empty());
  ImportOptions o;
  o.from = "pytorchcv";
  o.arch = "resnet50b";  // wrong: the weights are v1
  o.weights = tmp + "/cv-resnet50.pth";
  o.out = tmp + "/out.pt";
  o.overrides = {"data.input_size=64"};
  const ImportReport report = import_weights(o);
  Net net = make_model(report.model);
  load_checkpoint(o.out, *net, nullptr, false);
  net->eval();
  const StateDict ref = read_torch_state_dict(tmp + "/cv-resnet50-ref.pt");
  torch::NoGradGuard no_grad;
  const torch::Tensor got = net->forward(get(ref, "input")), want = get(ref, "logits");
  EXPECT_GT((got - want).abs().max().item<double>(), 1e-2 * want.abs().max().item<double>());
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace f8net::qat
