// The model families of F8NET.md §17 built from QConvBN/Block/QLinear: one network class
// (stem + ReLU [+ max pool], blocks, global pool, FC) and one builder per family. Builders wire
// following links (each layer -> the layer consuming its output) and masters (§12.1).
#include "f8net/qat/models.h"

#include <cmath>
#include <functional>
#include <stdexcept>

#include "f8net/qat/modules.h"

namespace f8net::qat {
namespace {

int64_t conv_out(int64_t size, int64_t kernel, int64_t stride, int64_t padding, int64_t dilation) {
  return (size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
}

class FamilyNetImpl : public NetImpl {
 public:
  FamilyNetImpl(const ModelOptions& options, QConvBN stem, bool stem_maxpool,
                std::vector<Block> blocks, int64_t features, bool use_masters)
      : options_(options),
        stem_(std::move(stem)),
        stem_maxpool_(stem_maxpool),
        blocks_(std::move(blocks)) {
    register_module("stem", stem_);
    torch::nn::ModuleList list;
    for (const Block& b : blocks_) list->push_back(b);
    register_module("blocks", list);
    QLinearOptions fo(features, options.num_classes);
    fo.quant(options.quant);
    fc_ = register_module("fc", QLinear(fo));
    // following links
    stem_->set_following(blocks_.empty() ? static_cast<QLayerImpl*>(fc_.ptr().get())
                                         : blocks_.front()->convs().front().ptr().get());
    for (size_t i = 0; i < blocks_.size(); ++i) {
      QLayerImpl* next = i + 1 < blocks_.size()
                             ? static_cast<QLayerImpl*>(blocks_[i + 1]->convs().front().ptr().get())
                             : static_cast<QLayerImpl*>(fc_.ptr().get());
      blocks_[i]->set_following(next);
    }
    // masters: carried through identity-residual chains (§12.1)
    if (use_masters) {
      QLayerImpl* carried = nullptr;
      for (Block& b : blocks_) {
        b->set_master(carried);
        carried = b->identity() ? b->convs().front().ptr().get() : nullptr;
      }
    }
    const int64_t out = spatial_out(options.input_size);
    if (out < 1) {
      throw std::invalid_argument("input size " + std::to_string(options.input_size) +
                                  " is too small for " + options.arch);
    }
  }

  // Spatial size after the last block for a square input of `size`, < 1 when too small.
  int64_t spatial_out(int64_t size) const {
    auto step = [&](int64_t s, const QConvBNOptions& o) {
      return s < 1 ? s : conv_out(s, o.kernel_size(), o.stride(), o.padding(), o.dilation());
    };
    int64_t s = step(size, stem_->options());
    if (stem_maxpool_ && s >= 1) s = conv_out(s, 3, 2, 1, 1);
    for (const Block& b : blocks_) {
      for (const QConvBN& c : b->convs()) s = step(s, c->options());
    }
    return s;
  }

  torch::Tensor forward(const torch::Tensor& x) override {
    return fc_->forward(pooled_features(x));
  }

  PoolFold pool_fold(int64_t size) const override {
    PoolFold f;
    f.spatial = spatial_out(size);
    f.shift = pool_shift(f.spatial, f.spatial);
    f.a = options_.quant.quant_avgpool
              ? 1.0
              : std::ldexp(1.0, f.shift) / static_cast<double>(f.spatial * f.spatial);
    f.into_fc = !blocks_.empty() && blocks_.back()->options().residual();
    return f;
  }

  torch::Tensor pooled_features(const torch::Tensor& x) override {
    TORCH_CHECK(x.dim() == 4 && x.size(1) == options_.in_channels, options_.arch, ": expected N x ",
                options_.in_channels, " x H x W input, got ", x.sizes());
    torch::Tensor t = float_relu(stem_->forward(x), options_.quant);
    if (stem_maxpool_) t = torch::max_pool2d(t, 3, 2, 1);
    for (Block& b : blocks_) t = b->forward(t);
    if (options_.quant.quant_avgpool && options_.quant.mode != Mode::kFloat) {
      const int k = pool_shift(t.size(2), t.size(3));
      t = t.sum({2, 3}) * std::ldexp(1.0, -k);
    } else {
      t = t.mean({2, 3});
    }
    return t;
  }

  torch::Tensor exact_forward(ExactContext& ctx, const torch::Tensor& x) override {
    TORCH_CHECK(options_.quant.mode == Mode::kFixed, "exact evaluation needs a fixed-mode model");
    TORCH_CHECK(x.dim() == 4 && x.size(1) == options_.in_channels && x.size(2) == x.size(3),
                options_.arch, ": expected square N x ", options_.in_channels, " x H x W input");
    ExactTensor t = stem_->input_kind() == InputKind::kRaw01
                        ? ctx.input_raw01(x)
                        : ctx.input_codes(x, stem_->input_fl_used(), true);
    t = stem_->exact(ctx, t, 1.0, "stem");
    t = ctx.relu(t, "stem.relu");
    if (stem_maxpool_) t = ctx.max_pool(t, 3, 2, 1, "stem.maxpool");
    // §13.1: the shift pool with compensation a = 2^k / (H W) folded into the single conv that
    // produces the pooled tensor, or into the FC weight when it is a residual sum; none when the
    // model was trained with the shift pool.
    const PoolFold fold = pool_fold(x.size(2));
    const double a = fold.a;
    for (size_t i = 0; i < blocks_.size(); ++i) {
      const bool last = i + 1 == blocks_.size();
      t = blocks_[i]->exact(ctx, t, last && !fold.into_fc ? a : 1.0, "blocks." + std::to_string(i));
    }
    TORCH_CHECK(!blocks_.empty(), "exact evaluation needs at least one block");
    t = ctx.global_sum_pool(t, fold.shift, "pool");
    ctx.fc_input = t.value;
    t = fc_->exact(ctx, t, fold.into_fc ? a : 1.0, "fc");
    return t.value;
  }

  double logit_scale() const override { return is_training() ? 1.0 : fc_->logit_scale(); }

  const ModelOptions& options() const override { return options_; }

 private:
  ModelOptions options_;
  QConvBN stem_;
  bool stem_maxpool_;
  std::vector<Block> blocks_;
  QLinear fc_{nullptr};
};

// Builder helpers ----------------------------------------------------------------------------

struct Builder {
  const ModelOptions& o;

  int64_t ch(double c) const { return std::max<int64_t>(1, std::llround(c * o.width_mult)); }
  QConvBN conv(int64_t in, int64_t out, int64_t k, int64_t stride,
               InputKind kind = InputKind::kUnsigned, bool depthwise = false) const {
    QConvBNOptions co(in, out, k);
    co.stride(stride).depthwise(depthwise).input_kind(kind).quant(o.quant);
    return QConvBN(co);
  }
  QConvBN stem(int64_t out, int64_t k, int64_t stride) const {
    QConvBNOptions co(o.in_channels, out, k);
    co.stride(stride)
        .input_kind(o.quant.normalize_input ? InputKind::kSigned : InputKind::kRaw01)
        .quant(o.quant);
    return QConvBN(co);
  }
  Block block(std::vector<QConvBN> convs, QConvBN shortcut, bool residual, bool relu) const {
    BlockOptions bo;
    bo.residual(residual).relu_after(relu);
    return Block(std::move(convs), std::move(shortcut), bo);
  }
  Net net(QConvBN stem, bool maxpool, std::vector<Block> blocks, int64_t features,
          bool masters) const {
    return std::make_shared<FamilyNetImpl>(o, std::move(stem), maxpool, std::move(blocks), features,
                                           masters);
  }
  // The CIFAR-style stem (ModelOptions::stem).
  bool small() const { return o.stem == "cifar" || (o.stem == "auto" && o.input_size <= 64); }
};

// conv3x3(1->16) + ReLU, conv3x3/2(16->32), conv3x3(32->32), conv3x3/2(32->64),
// conv3x3(64->64) + ReLU, global pool, FC: about 5.5 M MACs per 28x28 image. The last 7x7 conv
// is what lets the fixed-point model pass 91 % on Fashion-MNIST in a few CPU minutes (without
// it: 90.7 %).
Net build_small_cnn(const Builder& b) {
  const int64_t c1 = b.ch(16), c2 = b.ch(32), c3 = b.ch(64);
  std::vector<Block> blocks;
  blocks.push_back(b.block({b.conv(c1, c2, 3, 2)}, nullptr, false, false));
  blocks.push_back(b.block({b.conv(c2, c2, 3, 1)}, nullptr, false, false));
  blocks.push_back(b.block({b.conv(c2, c3, 3, 2)}, nullptr, false, false));
  blocks.push_back(b.block({b.conv(c3, c3, 3, 1)}, nullptr, false, true));
  return b.net(b.stem(c1, 3, 1), false, std::move(blocks), c3, false);
}

Block basic_block(const Builder& b, int64_t in, int64_t out, int64_t stride) {
  QConvBN shortcut{nullptr};
  if (stride != 1 || in != out) shortcut = b.conv(in, out, 1, stride);
  return b.block({b.conv(in, out, 3, stride), b.conv(out, out, 3, 1)}, shortcut, true, true);
}

Block bottleneck(const Builder& b, int64_t in, int64_t mid, int64_t stride) {
  const int64_t out = mid * 4;
  QConvBN shortcut{nullptr};
  if (stride != 1 || in != out) shortcut = b.conv(in, out, 1, stride);
  const bool v1 = b.o.resnet_variant == "v1";  // ModelOptions::resnet_variant
  return b.block({b.conv(in, mid, 1, v1 ? stride : 1), b.conv(mid, mid, 3, v1 ? 1 : stride),
                  b.conv(mid, out, 1, 1)},
                 shortcut, true, true);
}

Net build_cifar_resnet(const Builder& b, int64_t blocks_per_stage) {
  std::vector<Block> blocks;
  int64_t in = b.ch(16);
  for (int stage = 0; stage < 3; ++stage) {
    const int64_t out = b.ch(16 << stage);
    for (int64_t i = 0; i < blocks_per_stage; ++i) {
      blocks.push_back(basic_block(b, in, out, i == 0 && stage > 0 ? 2 : 1));
      in = out;
    }
  }
  return b.net(b.stem(b.ch(16), 3, 1), false, std::move(blocks), in, true);
}

Net build_imagenet_resnet(const Builder& b, bool bottle, const std::vector<int>& layers) {
  std::vector<Block> blocks;
  const int64_t stem_out = b.ch(64);
  int64_t in = stem_out;
  for (size_t stage = 0; stage < layers.size(); ++stage) {
    const int64_t width = b.ch(64 << stage);
    for (int i = 0; i < layers[stage]; ++i) {
      const int64_t stride = i == 0 && stage > 0 ? 2 : 1;
      if (bottle) {
        blocks.push_back(bottleneck(b, in, width, stride));
        in = width * 4;
      } else {
        blocks.push_back(basic_block(b, in, width, stride));
        in = width;
      }
    }
  }
  QConvBN stem = b.small() ? b.stem(stem_out, 3, 1) : b.stem(stem_out, 7, 2);
  return b.net(stem, !b.small(), std::move(blocks), in, true);
}

Net build_mobilenet_v1(const Builder& b) {
  struct Setting {
    int c, n, s;
  };
  const Setting settings[] = {{64, 1, 1}, {128, 2, 2}, {256, 2, 2}, {512, 6, 2}, {1024, 2, 2}};
  std::vector<Block> blocks;
  int64_t in = b.ch(32);
  for (const Setting& st : settings) {
    const int64_t out = b.ch(st.c);
    for (int i = 0; i < st.n; ++i) {
      const int64_t stride = i == 0 ? st.s : 1;
      blocks.push_back(
          b.block({b.conv(in, in, 3, stride, InputKind::kUnsigned, true), b.conv(in, out, 1, 1)},
                  nullptr, false, true));
      in = out;
    }
  }
  return b.net(b.stem(b.ch(32), 3, b.small() ? 1 : 2), false, std::move(blocks), in, false);
}

Net build_mobilenet_v2(const Builder& b) {
  struct Setting {
    int t, c, n, s;
  };
  const Setting settings[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                              {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  std::vector<Block> blocks;
  int64_t in = b.ch(32);
  for (size_t si = 0; si < std::size(settings); ++si) {
    const Setting& st = settings[si];
    const int64_t out = b.ch(st.c);
    for (int i = 0; i < st.n; ++i) {
      int64_t stride = i == 0 ? st.s : 1;
      if (b.small() && si == 1 && i == 0)
        stride = 1;  // small inputs: keep 24-ch stage at full size
      const int64_t hidden = in * st.t;
      std::vector<QConvBN> convs;
      if (st.t != 1) convs.push_back(b.conv(in, hidden, 1, 1, InputKind::kSigned));
      convs.push_back(b.conv(hidden, hidden, 3, stride, InputKind::kUnsigned, true));
      convs.push_back(b.conv(hidden, out, 1, 1, InputKind::kUnsigned));
      blocks.push_back(b.block(std::move(convs), nullptr, stride == 1 && in == out, false));
      in = out;
    }
  }
  const int64_t tail = b.ch(1280);
  blocks.push_back(b.block({b.conv(in, tail, 1, 1, InputKind::kSigned)}, nullptr, false, true));
  return b.net(b.stem(b.ch(32), 3, b.small() ? 1 : 2), false, std::move(blocks), tail, true);
}

}  // namespace

Mode parse_mode(const std::string& name) {
  if (name == "float") return Mode::kFloat;
  if (name == "fp_pact") return Mode::kFpPact;
  if (name == "fixed") return Mode::kFixed;
  throw std::invalid_argument("unknown mode '" + name + "' (float, fp_pact, fixed)");
}

std::string mode_name(Mode mode) {
  switch (mode) {
    case Mode::kFloat:
      return "float";
    case Mode::kFpPact:
      return "fp_pact";
    case Mode::kFixed:
      return "fixed";
  }
  return "unknown";
}

std::vector<std::string> model_names() {
  return {"small_cnn", "resnet20",  "resnet56",  "resnet18",     "resnet34",
          "resnet50",  "resnet101", "resnet152", "mobilenet_v1", "mobilenet_v2"};
}

namespace {

Net build_family(const ModelOptions& options) {
  if (options.in_channels < 1) throw std::invalid_argument("in_channels must be >= 1");
  if (options.input_size < 1) throw std::invalid_argument("input_size must be >= 1");
  if (options.num_classes < 1) throw std::invalid_argument("num_classes must be >= 1");
  if (options.stem != "auto" && options.stem != "imagenet" && options.stem != "cifar") {
    throw std::invalid_argument("unknown stem '" + options.stem + "' (auto, imagenet, cifar)");
  }
  if (options.resnet_variant != "v1.5" && options.resnet_variant != "v1") {
    throw std::invalid_argument("unknown resnet_variant '" + options.resnet_variant +
                                "' (v1.5, v1)");
  }
  if (options.quant.relu6 && options.quant.mode != Mode::kFloat) {
    throw std::invalid_argument(
        "model.relu6 exists in float mode only: F8Net's " + mode_name(options.quant.mode) +
        " layers clip at the learned PACT alpha instead (set model.relu6: false, and "
        "quant.alpha_init: 6 to start at ReLU6's clip)");
  }
  if (!(options.width_mult > 0.0) || !std::isfinite(options.width_mult)) {
    throw std::invalid_argument("width_mult must be a positive number");
  }
  const Builder b{options};
  const std::string& a = options.arch;
  if (a == "small_cnn") return build_small_cnn(b);
  if (a == "resnet20") return build_cifar_resnet(b, 3);
  if (a == "resnet56") return build_cifar_resnet(b, 9);
  if (a == "resnet18") return build_imagenet_resnet(b, false, {2, 2, 2, 2});
  if (a == "resnet34") return build_imagenet_resnet(b, false, {3, 4, 6, 3});
  if (a == "resnet50") return build_imagenet_resnet(b, true, {3, 4, 6, 3});
  if (a == "resnet101") return build_imagenet_resnet(b, true, {3, 4, 23, 3});
  if (a == "resnet152") return build_imagenet_resnet(b, true, {3, 8, 36, 3});
  if (a == "mobilenet_v1") return build_mobilenet_v1(b);
  if (a == "mobilenet_v2") return build_mobilenet_v2(b);
  throw std::invalid_argument("unknown model '" + a + "'");
}

}  // namespace

Net make_model(const ModelOptions& options) {
  Net net = build_family(options);
  apply_word_bits(*net, options.quant);
  return net;
}

}  // namespace f8net::qat
