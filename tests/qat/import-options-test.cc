// The model options that imports need (docs/import.md): model.resnet_variant moves the bottleneck
// stride, model.relu6 clips float activations at 6 and is refused outside float mode, and both
// are config keys with validation.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "f8net/qat/config.h"
#include "f8net/qat/models.h"
#include "f8net/qat/modules.h"

namespace f8net::qat {
namespace {

// The stride of each conv of the first bottleneck of stage 2 (blocks.3 of a ResNet-50).
std::vector<int64_t> stage2_strides(const std::string& variant) {
  ModelOptions o;
  o.arch = "resnet50";
  o.in_channels = 3;
  o.input_size = 64;
  o.stem = "imagenet";
  o.resnet_variant = variant;
  o.quant.mode = Mode::kFloat;
  Net net = make_model(o);
  std::vector<int64_t> strides;
  for (const auto& m : net->named_modules()) {
    if (m.key().rfind("blocks.3.convs.", 0) == 0) {
      if (const auto* c = dynamic_cast<const QConvBNImpl*>(m.value().get())) {
        strides.push_back(c->options().stride());
      }
    }
  }
  return strides;
}

TEST(ImportOptions, ResnetVariantPlacesTheBottleneckStride) {
  EXPECT_EQ(stage2_strides("v1.5"), (std::vector<int64_t>{1, 2, 1}));
  EXPECT_EQ(stage2_strides("v1"), (std::vector<int64_t>{2, 1, 1}));
  EXPECT_THROW(stage2_strides("v2"), std::invalid_argument);
  EXPECT_THROW(parse_config("model: {resnet_variant: v2}\n", {}), ConfigError);
  EXPECT_EQ(parse_config("model: {resnet_variant: v1}\n", {}).model.resnet_variant, "v1");
}

TEST(ImportOptions, Relu6ClipsFloatActivationsAndIsFloatOnly) {
  QuantOptions q;
  q.relu6 = true;
  const torch::Tensor x = torch::tensor({-1.f, 3.f, 6.5f, 100.f});
  EXPECT_TRUE(torch::equal(float_relu(x, q), torch::tensor({0.f, 3.f, 6.f, 6.f})));
  q.relu6 = false;
  EXPECT_TRUE(torch::equal(float_relu(x, q), torch::tensor({0.f, 3.f, 6.5f, 100.f})));

  ModelOptions o;
  o.arch = "mobilenet_v2";
  o.in_channels = 3;
  o.input_size = 32;
  o.quant.relu6 = true;
  o.quant.mode = Mode::kFloat;
  EXPECT_NO_THROW(make_model(o));
  for (Mode m : {Mode::kFixed, Mode::kFpPact}) {
    o.quant.mode = m;
    try {
      make_model(o);
      ADD_FAILURE() << "relu6 accepted in " << mode_name(m);
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("float mode only"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(parse_config("model: {relu6: true}\n", {}).model.relu6);
}

}  // namespace
}  // namespace f8net::qat
