// Implementation of verify.h. Logits are compared as exact doubles: the runtime's int32 logit
// times 2^-FL is exact in double, and so is the exact evaluation's float64 result.
#include "f8net/qat/verify.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "f8net/data/batch-loader.h"
#include "f8net/fixed.h"
#include "f8net/qat/checkpoint.h"
#include "f8net/qat/export.h"
#include "f8net/rt/logits.h"

namespace f8net::qat {
namespace {

// Index of the first maximum of n values.
template <typename T>
int64_t argmax(const T* v, int64_t n) {
  int64_t best = 0;
  for (int64_t k = 1; k < n; ++k) {
    if (v[k] > v[best]) best = k;
  }
  return best;
}

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

}  // namespace

void runtime_input_codes(const float* x, int64_t count, const rt::InputDef& input, bool raw01,
                         void* codes) {
  const fixed::Format f{8, raw01 ? 0 : input.fl, input.dtype == rt::DType::kInt8};
  for (int64_t i = 0; i < count; ++i) {
    const int32_t c = fixed::quantize(raw01 ? 255.0 * x[i] : static_cast<double>(x[i]), f);
    if (f.is_signed) {
      static_cast<int8_t*>(codes)[i] = static_cast<int8_t>(c);
    } else {
      static_cast<uint8_t*>(codes)[i] = static_cast<uint8_t>(c);
    }
  }
}

VerifyReport verify_runtime(const CheckpointModel& cm, rt::Interpreter& runtime,
                            const VerifyOptions& options) {
  if (cm.options.quant.mode != Mode::kFixed) {
    fail("the checkpoint is a " + cm.mode + " model, not fixed-point");
  }
  const rt::InputDef& in = runtime.model().input;
  const int64_t channels = cm.options.in_channels, size = cm.options.input_size;
  if (in.shape.c != channels || in.shape.h != size || in.shape.w != size) {
    fail("the model takes " + std::to_string(in.shape.c) + "x" + std::to_string(in.shape.h) + "x" +
         std::to_string(in.shape.w) + " input but the checkpoint's model takes " +
         std::to_string(channels) + "x" + std::to_string(size) + "x" + std::to_string(size));
  }
  const bool raw01 = runtime.model().metadata.preprocessing.mode == rt::Preprocess::kRaw01;
  if (raw01 == cm.options.quant.normalize_input) {
    fail("the model and the checkpoint disagree on input normalization");
  }
  const int64_t classes = cm.options.num_classes;

  data::LoaderOptions lo;
  lo.batch_size = options.batch;
  lo.workers = cm.config.data.workers;
  lo.prefetch = cm.config.data.prefetch;
  data::BatchLoader loader(cm.val, cm.val_transform, lo);
  torch::NoGradGuard no_grad;
  VerifyReport n;
  data::Batch batch;
  const int64_t per_image = channels * size * size;
  std::vector<double> got(static_cast<size_t>(classes));
  while ((options.limit == 0 || n.images < options.limit) && loader.next(batch)) {
    const int64_t take = options.limit > 0 ? std::min(batch.n, options.limit - n.images) : batch.n;
    const torch::Tensor x =
        torch::from_blob(batch.images.data(), {batch.n, batch.c, batch.h, batch.w}, torch::kFloat)
            .narrow(0, 0, take);
    torch::Tensor exact, sim;
    try {
      exact = exact_eval(*cm.model, x).contiguous();
      sim = cm.model->forward(x).to(torch::kDouble).contiguous();
    } catch (const c10::Error& e) {
      fail("LibTorch: " + torch_error_line(e));
    }
    for (int64_t i = 0; i < take; ++i) {
      runtime_input_codes(batch.images.data() + i * per_image, per_image, in, raw01,
                          runtime.input_data());
      const rt::Status st = runtime.run();
      if (!st) fail(st.message());
      const rt::TensorView out = runtime.output();
      if (out.shape.elements() != classes) {
        fail("the model has " + std::to_string(out.shape.elements()) +
             " outputs but the checkpoint's model has " + std::to_string(classes));
      }
      for (int64_t k = 0; k < classes; ++k) {
        got[static_cast<size_t>(k)] = rt::logit_value(out, static_cast<int>(k));
      }
      const double* e = exact.data_ptr<double>() + i * classes;
      const double* s = sim.data_ptr<double>() + i * classes;
      int64_t same = 0;
      for (int64_t k = 0; k < classes; ++k) same += got[static_cast<size_t>(k)] == e[k];
      const int64_t label = batch.labels[static_cast<size_t>(i)];
      const int64_t top_rt = argmax(got.data(), classes);
      ++n.images;
      n.logits += classes;
      n.logits_bit_exact += same;
      n.bit_exact += same == classes;
      n.top1_agree += top_rt == argmax(e, classes);
      n.top1_agree_float32 += top_rt == argmax(s, classes);
      n.correct_runtime += top_rt == label;
      n.correct_exact += argmax(e, classes) == label;
      n.correct_float32 += argmax(s, classes) == label;
    }
    if (options.progress) options.progress(batch.index + 1, loader.num_batches());
  }
  return n;
}

}  // namespace f8net::qat
