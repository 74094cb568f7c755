// The evaluation, BN re-calibration and layer-format loops (evaluation-loop.h).
#include "evaluation-loop.h"

#include <algorithm>

#include "f8net/qat/modules.h"
#include "run-data.h"

namespace f8net::qat::detail {
namespace {

// Where the model's tensors live (train.device): batches are moved there.
torch::Device model_device(NetImpl& model) {
  const auto params = model.parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

}  // namespace

int64_t calibrate_bn(NetImpl& model, const std::shared_ptr<const data::Dataset>& train,
                     const data::TransformOptions& transform, const DataConfig& data,
                     int64_t batch_size, int64_t batches) {
  torch::NoGradGuard no_grad;
  model.eval();
  std::vector<QConvBNImpl*> convs;
  for (const auto& m : model.modules(/*include_self=*/false)) {
    if (auto* c = dynamic_cast<QConvBNImpl*>(m.get())) {
      c->begin_bn_calibration();
      c->train(true);
      convs.push_back(c);
    }
  }
  data::BatchLoader loader(train, transform, loader_options(data, batch_size));
  data::Batch batch;
  int64_t images = 0;
  for (int64_t b = 0; b < batches && loader.next(batch); ++b) {
    model.forward(batch_images(batch).to(model_device(model)));
    images += batch.n;
  }
  for (QConvBNImpl* c : convs) c->end_bn_calibration();
  model.eval();
  return images;
}

EvalTotals evaluate(NetImpl& model, const std::shared_ptr<const data::Dataset>& ds,
                    const data::TransformOptions& transform, const DataConfig& data,
                    int64_t batch_size, const std::string& stage, TrainObserver* observer,
                    const std::atomic<int>* stop) {
  model.eval();
  torch::NoGradGuard no_grad;
  data::BatchLoader loader(ds, transform, loader_options(data, batch_size));
  EvalTotals t;
  double loss_sum = 0;
  int64_t c1 = 0, c5 = 0;
  data::Batch batch;
  while (loader.next(batch)) {
    if (stop && stop->load()) {
      t.interrupted = true;
      return t;
    }
    const torch::Device device = model_device(model);
    const torch::Tensor y =
        torch::from_blob(batch.labels.data(), {batch.n}, torch::kLong).to(device);
    const torch::Tensor logits = model.forward(batch_images(batch).to(device)).to(torch::kFloat);
    // The loss on training-scale logits (fixed mode: times s_fc ws, F8NET.md decision 2).
    const auto sum = torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum);
    loss_sum +=
        torch::nn::functional::cross_entropy(logits * model.logit_scale(), y, sum).item<double>();
    const int64_t k = std::min<int64_t>(5, logits.size(1));
    const torch::Tensor top = std::get<1>(logits.topk(k, 1));
    const torch::Tensor hit = top.eq(y.unsqueeze(1));
    c1 += hit.select(1, 0).sum().item<int64_t>();
    c5 += hit.any(1).sum().item<int64_t>();
    t.images += batch.n;
    if (observer) observer->evaluating(stage, batch.index + 1, loader.num_batches());
  }
  if (t.images > 0) {
    t.loss = loss_sum / static_cast<double>(t.images);
    t.top1 = 100.0 * static_cast<double>(c1) / static_cast<double>(t.images);
    t.top5 = 100.0 * static_cast<double>(c5) / static_cast<double>(t.images);
  }
  return t;
}

std::vector<LayerFormat> layer_formats(NetImpl& model) {
  std::vector<LayerFormat> out;
  if (model.options().quant.mode != Mode::kFixed) return out;
  torch::NoGradGuard no_grad;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    LayerFormat f;
    f.name = item.key();
    std::vector<int> wfl;
    if (const auto* conv = dynamic_cast<const QConvBNImpl*>(item.value().get())) {
      f.kind = conv->options().depthwise() ? "depthwise" : "conv";
      f.input_fl = conv->input_fl_used();
      f.input_signed = conv->input_signed();
      f.input_raw = conv->input_kind() == InputKind::kRaw01;
      wfl = conv->integer_codes().weight_fl;
    } else if (const auto* fc = dynamic_cast<const QLinearImpl*>(item.value().get())) {
      f.kind = "fc";
      f.input_fl = fc->input_fl_used();
      f.input_signed = fc->input_signed();
      wfl = fc->integer_codes().weight_fl;
    } else {
      continue;
    }
    if (!wfl.empty()) {
      f.weight_fl_min = *std::min_element(wfl.begin(), wfl.end());
      f.weight_fl_max = *std::max_element(wfl.begin(), wfl.end());
    }
    out.push_back(f);
  }
  return out;
}

}  // namespace f8net::qat::detail
