// eval_model_main(): opens the test split with f8net_data, checks it against the model (channels,
// size, labels) before any image is run, brings each image to the model's input
// (data::model_eval_transform: as it is for fixed-size data, shorter-side resize + center crop
// for ImageFolder), converts it with the model's preprocessing, runs the interpreter on batches
// of 64 (Interpreter::run_batch) and counts top-1/top-5 hits. images_per_second covers decoding,
// preprocessing and the run.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <random>
#include <vector>

#include "cli-util.h"
#include "commands.h"
#include "eval-model.h"
#include "f8net/data/error.h"
#include "f8net/data/open-dataset.h"
#include "f8net/data/transform.h"
#include "f8net/rt/preprocess.h"

namespace f8net::cli {
namespace {

// Every label must be one of the model's classes. (Class names are not compared: hand-built and
// imported models carry names of their own; the .f8's name says what it was trained on.)
void check_labels(const data::Dataset& ds, int classes) {
  for (int64_t i = 0; i < ds.size(); ++i) {
    if (ds.label(i) >= classes) {
      throw Error("eval: label " + std::to_string(ds.label(i)) + " of image " + std::to_string(i) +
                  " is outside the model's " + std::to_string(classes) + " classes");
    }
  }
}

}  // namespace

int eval_model_main(const EvalModelArgs& args) {
  if (args.model.empty()) throw UsageError("eval: --model is empty");
  if (args.data.val_limit < 0) throw UsageError("eval: --limit must be >= 0");
  if (args.data.resize < 0) throw UsageError("eval: --resize must be >= 0");
  rt::Interpreter it;
  load_interpreter(args.model, args.threads, &it);
  const rt::ModelDef& m = it.model();
  const rt::Shape in = m.input.shape;
  const int classes = it.output().shape.c;
  std::shared_ptr<const data::Dataset> ds;
  data::TransformOptions fit;
  try {
    ds = data::open_dataset(args.data, data::Split::kVal);
    fit = data::model_eval_transform(*ds, in.c, in.h, in.w, m.metadata.preprocessing.replicate_gray,
                                     args.data.resize);
  } catch (const data::DataError& e) {
    throw Error(std::string("eval: ") + e.what());
  }
  // An accuracy over no image is not a result (it used to print 0 % with exit 0).
  if (ds->size() == 0) throw Error("eval: " + ds->description() + ": the test set has no images");
  check_labels(*ds, classes);

  const int64_t n = ds->size();
  int64_t top1 = 0, top5 = 0;
  const auto start = std::chrono::steady_clock::now();
  constexpr int64_t kBatch = 64;
  const size_t in_bytes = it.input().bytes();
  const rt::TensorView out_view = it.output();
  const size_t out_count = static_cast<size_t>(out_view.shape.elements());
  std::vector<uint8_t> codes(in_bytes * kBatch);
  std::vector<int32_t> logits(out_count * kBatch);
  std::vector<uint8_t> planar(static_cast<size_t>(fit.out_channels * fit.size * fit.size));
  data::Image image, fitted;
  std::mt19937_64 unused_rng(0);  // an evaluation fit draws nothing
  for (int64_t first = 0; first < n; first += kBatch) {
    const int64_t count = std::min<int64_t>(kBatch, n - first);
    for (int64_t b = 0; b < count; ++b) {
      try {
        ds->image(first + b, image);
      } catch (const data::DataError& e) {
        throw Error(std::string("eval: ") + e.what());
      }
      data::fit_image(image, fit, unused_rng, fitted);
      data::to_planar(fitted, planar.data());
      const rt::Status s = rt::image_to_codes(planar.data(), static_cast<int32_t>(fitted.channels),
                                              m.input, m.metadata.preprocessing,
                                              codes.data() + static_cast<size_t>(b) * in_bytes);
      if (!s.is_ok()) throw Error("eval: image " + std::to_string(first + b) + ": " + s.message());
    }
    const rt::Status s = it.run_batch(codes.data(), static_cast<size_t>(count), logits.data());
    if (!s.is_ok()) throw Error("eval: images from " + std::to_string(first) + ": " + s.message());
    for (int64_t b = 0; b < count; ++b) {
      rt::TensorView one = out_view;
      one.data = logits.data() + static_cast<size_t>(b) * out_count;
      const std::vector<int> best = top_k(one, 5);
      const int64_t label = ds->label(first + b);
      if (best[0] == label) ++top1;
      for (int k : best) top5 += k == label ? 1 : 0;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double pct1 = 100.0 * static_cast<double>(top1) / static_cast<double>(n);
  const double pct5 = 100.0 * static_cast<double>(top5) / static_cast<double>(n);
  const double ips = seconds > 0 ? static_cast<double>(n) / seconds : 0.0;
  char figures[160];
  std::snprintf(figures, sizeof(figures),
                "top-1 %.2f%%, top-5 %.2f%%, %lld images, %.1f images/s (%d threads)", pct1, pct5,
                static_cast<long long>(n), ips, it.num_threads());
  std::cout << args.model << " on " << ds->description() << ": " << figures << "\n";
  if (args.json) {
    // Percentages to 4 decimals and rates to 2 (what the earlier printf wrote), so that a
    // script reading the line sees 91.37, not 91.37000000000001.
    const auto fixed = [](double v, double scale) { return std::round(v * scale) / scale; };
    const nlohmann::json j = {{"model", args.model},
                              {"top1", fixed(pct1, 1e4)},
                              {"top5", fixed(pct5, 1e4)},
                              {"images", n},
                              {"images_per_second", fixed(ips, 1e2)},
                              {"threads", it.num_threads()},
                              {"runtime", "f8net_rt"}};
    std::cout << json_text(j) << "\n";
  }
  std::cout.flush();
  return 0;
}

}  // namespace f8net::cli
