// Training configs: defaults, YAML and --set overrides, errors that name the key (unknown keys,
// wrong types, bad values), the effective-config round trip, and every recipe in configs/.
#include "f8net/qat/config.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

namespace f8net::qat {
namespace {

std::string error_of(const std::string& yaml, const std::vector<std::string>& sets = {}) {
  try {
    parse_config(yaml, sets, "test.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, DefaultsAndYamlAndOverrides) {
  const TrainConfig d = parse_config("", {});
  EXPECT_EQ(d.pretrain.mode, "fp_pact");
  EXPECT_EQ(d.train.mode, "fixed");
  EXPECT_EQ(d.data.dataset, "fashion-mnist");
  EXPECT_EQ(d.seed, 1995);
  const TrainConfig c = parse_config(
      "model: {arch: resnet20, width_mult: 0.5}\n"
      "data:\n  dataset: cifar10\n  dir: /d\n  mean: [0.4, 0.5, 0.6]\n  std: 0.25\n"
      "train:\n  epochs: 3\n  nesterov: false\n  wd_scheme: no_depthwise_no_bn\n  lr: 1e-3\n",
      {"train.epochs=5", "pretrain.enabled=false", "data.mean=[0.1, 0.2, 0.3]", "train.init="});
  EXPECT_EQ(c.model.arch, "resnet20");
  EXPECT_DOUBLE_EQ(c.model.width_mult, 0.5);
  EXPECT_EQ(c.data.dataset, "cifar10");
  EXPECT_EQ(c.data.mean, (std::vector<double>{0.1, 0.2, 0.3}));
  EXPECT_EQ(c.data.std_dev, (std::vector<double>{0.25}));
  EXPECT_EQ(c.train.epochs, 5);
  EXPECT_FALSE(c.train.nesterov);
  EXPECT_DOUBLE_EQ(c.train.lr, 1e-3);
  EXPECT_EQ(c.train.wd_scheme, "no_depthwise_no_bn");
  EXPECT_FALSE(c.pretrain.enabled);
  EXPECT_EQ(c.train.init, "");
  EXPECT_EQ(effective_std(c.data, 3), (std::vector<double>{0.25, 0.25, 0.25}));
  EXPECT_EQ(effective_mean(DataConfig{}, 3), (std::vector<double>{0.485, 0.456, 0.406}));
}

TEST(Config, UnknownKeysAreRejectedWithASuggestion) {
  const std::string e = error_of("train:\n  epoch: 3\n");
  EXPECT_NE(e.find("test.yaml"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key 'train.epoch'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'train.epochs'"), std::string::npos) << e;
  EXPECT_NE(error_of("", {"bogus.key=1"}).find("unknown key 'bogus.key'"), std::string::npos);
  EXPECT_NE(error_of("", {"bogus.key=1"}).find("--set"), std::string::npos);
  EXPECT_NE(error_of("data: 5\n").find("'data' is a section"), std::string::npos);
}

TEST(Config, WrongTypesNameTheKey) {
  EXPECT_NE(error_of("train:\n  epochs: 2.5\n")
                .find("key 'train.epochs': expected an integer, got '2.5'"),
            std::string::npos);
  EXPECT_NE(error_of("train:\n  lr: fast\n").find("key 'train.lr': expected a number"),
            std::string::npos);
  EXPECT_NE(
      error_of("", {"train.nesterov=maybe"}).find("key 'train.nesterov': expected true or false"),
      std::string::npos);
  EXPECT_NE(error_of("model:\n  arch: [a, b]\n").find("key 'model.arch': expected a string"),
            std::string::npos);
  EXPECT_NE(error_of("data:\n  mean: [a]\n").find("key 'data.mean': expected a list of numbers"),
            std::string::npos);
  EXPECT_NE(error_of("- a\n- b\n").find("top level must be a mapping"), std::string::npos);
  EXPECT_NE(error_of("train: {epochs: [1\n").find("invalid YAML"), std::string::npos);
  EXPECT_NE(error_of("", {"train.epochs"}).find("is not key=value"), std::string::npos);
}

TEST(Config, BadValuesNameTheKey) {
  EXPECT_NE(error_of("", {"train.mode=int4"}).find("key 'train.mode'"), std::string::npos);
  EXPECT_NE(error_of("", {"pretrain.mode=fixed"}).find("key 'pretrain.mode'"), std::string::npos);
  EXPECT_NE(error_of("", {"train.batch_size=0"}).find("key 'train.batch_size'"), std::string::npos);
  EXPECT_NE(error_of("", {"train.momentum=1.5"}).find("key 'train.momentum'"), std::string::npos);
  EXPECT_NE(error_of("", {"train.wd_scheme=no_bn"}).find("key 'train.wd_scheme'"),
            std::string::npos);
  EXPECT_NE(error_of("", {"data.dataset=svhn"}).find("key 'data.dataset'"), std::string::npos);
  EXPECT_NE(error_of("", {"train.epochs=0"}).find("key 'train.epochs'"), std::string::npos);
  EXPECT_EQ(error_of("", {"train.epochs=0", "train.iterations=100", "train.lr=0"}), "");
  EXPECT_NE(error_of("", {"data.dataset=imagefolder"}).find("key 'data.input_size'"),
            std::string::npos);
  EXPECT_NE(error_of("", {"quant.metric=l1"}).find("key 'quant.metric'"), std::string::npos);
}

// Values that used to run with exit 0 and a wrong result: epochs near 2^63 overflowed the
// iteration count ("-8 iterations", an untrained best checkpoint); warmup_epochs=1e300 silently
// kept the lr at its starting fraction. (A warm-up longer than a shortened smoke run is allowed.)
TEST(Config, ValuesThatWouldOverflowOrNeverReachTheLrAreRejected) {
  EXPECT_NE(error_of("", {"train.epochs=9223372036854775000"}).find("key 'train.epochs'"),
            std::string::npos);
  EXPECT_NE(error_of("", {"train.iterations=9223372036854775000"}).find("key 'train.iterations'"),
            std::string::npos);
  EXPECT_NE(error_of("", {"train.warmup_epochs=1e300"}).find("key 'train.warmup_epochs'"),
            std::string::npos);
  EXPECT_NE(error_of("", {"train.batch_size=100000000"}).find("key 'train.batch_size'"),
            std::string::npos);
  EXPECT_EQ(error_of("", {"train.epochs=100000", "train.warmup_epochs=5"}), "");
}

// A 711-byte alias bomb used to hang past 30 s and 3 GB; it (and oversized text) is refused at
// once, from a file, an override, or the config embedded in a checkpoint (same parser).
TEST(Config, AliasBombsAndHugeTextAreRefusedQuickly) {
  // Ten levels of ten-key mappings, each key aliasing the level below: flattening it into dotted
  // keys would visit 10^10 leaves.
  std::string bomb =
      "a: &a {k0: 1, k1: 1, k2: 1, k3: 1, k4: 1, k5: 1, k6: 1, k7: 1, k8: 1, k9: 1}\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    bomb += std::string(1, c) + ": &" + c + " {";
    for (int i = 0; i < 10; ++i) {
      bomb += std::string(i ? ", k" : "k") + std::to_string(i) + ": *" + static_cast<char>(c - 1);
    }
    bomb += "}\n";
  }
  bomb += "train: *j\n";
  ASSERT_LT(bomb.size(), 1000u);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_NE(error_of(bomb, {}).find("alias bomb"), std::string::npos) << error_of(bomb, {});
  std::string nested = "[&a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]";
  for (char c = 'b'; c <= 'f'; ++c) {
    nested += std::string(", &") + c + " [";
    for (int i = 0; i < 10; ++i) nested += std::string(i ? ", *" : "*") + static_cast<char>(c - 1);
    nested += "]";
  }
  nested += "]";
  EXPECT_NE(error_of("", {"data.mean=" + nested}).find("--set data.mean"), std::string::npos);
  EXPECT_NE(error_of(std::string(2 << 20, '#'), {}).find("bytes, more than the limit"),
            std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  // Ordinary anchors stay usable.
  EXPECT_EQ(error_of("defaults: &d {}\nseed: 3\n", {}).find("alias bomb"), std::string::npos);
}

TEST(Config, EffectiveConfigRoundTrips) {
  TrainConfig c = parse_config("", {"model.arch=mobilenet_v2", "train.lr=0.0375", "data.mean=[0.5]",
                                    "train.init=/tmp/x \"y\".pt", "quant.grid_search=true",
                                    "seed=7", "train.warmup_epochs=2.5"});
  const std::string yaml = config_to_yaml(c);
  const TrainConfig back = parse_config(yaml, {});
  EXPECT_EQ(config_to_yaml(back), yaml);
  EXPECT_EQ(back.model.arch, "mobilenet_v2");
  EXPECT_EQ(back.train.lr, 0.0375);
  EXPECT_EQ(back.train.init, "/tmp/x \"y\".pt");
  EXPECT_TRUE(back.quant.grid_search);
  EXPECT_EQ(back.seed, 7);
  // Every schema key is written.
  for (const auto& key : config_keys()) {
    const std::string leaf = key.substr(key.rfind('.') + 1);
    EXPECT_NE(yaml.find(leaf + ":"), std::string::npos) << key;
  }
}

// Word lengths (issue 11): quant.weight_bits / activation_bits / first_last_8bit and the
// per-layer quant.layer_bits mapping (layer names hold dots), from YAML and --set, round trip,
// and bad widths refused with one message naming the key.
TEST(Config, WordLengthsAndPerLayerOverrides) {
  const TrainConfig d = parse_config("", {});
  EXPECT_EQ(d.quant.weight_bits, 8);
  EXPECT_EQ(d.quant.activation_bits, 8);
  EXPECT_TRUE(d.quant.first_last_8bit);
  EXPECT_TRUE(d.quant.layer_bits.empty());
  const TrainConfig c = parse_config(
      "quant:\n  weight_bits: 4\n  activation_bits: 6\n  layer_bits:\n"
      "    blocks.0.convs.0: {weight: 8}\n    fc: {weight: 6, activation: 8}\n",
      {"quant.layer_bits.blocks.0.convs.0.activation=5", "quant.layer_bits.stem.weight=3"});
  EXPECT_EQ(c.quant.weight_bits, 4);
  EXPECT_EQ(c.quant.activation_bits, 6);
  ASSERT_EQ(c.quant.layer_bits.size(), 3u);  // sorted by layer name
  EXPECT_EQ(c.quant.layer_bits[0].layer, "blocks.0.convs.0");
  EXPECT_EQ(c.quant.layer_bits[0].weight, 8);
  EXPECT_EQ(c.quant.layer_bits[0].activation, 5);
  EXPECT_EQ(c.quant.layer_bits[1].layer, "fc");
  EXPECT_EQ(c.quant.layer_bits[1].weight, 6);
  EXPECT_EQ(c.quant.layer_bits[1].activation, 8);
  EXPECT_EQ(c.quant.layer_bits[2].layer, "stem");
  EXPECT_EQ(c.quant.layer_bits[2].weight, 3);
  EXPECT_EQ(c.quant.layer_bits[2].activation, 0);
  // The effective config writes the mapping and reads back the same.
  const std::string yaml = config_to_yaml(c);
  const TrainConfig back = parse_config(yaml, {});
  EXPECT_EQ(config_to_yaml(back), yaml);
  ASSERT_EQ(back.quant.layer_bits.size(), 3u);
  EXPECT_EQ(back.quant.layer_bits[0].activation, 5);
  // A whole mapping through --set.
  const TrainConfig s = parse_config("", {"quant.layer_bits={fc: {weight: 4}}"});
  ASSERT_EQ(s.quant.layer_bits.size(), 1u);
  EXPECT_EQ(s.quant.layer_bits[0].weight, 4);
  EXPECT_TRUE(parse_config("quant: {layer_bits: }\n", {}).quant.layer_bits.empty());

  for (const char* bad : {"quant.weight_bits=1", "quant.weight_bits=9", "quant.activation_bits=0",
                          "quant.activation_bits=16"}) {
    const std::string e = error_of("", {bad});
    const std::string key = std::string(bad).substr(0, std::string(bad).find('='));
    EXPECT_NE(e.find("key '" + key + "'"), std::string::npos) << e;
    EXPECT_NE(e.find("[2, 8]"), std::string::npos) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << "one line: " << e;
  }
  EXPECT_NE(error_of("", {"quant.weight_bits=four"}).find("expected an integer"),
            std::string::npos);
  EXPECT_NE(error_of("", {"quant.layer_bits.fc.weight=9"}).find("key 'quant.layer_bits.fc.weight'"),
            std::string::npos);
  EXPECT_NE(error_of("", {"quant.layer_bits.fc.bits=4"}).find("key 'quant.layer_bits.fc.bits'"),
            std::string::npos);
  EXPECT_NE(error_of("", {"quant.layer_bits.fc=4"}).find("key 'quant.layer_bits.fc'"),
            std::string::npos);
  EXPECT_NE(error_of("", {"quant.layer_bits=4"}).find("key 'quant.layer_bits'"), std::string::npos);
  EXPECT_NE(
      error_of("quant: {layer_bits: {fc: {weight: [4]}}}\n").find("quant.layer_bits.fc.weight"),
      std::string::npos);
}

TEST(Config, LoadConfigNamesAMissingFile) {
  try {
    load_config("/nonexistent/recipe.yaml");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/recipe.yaml"), std::string::npos);
  }
}

TEST(Config, EveryRecipeParses) {
  // F8NET_SOURCE_DIR, not __FILE__: ccache's base_dir makes __FILE__ relative.
  const auto dir = std::filesystem::path(F8NET_SOURCE_DIR) / "configs";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    const TrainConfig c = load_config(entry.path().string());
    EXPECT_TRUE(c.train.enabled);
    ++count;
  }
  EXPECT_GE(count, 7) << "recipes in " << dir;
}

}  // namespace
}  // namespace f8net::qat
