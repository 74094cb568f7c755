// ONNX export of QAT models of every family (random warmed fixed-point models, as the runtime
// export parity test builds them): the exporter proves bit_exact_in_ort, onnx.checker accepts the
// file, and ORT (all optimizations and none) gives f8net's logits bit for bit; ORT's optimized
// ResNet-18 holds no float Conv/Gemm.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <torch/torch.h>

#include <fstream>
#include <sstream>
#include <string>

#include "f8net/qat/export.h"
#include "f8net/qat/runtime-model.h"
#include "onnx/ort-harness.h"
#include "qat/random-models.h"

namespace f8net::testing {
namespace {

rt::ModelDef random_runtime_model(const ModelCase& c) {
  torch::manual_seed(7);
  const bool normalize = c.variant == "normalize";
  auto images = [&](int64_t n) {
    torch::Tensor x =
        torch::randint(0, 256, {n, c.channels, c.size, c.size}).to(torch::kFloat) / 255.0f;
    return normalize ? (x - 0.45f) / 0.225f : x;
  };
  qat::Net net = warm_random_model(c, Randomization{}, images);
  rt::Metadata meta;
  meta.name = c.arch;
  if (normalize) {
    meta.preprocessing.mode = rt::Preprocess::kNormalized;
    meta.preprocessing.mean = {{0.45f, 0.45f, 0.45f}};
    meta.preprocessing.std = {{0.225f, 0.225f, 0.225f}};
  }
  return qat::to_runtime_model(qat::exact_graph(*net), meta);
}

void check_family(const ModelCase& c) {
  const std::string name =
      c.arch + "-" + std::to_string(c.size) + (c.variant.empty() ? "" : "-") + c.variant;
  SCOPED_TRACE(name);
  expect_ort_bit_exact(random_runtime_model(c), name, 4, 3);
}

TEST(OnnxQat, SmallCnn) { check_family({"small_cnn", 1, 28, 1.0, ""}); }
TEST(OnnxQat, SmallCnnPerChannel) { check_family({"small_cnn", 1, 28, 1.0, "per_channel"}); }
TEST(OnnxQat, Resnet20) { check_family({"resnet20", 1, 28, 1.0, ""}); }
TEST(OnnxQat, Resnet20Normalized) { check_family({"resnet20", 3, 32, 0.5, "normalize"}); }
TEST(OnnxQat, Resnet56GridSearch) { check_family({"resnet56", 3, 32, 0.25, "grid_search"}); }
TEST(OnnxQat, Resnet50) { check_family({"resnet50", 3, 32, 0.125, ""}); }
TEST(OnnxQat, MobilenetV1) { check_family({"mobilenet_v1", 3, 32, 0.25, ""}); }
TEST(OnnxQat, MobilenetV2) { check_family({"mobilenet_v2", 3, 32, 0.25, ""}); }
TEST(OnnxQat, MobilenetV2QuantAvgpool) {
  check_family({"mobilenet_v2", 3, 32, 0.25, "quant_avgpool"});
}

// Word lengths other than 8 (issue 11): 4- and 6-bit weights and activations in 8-bit containers,
// signed narrow codes (MobileNet-V2's linear bottlenecks), narrow first and last layers.
TEST(OnnxQat, Resnet20FourBit) { check_family({"resnet20", 1, 28, 0.5, "w4a4"}); }
TEST(OnnxQat, Resnet20SixBit) { check_family({"resnet20", 1, 28, 0.5, "w6a6"}); }
TEST(OnnxQat, Resnet20FourBitWeights) { check_family({"resnet20", 1, 28, 0.5, "w4a8"}); }
TEST(OnnxQat, SmallCnnFourBitEverywhere) { check_family({"small_cnn", 1, 28, 1.0, "w4a4-all"}); }
TEST(OnnxQat, MobilenetV2FourBit) { check_family({"mobilenet_v2", 3, 32, 0.25, "w4a4"}); }
TEST(OnnxQat, MobilenetV2SixBit) { check_family({"mobilenet_v2", 3, 32, 0.25, "w6a6"}); }

TEST(OnnxQat, Resnet18OptimizedGraphHasNoFloatConv) {
  const ModelCase c{"resnet18", 3, 72, 0.125, "per_channel"};
  const rt::ModelDef m = random_runtime_model(c);
  const rt::OnnxExportReport r = expect_ort_bit_exact(m, "resnet18-72", 2, 4);
  const std::string path = temp_dir() + "/resnet18-72.onnx";
  const std::string optimized = temp_dir() + "/resnet18-72.opt.onnx";
  ort_outputs(path, m, random_codes(m, 1, 5), "all", optimized);
  std::ifstream f(optimized, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  onnx::ModelProto proto;
  ASSERT_TRUE(proto.ParseFromString(ss.str()));
  int qlinear = 0, integer = 0;
  for (const auto& node : proto.graph().node()) {
    const std::string& t = node.op_type();
    EXPECT_TRUE(t != "Conv" && t != "FusedConv" && t != "Gemm" && t != "FusedGemm" &&
                t != "MatMul" && t != "FusedMatMul" && t != "MatMulNBits")
        << "float " << node.domain() << ":" << t << " (" << node.name() << ") left by ORT";
    qlinear += t == "QLinearConv";
    integer += t == "ConvInteger" || t == "MatMulInteger";
  }
  EXPECT_EQ(qlinear, r.qdq_convs);
  EXPECT_EQ(integer, r.integer_convs);
}

}  // namespace
}  // namespace f8net::testing
