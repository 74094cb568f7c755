// Checkpoints: atomic writes, a save/load round trip of model + optimizer + metadata + RNG,
// readability by load_state_by_intersection, and one-line errors for corrupt or foreign files.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "f8net/qat/checkpoint-io.h"
#include "f8net/qat/checkpoint.h"
#include "f8net/qat/models.h"
#include "f8net/qat/state-io.h"
#include "qat/data-fixtures.h"

namespace f8net::qat {
namespace {

using testing::TempDir;

size_t count_files(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

TEST(CheckpointIo, WritesAtomicallyAndLeavesNoTemporaries) {
  TempDir dir;
  write_file_atomic(dir / "a.txt", "first");
  write_file_atomic(dir / "a.txt", "second version");
  EXPECT_EQ(read_file(dir / "a.txt"), "second version");
  EXPECT_EQ(count_files(dir.path()), 1u);
  EXPECT_THROW(write_file_atomic(dir / "missing/a.txt", "x"), std::runtime_error);
  EXPECT_THROW(read_file(dir / "nope"), std::runtime_error);
  EXPECT_EQ(count_files(dir.path()), 1u);
}

ModelOptions tiny(Mode mode) {
  ModelOptions o;
  o.arch = "small_cnn";
  o.in_channels = 1;
  o.input_size = 12;
  o.num_classes = 10;
  o.width_mult = 0.5;
  o.quant.mode = mode;
  return o;
}

void train_steps(NetImpl& model, torch::optim::Optimizer& opt, int steps) {
  model.train();
  for (int i = 0; i < steps; ++i) {
    const torch::Tensor x = torch::rand({8, 1, 12, 12});
    const torch::Tensor y = torch::randint(0, 10, {8}, torch::kLong);
    opt.zero_grad();
    torch::nn::functional::cross_entropy(model.forward(x), y).backward();
    opt.step();
  }
}

TEST(Checkpoint, RoundTripRestoresModelOptimizerMetaAndRng) {
  torch::set_num_threads(1);
  torch::manual_seed(3);
  TempDir dir;
  Net a = make_model(tiny(Mode::kFixed));
  torch::optim::SGD opt_a(a->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  train_steps(*a, opt_a, 2);
  save_checkpoint(dir / "c.pt", *a, &opt_a, R"({"k": 1})", "seed: 5\n");
  const torch::Tensor after_save = torch::rand({4});  // RNG draw following the save

  const CheckpointInfo info = read_checkpoint_info(dir / "c.pt");
  EXPECT_EQ(info.meta_json, R"({"k": 1})");
  EXPECT_EQ(info.config_yaml, "seed: 5\n");

  torch::manual_seed(99);
  Net b = make_model(tiny(Mode::kFixed));
  torch::optim::SGD opt_b(b->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  load_checkpoint(dir / "c.pt", *b, &opt_b, true);
  EXPECT_TRUE(torch::equal(torch::rand({4}), after_save)) << "RNG state not restored";
  const auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  const auto ba = a->named_buffers(), bb = b->named_buffers();
  for (const auto& p : ba) EXPECT_TRUE(torch::equal(p.value(), bb[p.key()])) << p.key();
  // Same momenta: one more identical step keeps the models identical.
  torch::manual_seed(4);
  train_steps(*a, opt_a, 1);
  torch::manual_seed(4);
  train_steps(*b, opt_b, 1);
  for (const auto& p : a->named_parameters()) {
    EXPECT_TRUE(torch::equal(p.value(), b->named_parameters()[p.key()])) << p.key();
  }
}

TEST(Checkpoint, IntersectionLoaderReadsCheckpointsAcrossModes) {
  torch::set_num_threads(1);
  TempDir dir;
  Net fp = make_model(tiny(Mode::kFpPact));
  save_checkpoint(dir / "fp.pt", *fp, nullptr, "{}", "");
  Net fx = make_model(tiny(Mode::kFixed));
  const LoadReport report = load_state_by_intersection(*fx, dir / "fp.pt");
  EXPECT_FALSE(report.loaded.empty());
  EXPECT_TRUE(report.shape_mismatch.empty());
  const auto params = fp->named_parameters();
  for (const auto& p : fx->named_parameters()) {
    EXPECT_TRUE(torch::equal(p.value(), params[p.key()])) << p.key();
  }
}

TEST(Checkpoint, CorruptAndForeignFilesGiveOneLineErrors) {
  torch::set_num_threads(1);
  TempDir dir;
  Net a = make_model(tiny(Mode::kFloat));
  save_checkpoint(dir / "c.pt", *a, nullptr, "{}", "");
  std::string bytes = read_file(dir / "c.pt");
  bytes.resize(bytes.size() / 2);
  write_file_atomic(dir / "cut.pt", bytes);
  write_file_atomic(dir / "text.pt", "hello");
  for (const std::string name : {"cut.pt", "text.pt", "absent.pt"}) {
    try {
      read_checkpoint_info(dir / name);
      FAIL() << name;
    } catch (const std::runtime_error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(name), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
  // A checkpoint of another shape does not load, and says which tensor.
  ModelOptions wide = tiny(Mode::kFloat);
  wide.width_mult = 1.0;
  Net b = make_model(wide);
  try {
    load_checkpoint(dir / "c.pt", *b, nullptr, false);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("does not fit the model"), std::string::npos) << e.what();
  }
  // Without optimizer state, loading an optimizer is refused.
  torch::optim::SGD opt(a->parameters(), torch::optim::SGDOptions(0.1));
  EXPECT_THROW(load_checkpoint(dir / "c.pt", *a, &opt, false), std::runtime_error);
}

}  // namespace
}  // namespace f8net::qat
