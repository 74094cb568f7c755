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

// Adds the summed loss, top-1 and top-5 hits of batch samples [part.begin, part.end).
void accumulate(NetImpl& model, data::Batch& batch, Slice part, double* loss_sum, double* c1,
                double* c5) {
  const torch::Device device = model_device(model);
  const torch::Tensor y = torch::from_blob(batch.labels.data(), {batch.n}, torch::kLong)
                              .narrow(0, part.begin, part.size())
                              .to(device);
  const torch::Tensor x = batch_images(batch).narrow(0, part.begin, part.size()).to(device);
  const torch::Tensor logits = model.forward(x).to(torch::kFloat);
  // The loss on training-scale logits (fixed mode: times s_fc ws, F8NET.md decision 2).
  const auto sum = torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum);
  *loss_sum +=
      torch::nn::functional::cross_entropy(logits * model.logit_scale(), y, sum).item<double>();
  const int64_t k = std::min<int64_t>(5, logits.size(1));
  const torch::Tensor top = std::get<1>(logits.topk(k, 1));
  const torch::Tensor hit = top.eq(y.unsqueeze(1));
  *c1 += static_cast<double>(hit.select(1, 0).sum().item<int64_t>());
  *c5 += static_cast<double>(hit.any(1).sum().item<int64_t>());
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
                    const std::atomic<int>* stop, DistGroup* shard) {
  // Every rank of a shard must reach the all-reduce: a per-rank stop could leave the others in it.
  TORCH_CHECK(!(stop && shard), "evaluate: a sharded evaluation takes no stop flag");
  model.eval();
  torch::NoGradGuard no_grad;
  data::BatchLoader loader(ds, transform, loader_options(data, batch_size));
  EvalTotals t;
  double loss_sum = 0, c1 = 0, c5 = 0, images = 0;  // counts below 2^53: exact in double
  data::Batch batch;
  while (loader.next(batch)) {
    if (stop && stop->load()) {
      t.interrupted = true;
      return t;
    }
    // This rank's samples of the batch (all of them in a single process). In evaluation mode a
    // sample's logits do not depend on the other samples (up to the float rounding of kernels
    // chosen by batch size), so the slices add up to the whole batch.
    const Slice part =
        shard ? rank_slice(batch.n, shard->rank(), shard->world_size()) : Slice{0, batch.n};
    if (part.size() > 0) accumulate(model, batch, part, &loss_sum, &c1, &c5);
    images += static_cast<double>(part.size());
    if (observer) observer->evaluating(stage, batch.index + 1, loader.num_batches());
  }
  if (shard) {  // the whole set's totals on every rank
    std::vector<torch::Tensor> v{torch::tensor({loss_sum, c1, c5, images}, torch::kDouble)};
    shard->all_reduce_sum(v, "the evaluation totals");
    const auto a = v[0].accessor<double, 1>();
    loss_sum = a[0], c1 = a[1], c5 = a[2], images = a[3];
  }
  t.images = static_cast<int64_t>(images);
  if (t.images > 0) {
    t.loss = loss_sum / images;
    t.top1 = 100.0 * c1 / images;
    t.top5 = 100.0 * c5 / images;
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
