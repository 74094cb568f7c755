// Evaluating and re-calibrating checkpoints (evaluation.h).
#include "f8net/qat/evaluation.h"

#include <algorithm>
#include <stdexcept>

#include "evaluation-loop.h"
#include "f8net/qat/checkpoint-model.h"
#include "f8net/qat/checkpoint.h"
#include "one-line-errors.h"

namespace f8net::qat {

using detail::calibrate_bn;
using detail::EvalTotals;
using detail::evaluate;
using detail::layer_formats;
using detail::one_line_errors;

EvalResult evaluate_checkpoint(const EvalOptions& options) {
  CheckpointModel cm = open_checkpoint_model(options.checkpoint, options.data_dir, options.threads);
  return one_line_errors([&] {
    const int64_t batch_size = std::max<int64_t>(cm.config.train.batch_size, 64);
    const EvalTotals t = evaluate(*cm.model, cm.val, cm.val_transform, cm.config.data, batch_size,
                                  "eval", options.observer, nullptr);
    EvalResult r;
    r.top1 = t.top1;
    r.top5 = t.top5;
    r.loss = t.loss;
    r.images = t.images;
    r.arch = cm.options.arch;
    r.mode = cm.mode;
    r.stage = cm.stage;
    r.dataset = cm.config.data.dataset;
    r.layers = layer_formats(*cm.model);
    return r;
  });
}

CalibrateResult calibrate_checkpoint(const CalibrateOptions& options) {
  if (options.out.empty()) throw std::runtime_error("calibrate: no output checkpoint given");
  if (options.batches < 1) throw std::runtime_error("calibrate: batches must be >= 1");
  CheckpointModel cm = open_checkpoint_model(options.checkpoint, options.data_dir, options.threads);
  const auto train = open_dataset(cm.config.data, Split::kTrain);
  const int64_t batch_size =
      options.batch_size > 0 ? options.batch_size : cm.config.train.batch_size;
  CalibrateResult r;
  r.before = evaluate(*cm.model, cm.val, cm.val_transform, cm.config.data, batch_size, "calibrate",
                      options.observer, nullptr)
                 .top1;
  r.images = calibrate_bn(*cm.model, train, make_transform(cm.config.data, *train, false),
                          cm.config.data, batch_size, options.batches);
  r.after = evaluate(*cm.model, cm.val, cm.val_transform, cm.config.data, batch_size, "calibrate",
                     options.observer, nullptr)
                .top1;
  const CheckpointInfo info = read_checkpoint_info(options.checkpoint);
  save_checkpoint(options.out, *cm.model, nullptr, info.meta_json, info.config_yaml);
  return r;
}

}  // namespace f8net::qat
